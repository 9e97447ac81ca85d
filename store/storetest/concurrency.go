package storetest

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"

	"github.com/go-consolidate/consolidate"
)

// testHotAccount races many submits against one account funded for
// exactly K of them. The store alone must keep the balance and the nonces
// right; no lock in front of it.
func testHotAccount(t *testing.T, s consolidate.Store) {
	const (
		goroutines = 64
		k          = 10
	)
	a := fund(t, s, k*hold)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		nonces   []uint64
		rejected int
	)
	for i := range goroutines {
		wg.Go(func() {
			p := withKey(transfer(a.ID), fmt.Sprintf("hot-%d", i), fmt.Sprintf("request %d", i))
			tx, created, err := s.Submit(t.Context(), p, sign)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && created:
				nonces = append(nonces, tx.Nonce)
			case errors.Is(err, consolidate.ErrInsufficientFunds):
				rejected++
			default:
				t.Errorf("Submit: created %v, %v", created, err)
			}
		})
	}
	wg.Wait()
	if len(nonces) != k || rejected != goroutines-k {
		t.Errorf("%d submits succeeded and %d were rejected, want %d and %d", len(nonces), rejected, k, goroutines-k)
	}
	slices.Sort(nonces)
	for i, n := range nonces {
		if n != uint64(i) {
			t.Errorf("nonces handed out = %v, want 0..%d each once", nonces, len(nonces)-1)
			break
		}
	}
	wantBalances(t, s, a.ID, big.NewInt(0), big.NewInt(k*hold))
	if evs := unsent(t, s); len(evs) != k {
		t.Errorf("events = %d, want %d", len(evs), k)
	}
	CheckInvariants(t, s, a.ID)
}

// testSubmitIdempotencyConcurrent sends one request with one key from many
// goroutines, as a client retrying on timeouts does: one transaction.
func testSubmitIdempotencyConcurrent(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 10*hold)
	p := withKey(transfer(a.ID), "retry-me", "request")
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[int64]bool{}
		created int
	)
	for range n {
		wg.Go(func() {
			tx, c, err := s.Submit(t.Context(), p, sign)
			if err != nil {
				t.Errorf("Submit: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[tx.ID] = true
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Errorf("%d concurrent submits with one key made transactions %v, %d created; want one", n, ids, created)
	}
	wantBalances(t, s, a.ID, big.NewInt(9*hold), big.NewInt(10*hold))
	CheckInvariants(t, s, a.ID)
}
