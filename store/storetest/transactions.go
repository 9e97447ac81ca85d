package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/go-consolidate/consolidate"
)

func txIDs(txs []consolidate.Transaction) []int64 {
	ids := make([]int64, len(txs))
	for i, tx := range txs {
		ids[i] = tx.ID
	}
	return ids
}

func testTransactions(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 10*hold)
	b := fund(t, s, 10*hold)
	empty := fund(t, s, 0)
	var mine []int64 // a's, oldest first
	for i := range 5 {
		mine = append(mine, mustSubmit(t, s, transfer(a.ID)).ID)
		if i%2 == 0 {
			mustSubmit(t, s, transfer(b.ID))
		}
	}
	slices.Reverse(mine) // newest first, as listed

	for _, tc := range []struct {
		before int64
		limit  int
		want   []int64
	}{
		{0, 10, mine},
		{0, 2, mine[:2]},
		{mine[1], 2, mine[2:4]},
		{mine[3], 2, mine[4:]},
		{mine[4], 2, nil},
		{mine[0] + 1000, 1, mine[:1]},
		{0, 0, nil},
	} {
		got, err := s.Transactions(ctx, a.ID, tc.before, tc.limit)
		if err != nil {
			t.Fatalf("Transactions(before %d, limit %d): %v", tc.before, tc.limit, err)
		}
		if ids := txIDs(got); !slices.Equal(ids, tc.want) {
			t.Errorf("Transactions(before %d, limit %d) = %v, want %v", tc.before, tc.limit, ids, tc.want)
		}
	}

	// Listed rows are complete, not summaries.
	got, err := s.Transactions(ctx, a.ID, 0, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("Transactions = %d, %v", len(got), err)
	}
	if d := diffTx(got[0], mustTransaction(t, s, mine[0])); d != "" {
		t.Errorf("listed transaction differs from Transaction: %s", d)
	}

	if got, err := s.Transactions(ctx, empty.ID, 0, 10); err != nil || len(got) != 0 {
		t.Errorf("Transactions(account without any) = %d, %v; want none", len(got), err)
	}
	if _, err := s.Transactions(ctx, empty.ID+1000, 0, 10); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Transactions(unknown account) error = %v, want ErrNotFound", err)
	}
	CheckInvariants(t, s, a.ID, b.ID, empty.ID)
}
