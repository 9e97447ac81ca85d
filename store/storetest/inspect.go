package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

func wantList(t *testing.T, s consolidate.Store, f consolidate.Filter, want ...int64) {
	t.Helper()
	txs, err := s.List(t.Context(), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	got := make([]int64, len(txs))
	for i, tx := range txs {
		got[i] = tx.ID
		if stored := mustTransaction(t, s, tx.ID); stored.Status != tx.Status || stored.Amount.Cmp(tx.Amount) != 0 || stored.Nonce != tx.Nonce {
			t.Errorf("List(%+v) row %d = %+v, stored %+v", f, tx.ID, tx, stored)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("List(%+v) = %v, want %v", f, got, want)
	}
}

// testList lists one settled, one parked and one pending transfer of one
// account beside another account's, by every filter and both orders.
func testList(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 5*hold)
	b := fund(t, s, 5*hold)
	done := mustSubmit(t, s, transfer(a.ID))
	parked := mustSubmit(t, s, transfer(a.ID))
	other := mustSubmit(t, s, transfer(b.ID))
	open := mustSubmit(t, s, transfer(a.ID))
	if _, err := s.Settle(t.Context(), done.ID, mined(consolidate.OutcomeSuccess)); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if err := s.Park(t.Context(), parked.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Park: %v", err)
	}
	all := []int64{open.ID, other.ID, parked.ID, done.ID}
	wantList(t, s, consolidate.Filter{Limit: 10}, all...)
	oldest := slices.Clone(all)
	slices.Reverse(oldest)
	wantList(t, s, consolidate.Filter{Limit: 10, Oldest: true}, oldest...)
	wantList(t, s, consolidate.Filter{Limit: 10, Status: consolidate.StatusPending}, open.ID, other.ID, parked.ID)
	wantList(t, s, consolidate.Filter{Limit: 10, Status: consolidate.StatusSuccessful}, done.ID)
	wantList(t, s, consolidate.Filter{Limit: 10, Status: consolidate.StatusFailed})
	wantList(t, s, consolidate.Filter{Limit: 10, Parked: true}, parked.ID)
	wantList(t, s, consolidate.Filter{Limit: 10, Parked: true, Status: consolidate.StatusPending}, parked.ID)

	// Pages follow the cursor in either order.
	wantList(t, s, consolidate.Filter{Limit: 2}, open.ID, other.ID)
	wantList(t, s, consolidate.Filter{Limit: 2, Cursor: other.ID}, parked.ID, done.ID)
	wantList(t, s, consolidate.Filter{Limit: 2, Cursor: done.ID})
	wantList(t, s, consolidate.Filter{Limit: 2, Oldest: true, Cursor: parked.ID}, other.ID, open.ID)
	wantList(t, s, consolidate.Filter{Limit: 1, Oldest: true, Status: consolidate.StatusPending}, parked.ID)
	wantList(t, s, consolidate.Filter{Limit: 0})
}

// testOverview counts pending and parked transfers and each sender's
// nonces, in address order.
func testOverview(t *testing.T, s consolidate.Store) {
	o, err := s.Overview(t.Context())
	if err != nil {
		t.Fatalf("Overview: %v", err)
	}
	if o.Pending != 0 || o.Parked != 0 || !o.OldestPending.IsZero() || len(o.Wallets) != 0 || o.Queue != nil {
		t.Fatalf("Overview of an empty store = %+v", o)
	}

	a := fund(t, s, 10*hold)
	first := mustSubmit(t, s, transfer(a.ID))
	later := transfer(a.ID)
	later.Now = t0.Add(time.Minute)
	second := mustSubmit(t, s, later)
	third := mustSubmit(t, s, later)
	p := transfer(a.ID)
	p.From, p.Now = sender2, t0.Add(2*time.Minute)
	fromOther := mustSubmit(t, s, p)
	idle := common.HexToAddress("0x1d1e000000000000000000000000000000000001")
	if err := s.SyncNonce(t.Context(), idle, 7); err != nil {
		t.Fatalf("SyncNonce: %v", err)
	}
	if _, err := s.Settle(t.Context(), first.ID, mined(consolidate.OutcomeSuccess)); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if err := s.Park(t.Context(), third.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Park: %v", err)
	}

	o, err = s.Overview(t.Context())
	if err != nil {
		t.Fatalf("Overview: %v", err)
	}
	if o.Pending != 3 || o.Parked != 1 {
		t.Errorf("Overview counts %d pending, %d parked; want 3, 1", o.Pending, o.Parked)
	}
	if want := mustTransaction(t, s, second.ID).CreatedAt; !o.OldestPending.Equal(want) {
		t.Errorf("OldestPending = %v, want %v (the second transfer's)", o.OldestPending, want)
	}
	want := []consolidate.WalletNonces{
		{Sender: idle, Next: 7},
		{Sender: sender2, Next: fromOther.Nonce + 1, Open: 1, LowestOpen: fromOther.Nonce},
		{Sender: sender, Next: third.Nonce + 1, Open: 2, LowestOpen: second.Nonce},
	}
	if !slices.Equal(o.Wallets, want) {
		t.Errorf("Wallets = %+v, want %+v", o.Wallets, want)
	}
}
