package storetest

import (
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// reserve submits p with no signer and fails the test unless a
// reservation is created.
func reserve(t *testing.T, s consolidate.Store, p consolidate.SubmitParams) consolidate.Transaction {
	t.Helper()
	tx, created, err := s.Submit(t.Context(), p, nil)
	if err != nil {
		t.Fatalf("Submit(reserve): %v", err)
	}
	if !created {
		t.Fatalf("Submit(reserve): created = false for a new request")
	}
	return tx
}

// first is the attempt that signs a reservation.
func first(nonce uint64, at time.Time) consolidate.Attempt {
	return replacement(nonce, quote(2_000_000_000, 30_000_000_000), false, at)
}

func testReserve(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 5*hold)
	mustSubmit(t, s, transfer(a.ID)) // nonce 0, signed
	p := withKey(transfer(a.ID), "r1", "reserve 1")
	tx := reserve(t, s, p)
	want := consolidate.Transaction{
		ID:             tx.ID,
		AccountID:      a.ID,
		From:           sender,
		To:             recipient,
		Amount:         big.NewInt(amount),
		FeeTotal:       big.NewInt(fee),
		Nonce:          1,
		Status:         consolidate.StatusPending,
		Version:        tx.Version,
		IdempotencyKey: "r1",
		NextCheckAt:    p.NextCheckAt,
		CreatedAt:      p.Now,
	}
	if d := diffTx(tx, want); d != "" {
		t.Errorf("reserve returned %s", d)
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), want); d != "" {
		t.Errorf("Transaction after reserve: %s", d)
	}
	// The funds are held and the nonce taken as by a signed Submit.
	wantBalances(t, s, a.ID, big.NewInt(3*hold), big.NewInt(5*hold))
	wantAttempts(t, s, tx.ID)
	wantNextNonce(t, s, a.ID, sender, 2)
	list, err := s.Transactions(ctx, a.ID, 0, 10)
	if err != nil || len(list) != 3 || diffTx(list[1], want) != "" {
		t.Errorf("Transactions = %d rows, %v; want the reservation second of 3", len(list), err)
	}
	evs := unsent(t, s)
	if n := countEvents(evs, consolidate.EventSubmitted, tx.ID); n != 1 {
		t.Errorf("%d %s events for the reservation, want 1", n, consolidate.EventSubmitted)
	}

	// A replay of the key returns the reservation and signs nothing.
	again, created, err := s.Submit(ctx, p, func(uint64) (consolidate.SignedTx, error) {
		t.Error("a replayed key was signed again")
		return sign(0)
	})
	if err != nil || created || diffTx(again, want) != "" {
		t.Errorf("replay of a reservation: created %v, %v, %s", created, err, diffTx(again, want))
	}

	// The first attempt signs it: its hash and bytes become the
	// transaction's, its version moves on, and an event says so.
	at := first(tx.Nonce, t0.Add(time.Second))
	if err := s.AddAttempt(ctx, tx.ID, at); err != nil {
		t.Fatalf("AddAttempt(first): %v", err)
	}
	signedTx := mustTransaction(t, s, tx.ID)
	want.Hash, want.Raw = at.Hash, at.Raw
	want.Version = signedTx.Version
	if d := diffTx(signedTx, want); d != "" {
		t.Errorf("Transaction after its first attempt: %s", d)
	}
	if signedTx.Version <= tx.Version {
		t.Errorf("Version after the first attempt = %d, want above %d", signedTx.Version, tx.Version)
	}
	wantAttempts(t, s, tx.ID, at)
	evs = unsent(t, s)
	if n := countEvents(evs, consolidate.EventSigned, tx.ID); n != 1 {
		t.Errorf("%d %s events after the first attempt, want 1", n, consolidate.EventSigned)
	}

	// Recording it again, or a bump, changes the transaction no more.
	bump := replacement(tx.Nonce, quote(3e9, 40e9), false, t0.Add(time.Minute))
	for _, x := range []consolidate.Attempt{at, bump} {
		if err := s.AddAttempt(ctx, tx.ID, x); err != nil {
			t.Fatalf("AddAttempt: %v", err)
		}
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), want); d != "" {
		t.Errorf("Transaction after a bump: %s", d)
	}
	wantAttempts(t, s, tx.ID, at, bump)
	if n := countEvents(unsent(t, s), consolidate.EventSigned, tx.ID); n != 1 {
		t.Errorf("%d %s events after a bump, want still 1", n, consolidate.EventSigned)
	}

	// It settles like any transfer.
	m := mined(consolidate.OutcomeSuccess)
	m.Hash = bump.Hash
	settled, err := s.Settle(ctx, tx.ID, m)
	if err != nil || settled.Status != consolidate.StatusSuccessful || settled.Hash != bump.Hash {
		t.Errorf("Settle: %v, %v, hash %s; want SUCCESSFUL with the bump's hash", settled.Status, err, settled.Hash)
	}
	CheckInvariants(t, s, a.ID)
}

// A reservation whose signature never came can be voided: its funds come
// back in full.
func testReserveSettle(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 2*hold)
	tx := reserve(t, s, transfer(a.ID))
	got, err := s.Settle(ctx, tx.ID, dropped)
	if err != nil || got.Status != consolidate.StatusFailed {
		t.Fatalf("Settle(dropped) of a reservation: %v, %v; want FAILED", got.Status, err)
	}
	if got.Hash != (tx.Hash) || len(got.Raw) != 0 {
		t.Errorf("a voided reservation has hash %s and %d raw bytes, want none", got.Hash, len(got.Raw))
	}
	wantBalances(t, s, a.ID, big.NewInt(2*hold), big.NewInt(2*hold))
	// A signature arriving after the void is refused: nothing may send it.
	if err := s.AddAttempt(ctx, tx.ID, first(tx.Nonce, t0)); !errors.Is(err, consolidate.ErrNotPending) {
		t.Errorf("AddAttempt after the void: %v, want ErrNotPending", err)
	}
	wantAttempts(t, s, tx.ID)
	// A refused reservation is refused like a signed Submit.
	p := transfer(a.ID)
	p.Amount = big.NewInt(3 * hold)
	if _, _, err := s.Submit(ctx, p, nil); !errors.Is(err, consolidate.ErrInsufficientFunds) {
		t.Errorf("reserve beyond the balance: %v, want ErrInsufficientFunds", err)
	}
	CheckInvariants(t, s, a.ID)
}

// Two processes that sign one reservation at once record both attempts;
// the first recorded is its signature.
func testReserveConcurrent(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 40*hold)
	const n = 8
	txs := make([]consolidate.Transaction, n)
	for i := range txs {
		txs[i] = reserve(t, s, transfer(a.ID))
	}
	var wg sync.WaitGroup
	for i := range txs {
		for range 2 {
			wg.Go(func() {
				if err := s.AddAttempt(ctx, txs[i].ID, first(txs[i].Nonce, t0)); err != nil {
					t.Errorf("AddAttempt: %v", err)
				}
			})
		}
	}
	wg.Wait()
	for i, tx := range txs {
		if tx.Nonce != uint64(i) {
			t.Errorf("reservation %d has nonce %d, want %d", i, tx.Nonce, i)
		}
		as := mustAttempts(t, s, tx.ID)
		got := mustTransaction(t, s, tx.ID)
		if len(as) != 2 || got.Hash != as[0].Hash || string(got.Raw) != string(as[0].Raw) {
			t.Errorf("transaction %d: %d attempts, hash %s; want 2, the first's", tx.ID, len(as), got.Hash)
		}
		if c := countEvents(unsent(t, s), consolidate.EventSigned, tx.ID); c != 1 {
			t.Errorf("transaction %d: %d %s events, want 1", tx.ID, c, consolidate.EventSigned)
		}
	}
	CheckInvariants(t, s, a.ID)
}

func testNote(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 2*hold)
	tx := reserve(t, s, transfer(a.ID))
	before := unsent(t, s)
	if err := s.Note(ctx, tx.ID, consolidate.EventSignatureRejected, t0.Add(time.Second)); err != nil {
		t.Fatalf("Note: %v", err)
	}
	evs := unsent(t, s)
	if len(evs) != len(before)+1 {
		t.Fatalf("Note wrote %d events, want 1", len(evs)-len(before))
	}
	e := evs[len(evs)-1]
	if e.Type != consolidate.EventSignatureRejected || e.TransactionID != tx.ID || e.AccountID != a.ID || e.Status != consolidate.StatusPending {
		t.Errorf("event = %+v, want %s for transaction %d of account %d, PENDING", e, consolidate.EventSignatureRejected, tx.ID, a.ID)
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), tx); d != "" {
		t.Errorf("Note changed the transaction: %s", d)
	}
	if err := s.Note(ctx, tx.ID+1000, consolidate.EventSignatureRejected, t0); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Note(unknown transaction): %v, want ErrNotFound", err)
	}
	if _, err := s.Settle(ctx, tx.ID, dropped); err != nil {
		t.Fatal(err)
	}
	if err := s.Note(ctx, tx.ID, consolidate.EventSignatureRejected, t0); !errors.Is(err, consolidate.ErrNotPending) {
		t.Errorf("Note(final transaction): %v, want ErrNotPending", err)
	}
	if n := len(unsent(t, s)) - len(evs); n != 1 { // the settle's own event
		t.Errorf("%d events after Note of a final transaction, want the settle's alone", n)
	}
}

// countEvents counts the events of type typ about transaction id.
func countEvents(evs []consolidate.Event, typ string, id int64) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ && e.TransactionID == id {
			n++
		}
	}
	return n
}
