package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-consolidate/consolidate"
)

// A parked transfer's reconcile task sits in the workers' queue as a dead
// letter, and the queue takes no new task with the same ID while it is
// there. Putting the transfer back to work therefore takes the queue as
// well as the ledger: the ledger alone would take it off the slow
// schedule of parked transfers while the workers' sweeper could not
// enqueue it, and nothing would check it any more. Without -redis the
// CLI cannot reach the queue; -ledger-only is for workers that use the
// in-process queue and are stopped, whose queue starts empty.

const ledgerOnlyUsage = "the workers' queue is in-process and they are stopped: reset the transfer in the ledger only, and the sweeper enqueues it when they start"

// queueRequired refuses to requeue without the workers' queue, unless
// the operator says there is none to reach.
func (c *cli) queueRequired(ledgerOnly bool) error {
	switch {
	case c.opts.redis == "" && !ledgerOnly:
		return usagef("requeueing a parked transfer takes the workers' queue, which holds its dead letter: give -redis URL (or %s); if the workers use the in-process queue, stop them and add -ledger-only", envRedis)
	case c.opts.redis != "" && ledgerOnly:
		return usagef("-ledger-only and -redis: give one")
	}
	return nil
}

type requeued struct {
	ID        int64  `json:"id"`
	WasParked bool   `json:"was_parked"`
	Queue     string `json:"queue"` // redis, or ledger-only
}

func runRequeue(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("requeue", "[flags] <id>")
	ledgerOnly := fs.Bool("ledger-only", false, ledgerOnlyUsage)
	id, err := c.oneID(fs, args, "transfer")
	if err != nil {
		return err
	}
	if err := c.queueRequired(*ledgerOnly); err != nil {
		return err
	}
	s, ctx, err := c.open(ctx, needs{})
	if err != nil {
		return err
	}
	defer s.close()
	tx, parked, err := pending(ctx, s.svc, id)
	if err != nil {
		return err
	}
	if err := s.svc.Requeue(ctx, tx.ID); err != nil {
		return fmt.Errorf("requeue transfer %d: %w", id, err)
	}
	r := requeued{ID: id, WasParked: parked, Queue: "redis"}
	if *ledgerOnly {
		r.Queue = "ledger-only"
	}
	if c.opts.json {
		return writeJSON(c.stdout, r)
	}
	what := "pending"
	if parked {
		what = "parked"
	}
	fmt.Fprintf(c.stdout, "requeued %s transfer %d: due now with a fresh check budget\n", what, id)
	if *ledgerOnly {
		fmt.Fprintln(c.stdout, "the workers' sweeper enqueues it when they start")
	}
	return nil
}

// pending reads transfer id and whether it is parked, and refuses a final
// one.
func pending(ctx context.Context, svc *consolidate.Service, id int64) (consolidate.Transaction, bool, error) {
	tx, err := svc.Get(ctx, id)
	if err != nil {
		return tx, false, notFound(err, "transfer", id)
	}
	if tx.Status.Final() {
		return tx, false, fmt.Errorf("transfer %d is already %s: %w", id, tx.Status, consolidate.ErrNotPending)
	}
	parked, err := isParked(ctx, svc, id)
	return tx, parked, err
}

type cancelled struct {
	ID        int64       `json:"id"`
	Status    string      `json:"status"`
	Requeued  bool        `json:"requeued"`
	Attempt   attemptView `json:"cancel_attempt"`
	WasParked bool        `json:"was_parked"`
}

func runCancel(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("cancel", "[flags] <id>")
	ledgerOnly := fs.Bool("ledger-only", false, "for a parked transfer: "+ledgerOnlyUsage)
	id, err := c.oneID(fs, args, "transfer")
	if err != nil {
		return err
	}
	s, ctx, err := c.open(ctx, needs{chain: true})
	if err != nil {
		return err
	}
	defer s.close()
	_, parked, err := pending(ctx, s.svc, id)
	if err != nil {
		return err
	}
	// Cancel puts the transfer back to work as requeue does.
	if parked {
		if err := c.queueRequired(*ledgerOnly); err != nil {
			return err
		}
	}
	tx, err := s.svc.Cancel(ctx, id)
	switch {
	case errors.Is(err, consolidate.ErrOtherWallet):
		return fmt.Errorf("transfer %d was signed by %s, and -key-file's wallet is %s: only that wallet can cancel it: %w", id, tx.From.Hex(), s.chain.Sender().Hex(), err)
	case err != nil:
		return fmt.Errorf("cancel transfer %d: %w", id, err)
	}
	attempts, err := s.store.Attempts(ctx, id)
	if err != nil {
		return err
	}
	var last consolidate.Attempt
	if n := len(attempts); n > 0 {
		last = attempts[n-1]
	}
	r := cancelled{ID: id, Status: string(tx.Status), Requeued: true, Attempt: newAttemptView(last), WasParked: parked}
	if c.opts.json {
		return writeJSON(c.stdout, r)
	}
	fmt.Fprintf(c.stdout, "cancel sent for transfer %d: %s\n", id, last.Hash.Hex())
	fmt.Fprintln(c.stdout, "whichever of its attempts lands decides: the cancel makes it FAILED with a full refund, the original SUCCESSFUL")
	return nil
}
