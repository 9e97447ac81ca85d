package storetest

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// testCancelledContext calls every method with a cancelled context: each
// fails with the context's error and changes nothing.
func testCancelledContext(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 10*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	events := unsent(t, s)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateAccount", func() error { _, err := s.CreateAccount(ctx, consolidate.NewAccount{}); return err }},
		{"Account", func() error { _, err := s.Account(ctx, a.ID); return err }},
		{"Credit", func() error { _, err := s.Credit(ctx, a.ID, big.NewInt(1), "cancelled"); return err }},
		{"Submit", func() error { _, _, err := s.Submit(ctx, transfer(a.ID), sign); return err }},
		{"AddAttempt", func() error {
			return s.AddAttempt(ctx, tx.ID, replacement(tx.Nonce, quote(3e9, 40e9), false, t0))
		}},
		{"Attempts", func() error { _, err := s.Attempts(ctx, tx.ID); return err }},
		{"Transaction", func() error { _, err := s.Transaction(ctx, tx.ID); return err }},
		{"Transactions", func() error { _, err := s.Transactions(ctx, a.ID, 0, 10); return err }},
		{"Settle", func() error { _, err := s.Settle(ctx, tx.ID, mined(consolidate.OutcomeSuccess)); return err }},
		{"Reschedule", func() error { return s.Reschedule(ctx, tx.ID, 5, t0.Add(time.Hour)) }},
		{"Park", func() error { return s.Park(ctx, tx.ID, t0.Add(time.Hour)) }},
		{"Due", func() error { _, err := s.Due(ctx, t0.Add(time.Hour), 0, 10); return err }},
		{"Parked", func() error { _, err := s.Parked(ctx, t0.Add(time.Hour), 0, 10); return err }},
		{"SyncNonce", func() error { return s.SyncNonce(ctx, sender, 100) }},
		{"Events", func() error { _, err := s.Events(ctx, 10); return err }},
		{"MarkSent", func() error { return s.MarkSent(ctx, []int64{events[0].ID}) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error = %v, want context.Canceled", c.name, err)
		}
	}

	wantBalances(t, s, a.ID, big.NewInt(9*hold), big.NewInt(10*hold))
	if n := len(mustAttempts(t, s, tx.ID)); n != 1 {
		t.Errorf("%d attempts, want 1 (the original)", n)
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), tx); d != "" {
		t.Errorf("transaction changed: %s", d)
	}
	if got := unsent(t, s); len(got) != len(events) {
		t.Errorf("events = %d, want %d", len(got), len(events))
	}
	if txs, err := s.Transactions(t.Context(), a.ID, 0, 10); err != nil || len(txs) != 1 {
		t.Errorf("Transactions = %d, %v; want 1", len(txs), err)
	}
	wantNextNonce(t, s, a.ID, sender, 1)
	// The cancelled credit's reference is still free.
	if _, err := s.Credit(t.Context(), a.ID, big.NewInt(2), "cancelled"); err != nil {
		t.Errorf("Credit with the cancelled credit's reference: %v", err)
	}
	CheckInvariants(t, s, a.ID)
}
