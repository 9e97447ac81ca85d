package storetest

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

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

// testSubmitConcurrent submits for many accounts at once, some with
// idempotency keys, as a loaded service does. Whatever a store does to
// serve them together, each caller gets exactly the transaction a later
// Transaction returns, signed with the nonce it stores, and the sender's
// nonces have no gaps.
func testSubmitConcurrent(t *testing.T, s consolidate.Store) {
	const n = 48
	accts := make([]consolidate.Account, n)
	for i := range accts {
		accts[i] = fund(t, s, 2*hold)
	}
	var (
		wg     sync.WaitGroup
		txs    = make([]consolidate.Transaction, n)
		signed = make([]consolidate.SignedTx, n)
	)
	for i := range n {
		wg.Go(func() {
			p := transfer(accts[i].ID)
			if i%2 == 0 {
				p = withKey(p, fmt.Sprintf("c-%d", i), "request")
			}
			p.Now = t0.Add(time.Duration(i) * time.Second)
			tx, created, err := s.Submit(t.Context(), p, func(nonce uint64) (consolidate.SignedTx, error) {
				st, err := sign(nonce)
				signed[i] = st // the store keeps the last signature it asked for
				return st, err
			})
			if err != nil || !created {
				t.Errorf("Submit %d: created %v, %v", i, created, err)
			}
			txs[i] = tx
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var nonces []uint64
	for i, tx := range txs {
		stored := mustTransaction(t, s, tx.ID)
		if d := diffTx(tx, stored); d != "" {
			t.Errorf("Submit %d returned %s", i, d)
		}
		if !tx.UpdatedAt.Equal(stored.UpdatedAt) {
			t.Errorf("Submit %d returned UpdatedAt %v, Transaction %v", i, tx.UpdatedAt, stored.UpdatedAt)
		}
		if tx.Hash != signed[i].Hash || string(tx.Raw) != string(signed[i].Raw) {
			t.Errorf("Submit %d stored hash %s, signed %s", i, tx.Hash, signed[i].Hash)
		}
		if tx.AccountID != accts[i].ID || !tx.CreatedAt.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("Submit %d stored account %d at %v", i, tx.AccountID, tx.CreatedAt)
		}
		wantAttempts(t, s, tx.ID, consolidate.Attempt{SignedTx: signed[i], Quote: transfer(0).Quote, CreatedAt: tx.CreatedAt})
		nonces = append(nonces, tx.Nonce)
		wantBalances(t, s, accts[i].ID, big.NewInt(hold), big.NewInt(2*hold))
	}
	slices.Sort(nonces)
	for i, nonce := range nonces {
		if nonce != uint64(i) {
			t.Errorf("nonces handed out = %v, want 0..%d each once", nonces, n-1)
			break
		}
	}
	if evs := unsent(t, s); len(evs) != n {
		t.Errorf("events = %d, want %d", len(evs), n)
	}
}
