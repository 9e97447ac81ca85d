package consolidate

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Run works in the background until ctx is done: it claims reconcile tasks
// and runs them on Config.Workers goroutines, sweeps PENDING transactions
// whose task was lost back into the queue (at start and every
// SweepInterval), checks parked transactions again (see
// Config.ParkedCheckInterval), and publishes outbox events to
// Config.EventQueues. Any
// number of Run loops, in any number of processes, may share one store and
// queue.
//
// When ctx is done, Run stops claiming, lets running tasks finish (each
// bounded by TaskTimeout) and returns nil. Errors along the way are logged
// and retried, never returned.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx) })
	}
	wg.Go(func() { s.every(ctx, s.cfg.SweepInterval, s.sweepOnce) })
	wg.Go(func() { s.watchParked(ctx) })
	if len(s.cfg.EventQueues) > 0 {
		wg.Go(func() { s.every(ctx, s.cfg.RelayInterval, s.relayOnce) })
	}
	wg.Wait()
	return nil
}

// work runs reconcile passes until ctx is done.
func (s *Service) work(ctx context.Context) {
	for ctx.Err() == nil {
		if s.pass(ctx) == 0 {
			sleep(ctx, s.cfg.PollInterval)
		}
	}
}

// pass claims up to ReconcileBatch tasks and reconciles them together. It
// returns how many it claimed.
func (s *Service) pass(ctx context.Context) int {
	ds, err := s.cfg.Queue.Claim(ctx, s.cfg.QueueName, s.cfg.ReconcileBatch, s.cfg.Lease)
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "consolidate: claim", "err", err)
	}
	if len(ds) == 0 {
		return 0
	}
	// A pass that started finishes even during shutdown, so its outcomes
	// are recorded rather than left to the leases.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.TaskTimeout)
	defer cancel()
	s.handle(tctx, ds)
	return len(ds)
}

// every runs f at once and then every interval until ctx is done.
func (s *Service) every(ctx context.Context, interval time.Duration, f func(context.Context) (int, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := f(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "consolidate: background pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// sweepBatch bounds one store read and one enqueue of the sweeper.
const sweepBatch = 500

// Sweep enqueues a reconcile task for every PENDING transaction whose
// check is overdue by more than SweepGrace, which is how a transaction
// whose task was lost (a crash between commit and enqueue, a queue
// restarted empty) is picked up again. Enqueueing a task that is still
// live is a no-op. Run calls it periodically; it returns how many
// transactions it enqueued.
func (s *Service) Sweep(ctx context.Context) (int, error) { return s.sweepOnce(ctx) }

func (s *Service) sweepOnce(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-s.cfg.SweepGrace)
	total, after := 0, int64(0)
	for {
		ids, err := s.store.Due(ctx, cutoff, after, sweepBatch)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		if err := s.enqueueReconcile(ctx, 0, ids...); err != nil {
			return total, fmt.Errorf("consolidate: sweep enqueue: %w", err)
		}
		total += len(ids)
		after = ids[len(ids)-1]
	}
}

// Requeue puts a PENDING transaction whose task was dead-lettered back to
// work, with a fresh check budget. It is an operator's action, after the
// cause (a node outage, an empty wallet) has been dealt with.
func (s *Service) Requeue(ctx context.Context, id int64) error {
	tx, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if tx.Status.Final() {
		return fmt.Errorf("%w: transaction %d is %s", ErrNotPending, id, tx.Status)
	}
	if err := s.store.Reschedule(ctx, id, 0, time.Now()); err != nil {
		return err
	}
	if err := s.cfg.Queue.Delete(ctx, s.cfg.QueueName, taskID(id)); err != nil {
		return err
	}
	return s.enqueueReconcile(ctx, 0, id)
}

// EventMessage is the JSON body of a published event. ID is stable across
// re-publishing, so consumers deduplicate on it.
type EventMessage struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	TransactionID int64  `json:"transaction_id"`
	AccountID     int64  `json:"account_id"`
	Status        Status `json:"status"`
	CreatedAt     string `json:"created_at"`
}

// relayBatch bounds the events published in one atomic enqueue.
const relayBatch = 100

// relayOnce publishes unsent outbox events to every event queue in one
// atomic enqueue, then marks them sent. A crash in between publishes them
// again; the message ID (the event ID) lets consumers drop the repeat.
func (s *Service) relayOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		evs, err := s.store.Events(ctx, relayBatch)
		if err != nil || len(evs) == 0 {
			return total, err
		}
		msgs := make([]Message, 0, len(evs)*len(s.cfg.EventQueues))
		ids := make([]int64, len(evs))
		for i, ev := range evs {
			ids[i] = ev.ID
			body, err := json.Marshal(EventMessage{
				ID: EventID(ev.ID), Type: ev.Type, TransactionID: ev.TransactionID,
				AccountID: ev.AccountID, Status: ev.Status, CreatedAt: ev.CreatedAt.UTC().Format(time.RFC3339Nano),
			})
			if err != nil {
				return total, err
			}
			for _, q := range s.cfg.EventQueues {
				msgs = append(msgs, Message{Queue: q, ID: EventID(ev.ID), Body: body})
			}
		}
		if err := s.cfg.Queue.Enqueue(ctx, msgs...); err != nil {
			return total, fmt.Errorf("consolidate: publish events: %w", err)
		}
		if err := s.store.MarkSent(ctx, ids); err != nil {
			return total, err
		}
		total += len(evs)
		if len(evs) < relayBatch {
			return total, nil
		}
	}
}

// EventID is the stable, published ID of an outbox event.
func EventID(id int64) string { return "evt_" + strconv.FormatInt(id, 10) }
