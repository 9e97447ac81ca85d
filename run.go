package consolidate

import (
	"context"
	"errors"
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
// Config.EventQueues. Any number of Run loops, in any number of processes,
// may share one store and queue.
//
// When ctx is done, Run stops claiming, lets running tasks finish (each
// bounded by TaskTimeout) and returns nil. Errors along the way are logged
// and retried, never returned. To shut down: cancel ctx, wait for Run to
// return, then close the Store. A Service holds nothing else that needs
// closing.
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
		s.log.WarnContext(ctx, "consolidate: claim failed", "err", err)
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
			s.log.WarnContext(ctx, "consolidate: background pass failed", "err", err)
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

// enqueueReconcile schedules a check of transactions after delay.
func (s *Service) enqueueReconcile(ctx context.Context, delay time.Duration, ids ...int64) error {
	msgs := make([]Message, len(ids))
	for i, id := range ids {
		msgs[i] = Message{Queue: s.cfg.QueueName, ID: taskID(id), Body: []byte(strconv.FormatInt(id, 10)), Delay: delay}
	}
	return s.cfg.Queue.Enqueue(ctx, msgs...)
}

// handle runs a batch of reconcile tasks as one reconcile pass and
// decides the fate of each: ack when final, retry with backoff when not,
// dead letters when the budget is spent. A chain error fails the pass for
// every task in it, and each is retried as it would be on its own.
func (s *Service) handle(ctx context.Context, ds []Delivery) {
	tasks := make([]Delivery, 0, len(ds))
	ids := make([]int64, 0, len(ds))
	for _, d := range ds {
		id, err := parseTaskBody(d.Body)
		if err != nil {
			s.log.ErrorContext(ctx, "consolidate: reconcile task malformed", "task", d.ID, "attempt", d.Attempt, "err", err)
			s.bury(ctx, d, err.Error())
			continue
		}
		tasks, ids = append(tasks, d), append(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	cs := s.reconcile(ctx, ids)
	// Concurrently, so that the reschedules of a pass share a commit too.
	parallel(len(tasks), func(i int) { s.finish(ctx, tasks[i], ids[i], cs[i].tx, cs[i].err) })
}

// finish acks, retries or buries one task after its reconcile.
func (s *Service) finish(ctx context.Context, d Delivery, id int64, tx Transaction, err error) {
	log := s.log.With("task", d.ID, "attempt", d.Attempt)
	switch {
	case errors.Is(err, ErrNotFound) && tx.ID == 0:
		log.ErrorContext(ctx, "consolidate: reconcile task orphaned", "tx", id)
		s.bury(ctx, d, err.Error())
		return
	case err == nil && tx.Status.Final():
		if err := s.cfg.Queue.Ack(ctx, d); err != nil && !errors.Is(err, ErrLeaseLost) {
			log.WarnContext(ctx, "consolidate: ack failed", "err", err)
		}
		return
	case err != nil:
		log.WarnContext(ctx, "consolidate: reconcile failed", "tx", id, "err", err)
		if tx.ID == 0 {
			// The store could not even be read: try again soon, without
			// spending the budget on the store's outage.
			s.retry(ctx, d, s.cfg.Backoff.Base)
			return
		}
	}
	checks := tx.Checks + 1
	if checks >= s.cfg.Backoff.Checks {
		if err := s.park(ctx, id); err == nil {
			s.m.parked(ctx)
		} else if !errors.Is(err, ErrNotPending) {
			log.WarnContext(ctx, "consolidate: park failed", "tx", id, "err", err)
			s.retry(ctx, d, s.cfg.Backoff.Max)
			return
		}
		log.ErrorContext(ctx, "consolidate: reconcile budget spent", "tx", id, "status", tx.Status, "checks", checks, "next_check", s.cfg.ParkedCheckInterval)
		s.bury(ctx, d, fmt.Sprintf("not final after %d checks", checks))
		return
	}
	delay := jitter(s.cfg.Backoff.Delay(checks-1), s.cfg.Backoff.Jitter)
	if err := s.store.Reschedule(ctx, id, checks, time.Now().Add(delay)); err != nil && !errors.Is(err, ErrNotPending) {
		log.WarnContext(ctx, "consolidate: reschedule failed", "tx", id, "err", err)
	}
	s.retry(ctx, d, delay)
}

func (s *Service) retry(ctx context.Context, d Delivery, delay time.Duration) {
	// A lost lease means the task already went to another worker.
	if err := s.cfg.Queue.Retry(ctx, d, delay); err != nil && !errors.Is(err, ErrLeaseLost) {
		s.log.WarnContext(ctx, "consolidate: task retry failed", "task", d.ID, "err", err)
	}
}

func (s *Service) bury(ctx context.Context, d Delivery, reason string) {
	if err := s.cfg.Queue.Bury(ctx, d, reason); err != nil && !errors.Is(err, ErrLeaseLost) {
		s.log.WarnContext(ctx, "consolidate: task bury failed", "task", d.ID, "err", err)
	}
}
