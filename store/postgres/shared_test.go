package postgres_test

import (
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestStoresShareDatabase runs Submits through several Stores on one
// database at once, as API processes on several hosts do, each with its
// own pool and committer: one hot account never overdraws, many accounts
// submit side by side, a key reused across Stores makes one transfer, and
// the wallet's nonces stay gap-free across all of them.
func TestStoresShareDatabase(t *testing.T) {
	t.Parallel()
	dsn := database(t, nil)
	stores := make([]*postgres.Store, 3)
	for i := range stores {
		stores[i] = open(t, dsn, nil)
	}
	const (
		k       = 25 // the hot account holds exactly this many transfers
		hotters = 90
		others  = 30
	)
	hot := fund(t, stores[0], 1, k*hold)[0]
	accts := fund(t, stores[1], others, 2*hold)
	keyed := fund(t, stores[2], 1, 10*hold)[0]

	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		accepted, rejected int
		keyedIDs           = map[int64]int{}
	)
	for i := range hotters {
		wg.Go(func() {
			_, _, err := stores[i%len(stores)].Submit(t.Context(), transfer(hot, fmt.Sprintf("hot-%d", i)), sign)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, consolidate.ErrInsufficientFunds):
				rejected++
			default:
				t.Errorf("hot Submit: %v", err)
			}
		})
	}
	for i, a := range accts {
		wg.Go(func() {
			if _, _, err := stores[i%len(stores)].Submit(t.Context(), transfer(a, ""), sign); err != nil {
				t.Errorf("Submit for account %d: %v", a, err)
			}
		})
	}
	for i := range 12 {
		wg.Go(func() {
			tx, _, err := stores[i%len(stores)].Submit(t.Context(), transfer(keyed, "same-key"), sign)
			if err != nil {
				t.Errorf("keyed Submit: %v", err)
				return
			}
			mu.Lock()
			keyedIDs[tx.ID]++
			mu.Unlock()
		})
	}
	wg.Wait()

	if accepted != k || rejected != hotters-k {
		t.Errorf("hot account: %d accepted, %d rejected; want %d and %d", accepted, rejected, k, hotters-k)
	}
	a, err := stores[1].Account(t.Context(), hot)
	if err != nil || a.Available.Sign() != 0 || a.Current.Cmp(big.NewInt(k*hold)) != 0 {
		t.Errorf("hot account = %+v, %v; want available 0, current %d", a, err, k*hold)
	}
	if len(keyedIDs) != 1 {
		t.Errorf("one key through %d Stores made transactions %v, want one", len(stores), keyedIDs)
	}
	storetest.CheckInvariants(t, stores[2], append(accts, hot, keyed)...)
	c := connect(t, dsn)
	if n, want := count(t, c, "transactions"), k+others+1; n != want {
		t.Errorf("%d transactions stored, want %d", n, want)
	}
	wantGapFree(t, c)
}
