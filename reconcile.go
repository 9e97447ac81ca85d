package consolidate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Reconcile checks one transaction against the chain and settles it if it
// is final: SUCCESSFUL for a successful receipt, FAILED with the amount
// refunded and the fee charged for a reverted one. A transaction the node
// does not know (dropped, or never sent) is broadcast again from its stored
// bytes, which have the same hash. Reconcile is idempotent and safe to run
// concurrently for the same transaction: a settlement is applied once.
//
// It returns the transaction as it stands afterwards; a PENDING status
// means "check again later".
func (s *Service) Reconcile(ctx context.Context, id int64) (Transaction, error) {
	if err := ctx.Err(); err != nil {
		return Transaction{}, err
	}
	if id <= 0 {
		return Transaction{}, fmt.Errorf("%w: transaction %d", ErrNotFound, id)
	}
	tx, err := s.store.Transaction(ctx, id)
	if err != nil || tx.Status.Final() {
		return tx, err
	}
	st, err := s.chain.Status(ctx, tx.Hash)
	if err != nil {
		return tx, fmt.Errorf("consolidate: chain status of transaction %d: %w", id, err)
	}
	switch st.State {
	case TxUnknown:
		if err := s.chain.Broadcast(ctx, tx.Raw); err != nil {
			return tx, fmt.Errorf("consolidate: rebroadcast transaction %d: %w", id, err)
		}
		s.log.InfoContext(ctx, "consolidate: rebroadcast", "tx", id, "hash", tx.Hash)
		return tx, nil
	case TxFinal:
		return s.settle(ctx, tx, st)
	}
	return tx, nil
}

// settle applies a final receipt. A settlement that lost a race with
// another worker is not an error: the stored row is returned.
func (s *Service) settle(ctx context.Context, tx Transaction, st ChainStatus) (Transaction, error) {
	set := Settlement{
		Outcome:       OutcomeSuccess,
		FeeBlockchain: st.Fee,
		BlockNumber:   st.BlockNumber,
		BlockHash:     st.BlockHash,
		At:            time.Now(),
	}
	if !st.Success {
		set.Outcome = OutcomeReverted
	}
	settled, err := s.store.Settle(ctx, tx.ID, set)
	if err != nil && !errors.Is(err, ErrNotPending) {
		return tx, err
	}
	if err == nil {
		s.log.InfoContext(ctx, "consolidate: settled", "tx", tx.ID, "status", settled.Status, "block", st.BlockNumber)
	}
	s.fill(ctx, settled)
	return settled, nil
}

// enqueueReconcile schedules a check of transaction id after delay.
func (s *Service) enqueueReconcile(ctx context.Context, delay time.Duration, ids ...int64) error {
	msgs := make([]Message, len(ids))
	for i, id := range ids {
		msgs[i] = Message{Queue: s.cfg.QueueName, ID: taskID(id), Body: []byte(strconv.FormatInt(id, 10)), Delay: delay}
	}
	return s.cfg.Queue.Enqueue(ctx, msgs...)
}

// handle runs one reconcile task and decides its fate: ack when final,
// retry with backoff when not, dead letters when the budget is spent.
func (s *Service) handle(ctx context.Context, d Delivery) {
	log := s.log.With("task", d.ID, "attempt", d.Attempt)
	id, err := parseTaskBody(d.Body)
	if err != nil {
		log.ErrorContext(ctx, "consolidate: bad reconcile task", "err", err)
		s.bury(ctx, d, err.Error())
		return
	}
	tx, err := s.Reconcile(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		log.ErrorContext(ctx, "consolidate: reconcile task for a missing transaction", "tx", id)
		s.bury(ctx, d, err.Error())
		return
	case err == nil && tx.Status.Final():
		if err := s.cfg.Queue.Ack(ctx, d); err != nil && !errors.Is(err, ErrLeaseLost) {
			log.WarnContext(ctx, "consolidate: ack", "err", err)
		}
		return
	case err != nil:
		log.WarnContext(ctx, "consolidate: reconcile", "tx", id, "err", err)
		if tx.ID == 0 {
			// The store could not even be read: try again soon, without
			// spending the budget on the store's outage.
			s.retry(ctx, d, s.cfg.Backoff.Base)
			return
		}
	}
	checks := tx.Checks + 1
	if checks >= s.cfg.Backoff.Checks {
		if err := s.store.Park(ctx, id); err != nil && !errors.Is(err, ErrNotPending) {
			log.WarnContext(ctx, "consolidate: park", "tx", id, "err", err)
			s.retry(ctx, d, s.cfg.Backoff.Max)
			return
		}
		log.ErrorContext(ctx, "consolidate: reconcile budget spent, task dead-lettered; the transaction stays PENDING", "tx", id, "checks", checks)
		s.bury(ctx, d, fmt.Sprintf("not final after %d checks", checks))
		return
	}
	delay := jitter(s.cfg.Backoff.Delay(checks-1), s.cfg.Backoff.Jitter)
	if err := s.store.Reschedule(ctx, id, checks, time.Now().Add(delay)); err != nil && !errors.Is(err, ErrNotPending) {
		log.WarnContext(ctx, "consolidate: reschedule", "tx", id, "err", err)
	}
	s.retry(ctx, d, delay)
}

func (s *Service) retry(ctx context.Context, d Delivery, delay time.Duration) {
	// A lost lease means the task already went to another worker.
	if err := s.cfg.Queue.Retry(ctx, d, delay); err != nil && !errors.Is(err, ErrLeaseLost) {
		s.log.WarnContext(ctx, "consolidate: retry task", "task", d.ID, "err", err)
	}
}

func (s *Service) bury(ctx context.Context, d Delivery, reason string) {
	if err := s.cfg.Queue.Bury(ctx, d, reason); err != nil && !errors.Is(err, ErrLeaseLost) {
		s.log.WarnContext(ctx, "consolidate: bury task", "task", d.ID, "err", err)
	}
}
