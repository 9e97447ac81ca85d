package storetest

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
)

// tokenAccount creates an account holding token with balance.
func tokenAccount(t *testing.T, s consolidate.Store, token common.Address, balance int64) consolidate.Account {
	t.Helper()
	a, err := s.CreateAccount(t.Context(), consolidate.NewAccount{Token: token})
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	a, err = s.Credit(t.Context(), a.ID, big.NewInt(balance), "fund")
	if err != nil {
		t.Fatalf("Credit: %v", err)
	}
	return a
}

// A token account's transfers carry its token, signed or reserved, and
// settle like ether ones.
func testSubmitToken(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := tokenAccount(t, s, tokenA, 10*amount)
	p := transfer(a.ID)
	p.Token = tokenA
	tx := mustSubmit(t, s, p)
	if tx.Token != tokenA {
		t.Errorf("Submit returned a transfer of %s, want %s", tx.Token, tokenA)
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), tx); d != "" {
		t.Errorf("stored transfer: %s", d)
	}

	p2 := withKey(transfer(a.ID), "token-reserve", "token-reserve")
	p2.Token = tokenA
	reserved, _, err := s.Submit(ctx, p2, nil)
	if err != nil || reserved.Token != tokenA {
		t.Fatalf("reserve: %+v, %v", reserved, err)
	}
	if got := mustTransaction(t, s, reserved.ID); got.Token != tokenA {
		t.Errorf("stored reservation moves %s, want %s", got.Token, tokenA)
	}

	hold := big.NewInt(amount + fee)
	wantBalances(t, s, a.ID, sub(big.NewInt(10*amount), add(hold, hold)), big.NewInt(10*amount))
	settled, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: consolidate.OutcomeReverted, FeeBlockchain: big.NewInt(21_000), BlockNumber: 7, At: t0})
	if err != nil || settled.Token != tokenA || settled.Status != consolidate.StatusFailed {
		t.Fatalf("Settle: %+v, %v", settled, err)
	}
	wantBalances(t, s, a.ID, sub(big.NewInt(10*amount), add(hold, big.NewInt(fee))), sub(big.NewInt(10*amount), big.NewInt(fee)))
}

// A transfer of an asset the account does not hold is refused and
// changes nothing: no hold, no nonce, no row, no idempotency record.
func testSubmitWrongAsset(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	ether := fund(t, s, 10*amount)
	token := tokenAccount(t, s, tokenA, 10*amount)
	for _, c := range []struct {
		name    string
		account int64
		asset   common.Address
	}{
		{"token from an ether account", ether.ID, tokenA},
		{"ether from a token account", token.ID, common.Address{}},
		{"another token", token.ID, tokenB},
	} {
		for _, sign := range []consolidate.SignFunc{sign, nil} {
			p := withKey(transfer(c.account), "wrong-asset", "wrong-asset")
			p.Token = c.asset
			tx, created, err := s.Submit(ctx, p, sign)
			if !errors.Is(err, consolidate.ErrWrongAsset) || created || tx.ID != 0 {
				t.Errorf("%s (reserve %v): %+v, created %v, %v; want ErrWrongAsset", c.name, sign == nil, tx, created, err)
			}
		}
	}
	wantBalances(t, s, ether.ID, big.NewInt(10*amount), big.NewInt(10*amount))
	wantBalances(t, s, token.ID, big.NewInt(10*amount), big.NewInt(10*amount))
	// The key was not spent on the refusals, and the sender's first nonce
	// is still free.
	p := withKey(transfer(token.ID), "wrong-asset", "wrong-asset")
	p.Token = tokenA
	tx := mustSubmit(t, s, p)
	if tx.Nonce != 0 {
		t.Errorf("first transfer after the refusals has nonce %d, want 0", tx.Nonce)
	}
}
