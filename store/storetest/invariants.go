package storetest

import (
	"math/big"
	"testing"

	"github.com/go-consolidate/consolidate"
)

// pageSize is how many transactions CheckInvariants reads at a time.
const pageSize = 100

// CheckInvariants asserts the money rules' account invariants for each
// account: 0 ≤ available ≤ current, and current − available equals the sum
// of amount + fee_total over the account's PENDING transactions. It reads
// the account and then its transactions, so call it when no other
// goroutine is changing them.
func CheckInvariants(t testing.TB, s consolidate.Store, accountIDs ...int64) {
	t.Helper()
	ctx := t.Context()
	for _, id := range accountIDs {
		a, err := s.Account(ctx, id)
		if err != nil {
			t.Errorf("invariants: Account(%d): %v", id, err)
			continue
		}
		if a.Available == nil || a.Current == nil {
			t.Errorf("invariants: account %d: nil balance (available %v, current %v)", id, a.Available, a.Current)
			continue
		}
		if a.Available.Sign() < 0 || a.Available.Cmp(a.Current) > 0 {
			t.Errorf("invariants: account %d: want 0 ≤ available ≤ current, have available %s, current %s", id, a.Available, a.Current)
		}

		held := new(big.Int)
		pending := 0
		before := int64(0)
		for {
			page, err := s.Transactions(ctx, id, before, pageSize)
			if err != nil {
				t.Errorf("invariants: Transactions(%d): %v", id, err)
				break
			}
			for _, tx := range page {
				if before > 0 && tx.ID >= before {
					t.Errorf("invariants: account %d: Transactions(before=%d) returned ID %d", id, before, tx.ID)
					return
				}
				before = tx.ID
				if tx.Status == consolidate.StatusPending {
					pending++
					held.Add(held, tx.Amount)
					held.Add(held, tx.FeeTotal)
				}
			}
			if len(page) < pageSize {
				break
			}
		}
		if diff := new(big.Int).Sub(a.Current, a.Available); diff.Cmp(held) != 0 {
			t.Errorf("invariants: account %d: current − available = %s, but its %d pending transactions hold %s",
				id, diff, pending, held)
		}
	}
}
