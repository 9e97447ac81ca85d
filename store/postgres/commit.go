package postgres

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/go-consolidate/consolidate"
)

// committer collects the Submits that arrive while a batch commits and
// runs them together: one transaction, two round trips and one WAL flush
// for the whole batch.
type committer struct {
	s        *Store
	maxBatch int
	wait     time.Duration
	// reqs is unbuffered: a Submit is either taken by the committer or
	// still with its caller, never stranded in a buffer at Close.
	reqs    chan *submitReq
	quit    chan struct{}
	stopped chan struct{}
	// carry holds the Submits put off to the next batch: those reusing an
	// idempotency key of an earlier Submit in their batch.
	carry []*submitReq
}

func startCommitter(s *Store, maxBatch int, wait time.Duration) *committer {
	c := &committer{
		s:        s,
		maxBatch: maxBatch,
		wait:     wait,
		reqs:     make(chan *submitReq),
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go c.run()
	return c
}

// stop lets the batch in progress (and what it carried over) finish and
// turns away queued Submits.
func (c *committer) stop() {
	close(c.quit)
	<-c.stopped
}

// submit hands r to the committer and waits for its answer. A ctx done
// before the committer takes r fails it, and nothing is applied; once
// taken, r's outcome is decided by its batch's commit, and submit waits
// for it so the answer is never a guess.
func (c *committer) submit(r *submitReq) submitResult {
	select {
	case c.reqs <- r:
	case <-r.ctx.Done():
		return submitResult{err: r.ctx.Err()}
	case <-c.quit:
		return submitResult{err: consolidate.ErrClosed}
	}
	return <-r.done
}

func (c *committer) run() {
	defer close(c.stopped)
	batch := make([]*submitReq, 0, c.maxBatch)
	for {
		// Carried Submits go first, so they cannot be put off again, and
		// before the committer stops, since they were taken.
		batch = append(batch[:0], c.carry...)
		clear(c.carry)
		c.carry = c.carry[:0]
		if len(batch) == 0 {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			case <-c.quit:
				return
			}
		}
		batch = c.gather(batch)
		c.commit(batch)
		clear(batch) // drop references to finished requests
	}
}

// gather adds the Submits waiting now, up to maxBatch, and those that
// arrive within wait.
func (c *committer) gather(batch []*submitReq) []*submitReq {
	var timeout <-chan time.Time
	if c.wait > 0 {
		t := time.NewTimer(c.wait)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < c.maxBatch {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
			continue
		default:
		}
		if timeout == nil {
			break
		}
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		case <-timeout:
			return batch
		case <-c.quit:
			return batch
		}
	}
	return batch
}

// commit runs the live requests of batch and answers each, keeping
// those to carry over. If the batch fails on a data error (one request's
// values breaking a constraint), each of its requests runs again on its
// own, so that the failure falls on the request that caused it alone.
func (c *committer) commit(batch []*submitReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- submitResult{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := whileWanted(live)
	defer cancel()
	results, err := c.runRetrying(ctx, live)
	if err != nil && len(live) > 1 && dataError(err) {
		for _, r := range live {
			results, err := c.runRetrying(ctx, []*submitReq{r})
			c.deliver(r, results, 0, err)
		}
		return
	}
	for i, r := range live {
		c.deliver(r, results, i, err)
	}
}

// deliver answers r with results[i], or err if the batch failed.
func (c *committer) deliver(r *submitReq, results []submitResult, i int, err error) {
	if err != nil {
		r.done <- submitResult{err: err}
		return
	}
	if results[i].carry {
		c.carry = append(c.carry, r)
		return
	}
	r.done <- results[i]
}

// runRetrying runs a batch, again when PostgreSQL aborted it as a
// deadlock victim or a serialization failure: it was rolled back whole.
func (c *committer) runRetrying(ctx context.Context, reqs []*submitReq) ([]submitResult, error) {
	for attempt := 1; ; attempt++ {
		began := time.Now()
		results, err := c.s.runBatch(ctx, reqs)
		c.s.m.ran(len(reqs), time.Since(began))
		if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return results, err
		}
		c.s.m.retried()
		time.Sleep(time.Duration(attempt) * time.Millisecond)
	}
}

// whileWanted returns a context that ends when every request's context
// has: the batch's statements stop once nobody waits for their outcome.
func whileWanted(reqs []*submitReq) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	left := atomic.Int64{}
	left.Store(int64(len(reqs)))
	stops := make([]func() bool, len(reqs))
	for i, r := range reqs {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
