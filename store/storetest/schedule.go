package storetest

import (
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

func wantDue(t *testing.T, s consolidate.Store, at time.Time, limit int, want ...int64) {
	t.Helper()
	got, err := s.Due(t.Context(), at, 0, limit)
	if err != nil {
		t.Fatalf("Due: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Due(t0%+v, %d) = %v, want %v", at.Sub(t0), limit, got, want)
	}
}

func testReschedule(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	next := t0.Add(10 * time.Minute)
	if err := s.Reschedule(t.Context(), tx.ID, 3, next); err != nil {
		t.Fatalf("Reschedule: %v", err)
	}
	got := mustTransaction(t, s, tx.ID)
	if got.Checks != 3 || !got.NextCheckAt.Equal(next) || got.Status != consolidate.StatusPending {
		t.Errorf("after Reschedule: checks %d, next %v, status %s; want 3, %v, PENDING", got.Checks, got.NextCheckAt, got.Status, next)
	}
	if got.Version != tx.Version {
		t.Errorf("Reschedule changed Version from %d to %d", tx.Version, got.Version)
	}
	wantDue(t, s, next.Add(-time.Nanosecond), 10)
	wantDue(t, s, next, 10, tx.ID)

	if err := s.Reschedule(t.Context(), tx.ID+1000, 1, next); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Reschedule(unknown) error = %v, want ErrNotFound", err)
	}
	settled, err := s.Settle(t.Context(), tx.ID, mined(consolidate.OutcomeSuccess))
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if err := s.Reschedule(t.Context(), tx.ID, 4, next); !errors.Is(err, consolidate.ErrNotPending) {
		t.Errorf("Reschedule(settled) error = %v, want ErrNotPending", err)
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), settled); d != "" {
		t.Errorf("Reschedule changed a settled transaction: %s", d)
	}
	wantDue(t, s, next.Add(time.Hour), 10)
}

func wantParked(t *testing.T, s consolidate.Store, at time.Time, want ...int64) {
	t.Helper()
	got, err := s.Parked(t.Context(), at, 0, 10)
	if err != nil {
		t.Fatalf("Parked: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Parked(t0%+v) = %v, want %v", at.Sub(t0), got, want)
	}
}

func testPark(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	other := mustSubmit(t, s, transfer(a.ID))
	events := len(unsent(t, s))
	next := t0.Add(time.Hour)
	if err := s.Park(t.Context(), tx.ID, next); err != nil {
		t.Fatalf("Park: %v", err)
	}
	got := mustTransaction(t, s, tx.ID)
	if !got.NextCheckAt.Equal(next) || got.Status != consolidate.StatusPending || got.Version != tx.Version {
		t.Errorf("after Park: next %v, status %s, version %d; want %v, PENDING, %d", got.NextCheckAt, got.Status, got.Version, next, tx.Version)
	}
	// A parked transaction is still checked, on its slow schedule.
	wantDue(t, s, next.Add(-time.Nanosecond), 10, other.ID)
	wantDue(t, s, next, 10, tx.ID, other.ID)
	wantParked(t, s, next.Add(-time.Nanosecond))
	wantParked(t, s, next, tx.ID)
	// Parking holds on to the money: only a final outcome releases it.
	wantBalances(t, s, a.ID, big.NewInt(3*hold), big.NewInt(5*hold))

	evs := unsent(t, s)
	if len(evs) != events+1 {
		t.Fatalf("Park wrote %d events, want 1", len(evs)-events)
	}
	if e := evs[len(evs)-1]; e.Type != consolidate.EventDeadLettered || e.TransactionID != tx.ID || e.AccountID != a.ID || e.Status != consolidate.StatusPending {
		t.Errorf("event = %+v, want %s for transaction %d, PENDING", e, consolidate.EventDeadLettered, tx.ID)
	}
	// A redelivered dead-letter step, or a slow check that finds it not
	// final yet, moves its next check without announcing it again.
	later := next.Add(time.Hour)
	if err := s.Park(t.Context(), tx.ID, later); err != nil {
		t.Errorf("Park of a parked transaction: %v", err)
	}
	if n := len(unsent(t, s)); n != len(evs) {
		t.Errorf("Park of a parked transaction wrote %d events, want 0", n-len(evs))
	}
	wantParked(t, s, next)
	wantParked(t, s, later, tx.ID)

	// An operator can put it back on the regular schedule.
	if err := s.Reschedule(t.Context(), tx.ID, 0, t0); err != nil {
		t.Fatalf("Reschedule: %v", err)
	}
	wantDue(t, s, t0, 10, tx.ID)
	wantParked(t, s, later)
	// Parked again after that, it is announced again.
	if err := s.Park(t.Context(), tx.ID, next); err != nil {
		t.Fatalf("Park: %v", err)
	}
	if n := len(unsent(t, s)); n != len(evs)+1 {
		t.Errorf("Park after Reschedule wrote %d events, want 1", n-len(evs))
	}

	if err := s.Park(t.Context(), tx.ID+1000, next); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Park(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Settle(t.Context(), tx.ID, dropped); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	wantParked(t, s, later)
	events = len(unsent(t, s))
	if err := s.Park(t.Context(), tx.ID, next); !errors.Is(err, consolidate.ErrNotPending) {
		t.Errorf("Park(settled) error = %v, want ErrNotPending", err)
	}
	if n := len(unsent(t, s)); n != events {
		t.Errorf("Park of a settled transaction wrote %d events", n-events)
	}
	CheckInvariants(t, s, a.ID)
}

func testDue(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 10*hold)
	wantDue(t, s, t0.Add(time.Hour), 10)
	// Submitted in this order, due in the order of their offsets.
	offsets := []time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute, 10 * time.Minute, 2 * time.Minute}
	ids := make([]int64, len(offsets))
	for i, off := range offsets {
		p := transfer(a.ID)
		p.NextCheckAt = t0.Add(off)
		ids[i] = mustSubmit(t, s, p).ID
	}
	wantDue(t, s, t0, 10)
	wantDue(t, s, t0.Add(5*time.Minute), 10, ids[0], ids[1], ids[2], ids[4])
	wantDue(t, s, t0.Add(5*time.Minute), 2, ids[0], ids[1])
	// Paging: after the last ID of a page comes the next page.
	if got, err := s.Due(t.Context(), t0.Add(5*time.Minute), ids[1], 10); err != nil || !slices.Equal(got, []int64{ids[2], ids[4]}) {
		t.Errorf("Due(after %d) = %v, %v; want %v", ids[1], got, err, []int64{ids[2], ids[4]})
	}
	wantDue(t, s, t0.Add(time.Hour), 0)

	if _, err := s.Settle(t.Context(), ids[2], mined(consolidate.OutcomeSuccess)); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if err := s.Park(t.Context(), ids[1], t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("Park: %v", err)
	}
	if err := s.Reschedule(t.Context(), ids[3], 1, t0.Add(30*time.Second)); err != nil {
		t.Fatalf("Reschedule: %v", err)
	}
	wantDue(t, s, t0.Add(time.Hour), 10, ids[0], ids[3], ids[4])
	CheckInvariants(t, s, a.ID)
}

func testSyncNonce(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 10*hold)
	if err := s.SyncNonce(t.Context(), sender, 10); err != nil {
		t.Fatalf("SyncNonce: %v", err)
	}
	wantNextNonce(t, s, a.ID, sender, 10)
	// Never lowers: not below a nonce it handed out, not to the same value.
	for _, n := range []uint64{5, 11} {
		if err := s.SyncNonce(t.Context(), sender, n); err != nil {
			t.Fatalf("SyncNonce(%d): %v", n, err)
		}
	}
	wantNextNonce(t, s, a.ID, sender, 11)
	if err := s.SyncNonce(t.Context(), sender, 3); err != nil {
		t.Fatalf("SyncNonce: %v", err)
	}
	wantNextNonce(t, s, a.ID, sender, 12)
	// Senders are independent.
	wantNextNonce(t, s, a.ID, sender2, 0)
	if err := s.SyncNonce(t.Context(), sender2, 7); err != nil {
		t.Fatalf("SyncNonce: %v", err)
	}
	wantNextNonce(t, s, a.ID, sender2, 7)
	wantNextNonce(t, s, a.ID, sender, 13)
	CheckInvariants(t, s, a.ID)
}
