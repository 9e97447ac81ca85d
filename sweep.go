package consolidate

import (
	"context"
	"fmt"
	"time"
)

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
			return total, wrap("sweep enqueue", err)
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
