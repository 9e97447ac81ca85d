package redis

import (
	"context"
	"sync"
)

// redisBatchMax bounds how many calls one combined script carries, so
// that no script holds the server for long.
const redisBatchMax = 128

// redisBatcher combines concurrent calls of one kind (Enqueue, or Ack,
// Retry and Bury) into one script run, as group commit combines writes:
// a call that arrives while a run is under way joins the next one. Many
// callers share round trips, and the server runs one script instead of
// many.
//
// Each call's own effects stay atomic, since a script is; what the calls
// of one run share is the round trip, and its error if it fails. A caller
// whose ctx ends while it waits gets ctx.Err(). A run leaves out the calls
// whose caller has gone by the time it starts; a call whose caller goes
// during the round trip takes effect, as it may when a context ends during
// any round trip, and is handed to undo, so that a Claim given up on does
// not keep its messages leased to nobody.
type redisBatcher[T any] struct {
	// run performs items in one round trip and returns one error per
	// item, in order.
	run func(ctx context.Context, items []T) []error
	// undo, if set, is given the items that run performed without error
	// after their callers had stopped waiting.
	undo func(ctx context.Context, items []T)

	mu      sync.Mutex
	pending []*redisCall[T]
	running bool
}

type redisCall[T any] struct {
	ctx  context.Context // the caller's: a run leaves the call out once it is done
	item T
	err  error
	done chan struct{} // closed under the batcher's mu
	gone bool          // the caller stopped waiting first; under the batcher's mu
}

// do performs item in a run and waits for its outcome. A caller that
// finds no run under way leads: it runs the pending calls itself, its own
// among them, with the values of its ctx but not its cancellation (go-redis
// does not abandon a round trip on cancellation either unless told to),
// then hands any calls that arrived meanwhile to a goroutine. A lone
// caller thus makes one round trip, as without batching.
func (b *redisBatcher[T]) do(ctx context.Context, item T) error {
	c := &redisCall[T]{ctx: ctx, item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if b.running {
		b.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			b.mu.Lock()
			defer b.mu.Unlock()
			if c.finished() {
				return c.err
			}
			c.gone = true
			return ctx.Err()
		}
	}
	b.running = true
	b.mu.Unlock()

	rctx := context.WithoutCancel(ctx)
	for !c.finished() {
		b.runNext(rctx)
	}
	b.mu.Lock()
	more := len(b.pending) > 0
	b.running = more
	b.mu.Unlock()
	if more {
		go b.drain(rctx)
	}
	return c.err
}

func (c *redisCall[T]) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// drain runs the pending calls until none is left.
func (b *redisBatcher[T]) drain(ctx context.Context) {
	for b.runNext(ctx) {
	}
}

// runNext runs up to redisBatchMax pending calls in one run. With none
// pending it ends the run under way and returns false.
func (b *redisBatcher[T]) runNext(ctx context.Context) bool {
	b.mu.Lock()
	n := min(len(b.pending), redisBatchMax)
	if n == 0 {
		b.running = false
		b.mu.Unlock()
		return false
	}
	calls := b.pending[:n:n]
	b.pending = b.pending[n:]
	if len(b.pending) == 0 {
		b.pending = nil // let the drained backing array go
	}
	b.mu.Unlock()

	live := calls[:0] // calls is no longer shared with pending
	b.mu.Lock()
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	b.mu.Unlock()
	if len(live) == 0 {
		return true
	}
	items := make([]T, len(live))
	for i, c := range live {
		items[i] = c.item
	}
	errs := b.run(ctx, items)
	var gone []T
	b.mu.Lock()
	for i, c := range live {
		c.err = errs[i]
		if c.gone && c.err == nil {
			gone = append(gone, c.item)
		}
		close(c.done)
	}
	b.mu.Unlock()
	if len(gone) > 0 && b.undo != nil {
		b.undo(ctx, gone)
	}
	return true
}
