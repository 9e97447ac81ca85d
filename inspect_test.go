package consolidate_test

import (
	"errors"
	"math/big"
	"testing"

	"github.com/go-consolidate/consolidate"
)

// An operator sees a parked transfer in the listing, the counts and the
// dead letters, and the wallet's nonces and balance from the node.
func TestOperatorViews(t *testing.T) {
	t.Parallel()
	bc, e := parkedEnv(t, consolidate.Config{})
	acct := e.funded(wei(1e18))
	done := e.submit(acct.ID, alice, wei(1e17))
	e.mineUntilFinal(done.ID)
	ctx := t.Context()
	before, err := e.svc.Wallets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parked := e.submit(acct.ID, bob, wei(2e17))
	e.parkBlind(bc, parked)

	got, err := e.svc.List(ctx, consolidate.Filter{Parked: true, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != parked.ID {
		t.Fatalf("parked listing = %v, want transfer %d", txIDs(got), parked.ID)
	}
	got, err = e.svc.List(ctx, consolidate.Filter{Status: consolidate.StatusSuccessful, Limit: 10})
	if err != nil || len(got) != 1 || got[0].ID != done.ID {
		t.Fatalf("successful listing = %v, %v; want transfer %d", txIDs(got), err, done.ID)
	}

	o, err := e.svc.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Pending != 1 || o.Parked != 1 || o.Queue == nil || o.Queue.Dead != 1 {
		t.Fatalf("overview = %+v (queue %+v), want 1 pending, 1 parked, 1 dead letter", o, o.Queue)
	}

	after, err := e.svc.Wallets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || after[0].Sender != e.chain.Sender() {
		t.Fatalf("wallets = %+v, want the Service's own", after)
	}
	w := after[0]
	if w.Next != parked.Nonce+1 || w.Open != 1 || w.LowestOpen != parked.Nonce || w.Finalized != parked.Nonce+1 {
		t.Errorf("wallet = %+v, want next %d, 1 open at %d, finalized %d", w, parked.Nonce+1, parked.Nonce, parked.Nonce+1)
	}
	// The parked transfer was mined: the node's balance fell by at least
	// its amount.
	if w.Balance == nil || before[0].Balance == nil || new(big.Int).Sub(before[0].Balance, w.Balance).Cmp(wei(2e17)) < 0 {
		t.Errorf("balance went from %v to %v, want a fall of at least %v", before[0].Balance, w.Balance, wei(2e17))
	}
}

func TestListRefusesBadFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, f := range []consolidate.Filter{
		{},
		{Limit: 1001},
		{Limit: 10, Cursor: -1},
		{Limit: 10, Status: "LOST"},
		{Limit: 10, Parked: true, Status: consolidate.StatusFailed},
	} {
		if _, err := e.svc.List(t.Context(), f); !errors.Is(err, consolidate.ErrInvalidArgument) {
			t.Errorf("List(%+v) error = %v, want ErrInvalidArgument", f, err)
		}
	}
}

func txIDs(txs []consolidate.Transaction) []int64 {
	out := make([]int64, len(txs))
	for i, tx := range txs {
		out[i] = tx.ID
	}
	return out
}
