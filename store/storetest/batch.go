package storetest

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// testBatchRead checks a BatchReader against Transaction and Attempts:
// the same rows in the order asked, duplicates and all, ErrNotFound for
// an unknown id, and no attempts for a reservation.
func testBatchRead(t *testing.T, s consolidate.Store) {
	br, ok := s.(consolidate.BatchReader)
	if !ok {
		t.Skip("the store does not read in batches")
	}
	ctx := t.Context()
	a := fund(t, s, 110*hold)
	bumped := mustSubmit(t, s, transfer(a.ID))
	if err := s.AddAttempt(ctx, bumped.ID, replacement(bumped.Nonce, quote(3e9, 40e9), false, t0.Add(time.Minute))); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	reserved := reserve(t, s, transfer(a.ID))
	settled := mustSubmit(t, s, transfer(a.ID))
	if _, err := s.Settle(ctx, settled.ID, consolidate.Settlement{
		Outcome: consolidate.OutcomeSuccess, FeeBlockchain: big.NewInt(21_000), BlockNumber: 9,
		BlockHash: common.HexToHash("0xb9"), At: t0.Add(time.Hour),
	}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	unknown := settled.ID + 1000

	ids := []int64{reserved.ID, unknown, bumped.ID, settled.ID, bumped.ID}
	got, err := br.TransactionsWithAttempts(ctx, ids)
	if err != nil {
		t.Fatalf("TransactionsWithAttempts: %v", err)
	}
	if len(got) != len(ids) {
		t.Fatalf("TransactionsWithAttempts returned %d entries for %d ids", len(got), len(ids))
	}
	for i, id := range ids {
		g := got[i]
		if id == unknown {
			if !errors.Is(g.Err, consolidate.ErrNotFound) {
				t.Errorf("entry %d (unknown id): Err = %v, want ErrNotFound", i, g.Err)
			}
			continue
		}
		if g.Err != nil {
			t.Errorf("entry %d (transaction %d): Err = %v", i, id, g.Err)
			continue
		}
		if d := diffTx(g.Transaction, mustTransaction(t, s, id)); d != "" {
			t.Errorf("entry %d: transaction %s", i, d)
		}
		if d := diffAttempts(g.Attempts, mustAttempts(t, s, id)); d != "" {
			t.Errorf("entry %d: transaction %d: %s", i, id, d)
		}
	}
	if n := len(got[0].Attempts); n != 0 {
		t.Errorf("a reservation has %d attempts, want none", n)
	}
	if n := len(got[2].Attempts); n != 2 {
		t.Errorf("the bumped transfer has %d attempts, want 2", n)
	}

	// A batch as large as a reconcile pass reads, and an empty one.
	var many []int64
	for range 100 {
		many = append(many, mustSubmit(t, s, transfer(a.ID)).ID)
	}
	if got, err = br.TransactionsWithAttempts(ctx, many); err != nil {
		t.Fatalf("TransactionsWithAttempts(100 ids): %v", err)
	}
	for i, g := range got {
		if g.Err != nil || g.Transaction.ID != many[i] || len(g.Attempts) != 1 {
			t.Errorf("entry %d: transaction %d with %d attempts (%v), want transaction %d with 1", i, g.Transaction.ID, len(g.Attempts), g.Err, many[i])
		}
	}
	if got, err = br.TransactionsWithAttempts(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("TransactionsWithAttempts(no ids) = %d entries, %v; want none", len(got), err)
	}
	CheckInvariants(t, s, a.ID)
}
