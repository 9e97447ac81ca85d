package storetest

import (
	"errors"
	"math/big"
	"sync"
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

// BenchBatchRead measures what a reconcile pass of 64 tasks reads first:
// 64 transactions with their attempts. With by=transfer each is read with
// Transaction then Attempts, all 64 concurrently, as a Service reads from
// a store that is not a BatchReader; with by=batch one
// TransactionsWithAttempts call reads them (skipped when s is not a
// BatchReader). One op reads the 64.
func BenchBatchRead(b *testing.B, s consolidate.Store) {
	const n = 64
	a := fund(b, s, n*hold)
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = mustSubmit(b, s, transfer(a.ID)).ID
	}
	b.Run("by=transfer", func(b *testing.B) {
		errs := make([]error, n)
		for b.Loop() {
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() {
					_, err := s.Transaction(b.Context(), id)
					if err == nil {
						_, err = s.Attempts(b.Context(), id)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("by=batch", func(b *testing.B) {
		br, ok := s.(consolidate.BatchReader)
		if !ok {
			b.Skip("the store does not read in batches")
		}
		for b.Loop() {
			if _, err := br.TransactionsWithAttempts(b.Context(), ids); err != nil {
				b.Fatal(err)
			}
		}
	})
}
