package storetest

import (
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

func testEvents(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 10*hold)
	if evs := unsent(t, s); len(evs) != 0 {
		t.Fatalf("events in a new store = %+v, want none", evs)
	}
	var txs []consolidate.Transaction
	for range 3 {
		txs = append(txs, mustSubmit(t, s, transfer(a.ID)))
	}
	evs := unsent(t, s)
	if len(evs) != 3 {
		t.Fatalf("events after 3 submits = %d, want 3", len(evs))
	}
	for i, e := range evs {
		if e.Type != consolidate.EventSubmitted || e.TransactionID != txs[i].ID {
			t.Errorf("event %d = %s for transaction %d, want %s for %d (oldest first)", i, e.Type, e.TransactionID, consolidate.EventSubmitted, txs[i].ID)
		}
		if i > 0 && e.ID <= evs[i-1].ID {
			t.Errorf("event IDs not increasing: %d after %d", e.ID, evs[i-1].ID)
		}
	}

	page, err := s.Events(ctx, 2)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(page) != 2 || page[0].ID != evs[0].ID || page[1].ID != evs[1].ID {
		t.Errorf("Events(limit 2) = %+v, want the two oldest", page)
	}
	if page, err := s.Events(ctx, 0); err != nil || len(page) != 0 {
		t.Errorf("Events(limit 0) = %+v, %v; want none", page, err)
	}

	if err := s.MarkSent(ctx, []int64{evs[0].ID, evs[1].ID}); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	// Marking twice, marking nothing and marking unknown IDs are harmless:
	// a relay retries.
	if err := s.MarkSent(ctx, []int64{evs[0].ID, evs[2].ID + 1000}); err != nil {
		t.Errorf("MarkSent(sent and unknown IDs): %v", err)
	}
	if err := s.MarkSent(ctx, nil); err != nil {
		t.Errorf("MarkSent(nil): %v", err)
	}
	rest := unsent(t, s)
	if len(rest) != 1 || rest[0].ID != evs[2].ID || rest[0].CreatedAt.IsZero() {
		t.Fatalf("events after MarkSent = %+v, want only event %d", rest, evs[2].ID)
	}

	if _, err := s.Settle(ctx, txs[0].ID, mined(consolidate.OutcomeSuccess)); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if err := s.Park(ctx, txs[1].ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Park: %v", err)
	}
	if _, err := s.Settle(ctx, txs[2].ID, dropped); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	want := []struct {
		typ    string
		txID   int64
		status consolidate.Status
	}{
		{consolidate.EventSubmitted, txs[2].ID, consolidate.StatusPending},
		{consolidate.EventSuccessful, txs[0].ID, consolidate.StatusSuccessful},
		{consolidate.EventDeadLettered, txs[1].ID, consolidate.StatusPending},
		{consolidate.EventFailed, txs[2].ID, consolidate.StatusFailed},
	}
	got := unsent(t, s)
	if len(got) != len(want) {
		t.Fatalf("events = %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if e := got[i]; e.Type != w.typ || e.TransactionID != w.txID || e.Status != w.status || e.AccountID != a.ID {
			t.Errorf("event %d = %+v, want %s for transaction %d, %s", i, e, w.typ, w.txID, w.status)
		}
	}
	ids := make([]int64, len(got))
	for i, e := range got {
		ids[i] = e.ID
	}
	if err := s.MarkSent(ctx, ids); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	if evs := unsent(t, s); len(evs) != 0 {
		t.Errorf("events after marking all sent = %+v, want none", evs)
	}
	CheckInvariants(t, s, a.ID)
}
