package storetest

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

func testSubmit(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 5*hold)
	p := withKey(transfer(a.ID), "k1", "request 1")
	var nonces []uint64
	var got consolidate.SignedTx
	sign := signer(sender, &nonces)
	tx, created, err := s.Submit(t.Context(), p, func(n uint64) (consolidate.SignedTx, error) {
		st, err := sign(n)
		got = st
		return st, err
	})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if !created {
		t.Error("Submit: created = false for a new request")
	}
	if len(nonces) != 1 || nonces[0] != 0 {
		t.Errorf("sign called with nonces %v, want [0]", nonces)
	}
	want := consolidate.Transaction{
		ID:             tx.ID,
		AccountID:      a.ID,
		From:           sender,
		To:             recipient,
		Amount:         big.NewInt(amount),
		FeeTotal:       big.NewInt(fee),
		Nonce:          0,
		Hash:           got.Hash,
		Raw:            got.Raw,
		Status:         consolidate.StatusPending,
		Version:        tx.Version,
		IdempotencyKey: "k1",
		NextCheckAt:    p.NextCheckAt,
		CreatedAt:      p.Now,
	}
	if d := diffTx(tx, want); d != "" {
		t.Errorf("Submit returned %s", d)
	}
	if tx.Version <= 0 {
		t.Errorf("Version = %d, want > 0", tx.Version)
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), tx); d != "" {
		t.Errorf("Transaction after Submit: %s", d)
	}
	if _, err := s.Transaction(t.Context(), tx.ID+1000); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Transaction(unknown) error = %v, want ErrNotFound", err)
	}
	// The signed transaction is the first attempt, with the quote it was
	// signed with.
	wantAttempts(t, s, tx.ID, consolidate.Attempt{SignedTx: got, Quote: p.Quote, CreatedAt: p.Now})

	wantBalances(t, s, a.ID, big.NewInt(4*hold), big.NewInt(5*hold))
	evs := unsent(t, s)
	if len(evs) != 1 {
		t.Fatalf("events after Submit = %+v, want one", evs)
	}
	if e := evs[0]; e.Type != consolidate.EventSubmitted || e.TransactionID != tx.ID || e.AccountID != a.ID || e.Status != consolidate.StatusPending {
		t.Errorf("event = %+v, want %s for transaction %d of account %d, PENDING", e, consolidate.EventSubmitted, tx.ID, a.ID)
	}
	CheckInvariants(t, s, a.ID)
}

func testSubmitNonces(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 10*hold)
	b := fund(t, s, 10*hold)
	// Nonces belong to the sender, not to the account paying.
	steps := []struct {
		account int64
		from    common.Address
		want    uint64
	}{
		{a.ID, sender, 0}, {b.ID, sender, 1}, {a.ID, sender2, 0},
		{a.ID, sender, 2}, {b.ID, sender2, 1}, {b.ID, sender, 3},
	}
	seen := map[common.Address]map[uint64]bool{}
	for i, st := range steps {
		wantNextNonce(t, s, st.account, st.from, st.want)
		if seen[st.from] == nil {
			seen[st.from] = map[uint64]bool{}
		}
		if seen[st.from][st.want] {
			t.Errorf("step %d: nonce %d handed out twice", i, st.want)
		}
		seen[st.from][st.want] = true
	}
	CheckInvariants(t, s, a.ID, b.ID)
}

func testSubmitInsufficientFunds(t *testing.T, s consolidate.Store) {
	a := fund(t, s, hold-1)
	called := false
	_, _, err := s.Submit(t.Context(), transfer(a.ID), func(n uint64) (consolidate.SignedTx, error) {
		called = true
		return sign(n)
	})
	if !errors.Is(err, consolidate.ErrInsufficientFunds) {
		t.Fatalf("Submit error = %v, want ErrInsufficientFunds", err)
	}
	if called {
		t.Error("sign was called for a rejected transfer")
	}
	wantBalances(t, s, a.ID, big.NewInt(hold-1), big.NewInt(hold-1))
	if evs := unsent(t, s); len(evs) != 0 {
		t.Errorf("events after a rejected Submit = %+v, want none", evs)
	}
	if txs, err := s.Transactions(t.Context(), a.ID, 0, 10); err != nil || len(txs) != 0 {
		t.Errorf("Transactions = %d, %v; want none", len(txs), err)
	}
	// Exactly enough is enough, and the rejection used no nonce.
	if _, err := s.Credit(t.Context(), a.ID, big.NewInt(1), "top-up"); err != nil {
		t.Fatalf("Credit: %v", err)
	}
	wantNextNonce(t, s, a.ID, sender, 0)
	wantBalances(t, s, a.ID, big.NewInt(0), big.NewInt(hold))
	CheckInvariants(t, s, a.ID)
}

func testSubmitSignError(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 3*hold)
	p := withKey(transfer(a.ID), "k", "request")
	_, _, err := s.Submit(t.Context(), p, failingSigner)
	if !errors.Is(err, errSign) {
		t.Fatalf("Submit error = %v, want the sign error", err)
	}
	wantBalances(t, s, a.ID, big.NewInt(3*hold), big.NewInt(3*hold))
	if evs := unsent(t, s); len(evs) != 0 {
		t.Errorf("events after a failed sign = %+v, want none", evs)
	}
	if txs, err := s.Transactions(t.Context(), a.ID, 0, 10); err != nil || len(txs) != 0 {
		t.Errorf("Transactions = %d, %v; want none", len(txs), err)
	}
	// Neither the nonce nor the idempotency key was used up.
	var nonces []uint64
	tx, created, err := s.Submit(t.Context(), p, signer(sender, &nonces))
	if err != nil || !created {
		t.Fatalf("Submit retry = created %v, %v; want a new transaction", created, err)
	}
	if tx.Nonce != 0 || len(nonces) != 1 || nonces[0] != 0 {
		t.Errorf("retry got nonce %d, signed with %v; want 0", tx.Nonce, nonces)
	}
	CheckInvariants(t, s, a.ID)
}

func testSubmitInvalid(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 10*hold)
	for _, tc := range []struct {
		name   string
		change func(*consolidate.SubmitParams)
		want   error
	}{
		{"nil amount", func(p *consolidate.SubmitParams) { p.Amount = nil }, consolidate.ErrInvalidAmount},
		{"zero amount", func(p *consolidate.SubmitParams) { p.Amount = big.NewInt(0) }, consolidate.ErrInvalidAmount},
		{"negative amount", func(p *consolidate.SubmitParams) { p.Amount = big.NewInt(-1) }, consolidate.ErrInvalidAmount},
		{"amount 2^256", func(p *consolidate.SubmitParams) { p.Amount = pow2(256) }, consolidate.ErrInvalidAmount},
		{"nil fee", func(p *consolidate.SubmitParams) { p.FeeTotal = nil }, consolidate.ErrInvalidAmount},
		{"negative fee", func(p *consolidate.SubmitParams) { p.FeeTotal = big.NewInt(-1) }, consolidate.ErrInvalidAmount},
		{"fee 2^256", func(p *consolidate.SubmitParams) { p.FeeTotal = pow2(256) }, consolidate.ErrInvalidAmount},
		{"negative tip cap", func(p *consolidate.SubmitParams) { p.Quote.GasTipCap = big.NewInt(-1) }, consolidate.ErrInvalidAmount},
		{"fee cap 2^256", func(p *consolidate.SubmitParams) { p.Quote.GasFeeCap = pow2(256) }, consolidate.ErrInvalidAmount},
		{"tip cap without fee cap", func(p *consolidate.SubmitParams) { p.Quote.GasFeeCap = nil }, consolidate.ErrInvalidAmount},
		{"fee cap without tip cap", func(p *consolidate.SubmitParams) { p.Quote.GasTipCap = nil }, consolidate.ErrInvalidAmount},
		{"unknown account", func(p *consolidate.SubmitParams) { p.AccountID += 1000 }, consolidate.ErrNotFound},
	} {
		p := withKey(transfer(a.ID), "k-"+tc.name, tc.name)
		tc.change(&p)
		if _, _, err := s.Submit(t.Context(), p, sign); !errors.Is(err, tc.want) {
			t.Errorf("Submit(%s) error = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A signature that could never be sent or told apart is refused like
	// a failed one.
	for _, tc := range []struct {
		name   string
		signed consolidate.SignedTx
	}{
		{"zero hash", consolidate.SignedTx{Raw: []byte("raw")}},
		{"nil raw", consolidate.SignedTx{Hash: common.HexToHash("0x01")}},
		{"empty raw", consolidate.SignedTx{Hash: common.HexToHash("0x02"), Raw: []byte{}}},
	} {
		p := withKey(transfer(a.ID), "k-"+tc.name, tc.name)
		bad := func(uint64) (consolidate.SignedTx, error) { return tc.signed, nil }
		if _, _, err := s.Submit(t.Context(), p, bad); err == nil {
			t.Errorf("Submit(signed with %s) succeeded, want an error", tc.name)
		}
	}
	wantBalances(t, s, a.ID, big.NewInt(10*hold), big.NewInt(10*hold))
	if evs := unsent(t, s); len(evs) != 0 {
		t.Errorf("events after invalid submits = %+v, want none", evs)
	}
	wantNextNonce(t, s, a.ID, sender, 0)
}

// testSubmitUnknownQuote submits without a quote, as a caller that has
// none does: the first attempt is recorded with the quote not known.
func testSubmitUnknownQuote(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 5*hold)
	p := transfer(a.ID)
	p.Quote = consolidate.Quote{}
	tx := mustSubmit(t, s, p)
	wantAttempts(t, s, tx.ID, consolidate.Attempt{SignedTx: consolidate.SignedTx{Hash: tx.Hash, Raw: tx.Raw}, CreatedAt: p.Now})
	CheckInvariants(t, s, a.ID)
}

func testSubmitIdempotency(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 10*hold)
	b := fund(t, s, 10*hold)
	p := withKey(transfer(a.ID), "order-1", "pay 1000 to recipient")
	first := mustSubmit(t, s, p)

	// A retry, even later and with a fresh clock, gets the original.
	retry := p
	retry.Now = t0.Add(time.Hour)
	again, created, err := s.Submit(t.Context(), retry, sign)
	if err != nil {
		t.Fatalf("Submit retry: %v", err)
	}
	if created {
		t.Error("Submit retry: created = true")
	}
	if d := diffTx(again, first); d != "" {
		t.Errorf("Submit retry returned %s", d)
	}
	wantBalances(t, s, a.ID, big.NewInt(9*hold), big.NewInt(10*hold))

	other := withKey(transfer(a.ID), "order-1", "pay 2000 to recipient")
	other.Amount = big.NewInt(2 * amount)
	if _, _, err := s.Submit(t.Context(), other, sign); !errors.Is(err, consolidate.ErrIdempotencyConflict) {
		t.Errorf("Submit(same key, other request) error = %v, want ErrIdempotencyConflict", err)
	}
	wantBalances(t, s, a.ID, big.NewInt(9*hold), big.NewInt(10*hold))
	if evs := unsent(t, s); len(evs) != 1 {
		t.Errorf("events = %d, want 1 (one transfer)", len(evs))
	}

	// Keys are per account.
	pb := withKey(transfer(b.ID), "order-1", "pay 2000 to recipient")
	tb := mustSubmit(t, s, pb)
	if tb.ID == first.ID {
		t.Error("the same key on another account returned the first account's transaction")
	}
	wantNextNonce(t, s, a.ID, sender, 2)
	CheckInvariants(t, s, a.ID, b.ID)
}

func testSubmitIdempotentRejection(t *testing.T, s consolidate.Store) {
	a := fund(t, s, hold-1)
	p := withKey(transfer(a.ID), "order-1", "request")
	if _, _, err := s.Submit(t.Context(), p, sign); !errors.Is(err, consolidate.ErrInsufficientFunds) {
		t.Fatalf("Submit error = %v, want ErrInsufficientFunds", err)
	}
	if _, err := s.Credit(t.Context(), a.ID, big.NewInt(10*hold), "top-up"); err != nil {
		t.Fatalf("Credit: %v", err)
	}
	// The key's answer is the original rejection, funds or not.
	if _, _, err := s.Submit(t.Context(), p, sign); !errors.Is(err, consolidate.ErrInsufficientFunds) {
		t.Errorf("Submit retry after a credit error = %v, want the original ErrInsufficientFunds", err)
	}
	other := withKey(transfer(a.ID), "order-1", "another request")
	if _, _, err := s.Submit(t.Context(), other, sign); !errors.Is(err, consolidate.ErrIdempotencyConflict) {
		t.Errorf("Submit(rejected key, other request) error = %v, want ErrIdempotencyConflict", err)
	}
	wantBalances(t, s, a.ID, big.NewInt(11*hold-1), big.NewInt(11*hold-1))
	// A new key goes through.
	mustSubmit(t, s, withKey(transfer(a.ID), "order-2", "request"))
	CheckInvariants(t, s, a.ID)
}
