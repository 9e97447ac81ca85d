package storetest

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
)

// ErrorCase is a call a store refuses, and the sentinel its error must
// wrap.
type ErrorCase struct {
	Name string
	Call func() error
	Want error
}

// CheckErrorText runs each case and checks that its error wraps the
// sentinel, begins with the sentinel's text and names the library once:
// "consolidate: not found: …", not "consolidate: sqlite: consolidate: …".
// Store packages call it with cases of their own (a closed store, a bad
// configuration); Run checks those of the Store interface.
func CheckErrorText(t *testing.T, cases []ErrorCase) {
	t.Helper()
	for _, c := range cases {
		err := c.Call()
		if !errors.Is(err, c.Want) {
			t.Errorf("%s: %v, want %v", c.Name, err, c.Want)
			continue
		}
		msg := err.Error()
		if n := strings.Count(msg, "consolidate:"); n != 1 {
			t.Errorf("%s: %q says \"consolidate:\" %d times, want once", c.Name, msg, n)
		}
		if !strings.HasPrefix(msg, c.Want.Error()) {
			t.Errorf("%s: %q does not begin with %q", c.Name, msg, c.Want)
		}
	}
}

func testErrorText(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	acct := fund(t, s, 3*hold).ID
	submit := func(account int64, key string, amount int64) error {
		p := withKey(transfer(account), key, key)
		p.Amount = big.NewInt(amount)
		_, _, err := s.Submit(ctx, p, sign)
		return err
	}
	tx, _, err := s.Submit(ctx, withKey(transfer(acct), "first", "first"), sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: consolidate.OutcomeDropped}); err != nil {
		t.Fatal(err)
	}
	attempt := consolidate.Attempt{SignedTx: consolidate.SignedTx{Hash: common.Hash{1}, Raw: []byte{1}}}
	CheckErrorText(t, []ErrorCase{
		{"insufficient funds", func() error { return submit(acct, "", 50*hold) }, consolidate.ErrInsufficientFunds},
		{"insufficient funds, replayed", func() error {
			_ = submit(acct, "poor", 50*hold)
			return submit(acct, "poor", 50*hold)
		}, consolidate.ErrInsufficientFunds},
		{"idempotency conflict", func() error {
			_, _, err := s.Submit(ctx, withKey(transfer(acct), "first", "another request"), sign)
			return err
		}, consolidate.ErrIdempotencyConflict},
		{"invalid amount", func() error { return submit(acct, "", 0) }, consolidate.ErrInvalidAmount},
		{"unknown account", func() error { return submit(acct+100, "", amount) }, consolidate.ErrNotFound},
		{"wrong asset", func() error {
			p := transfer(acct)
			p.Token = tokenA
			_, _, err := s.Submit(ctx, p, sign)
			return err
		}, consolidate.ErrWrongAsset},
		{"attempt of another transaction", func() error {
			p1, _, err := s.Submit(ctx, transfer(acct), sign)
			if err != nil {
				return err
			}
			p2, _, err := s.Submit(ctx, transfer(acct), sign)
			if err != nil {
				return err
			}
			as, err := s.Attempts(ctx, p1.ID)
			if err != nil {
				return err
			}
			return s.AddAttempt(ctx, p2.ID, as[0])
		}, consolidate.ErrIdempotencyConflict},
		{"attempt of an unknown transaction", func() error { return s.AddAttempt(ctx, tx.ID+100, attempt) }, consolidate.ErrNotFound},
		{"attempt of a final transaction", func() error { return s.AddAttempt(ctx, tx.ID, attempt) }, consolidate.ErrNotPending},
		{"unknown transaction", func() error {
			_, err := s.Transaction(ctx, tx.ID+100)
			return err
		}, consolidate.ErrNotFound},
		{"attempts of an unknown transaction", func() error {
			_, err := s.Attempts(ctx, tx.ID+100)
			return err
		}, consolidate.ErrNotFound},
		{"transactions of an unknown account", func() error {
			_, err := s.Transactions(ctx, acct+100, 0, 10)
			return err
		}, consolidate.ErrNotFound},
		{"unknown account read", func() error {
			_, err := s.Account(ctx, acct+100)
			return err
		}, consolidate.ErrNotFound},
		{"credit of an unknown account", func() error {
			_, err := s.Credit(ctx, acct+100, big.NewInt(1), "x")
			return err
		}, consolidate.ErrNotFound},
		{"credit reference reused", func() error {
			_, err := s.Credit(ctx, acct, big.NewInt(1), "fund")
			return err
		}, consolidate.ErrIdempotencyConflict},
		{"empty credit reference", func() error {
			_, err := s.Credit(ctx, acct, big.NewInt(1), "")
			return err
		}, consolidate.ErrInvalidReference},
		{"settled twice", func() error {
			_, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: consolidate.OutcomeDropped})
			return err
		}, consolidate.ErrNotPending},
		{"reschedule a final transaction", func() error { return s.Reschedule(ctx, tx.ID, 1, time.Time{}) }, consolidate.ErrNotPending},
		{"park an unknown transaction", func() error { return s.Park(ctx, tx.ID+100, time.Time{}) }, consolidate.ErrNotFound},
		{"note on an unknown transaction", func() error {
			return s.Note(ctx, tx.ID+100, consolidate.EventSignatureRejected, time.Time{})
		}, consolidate.ErrNotFound},
		{"note on a final transaction", func() error {
			return s.Note(ctx, tx.ID, consolidate.EventSignatureRejected, time.Time{})
		}, consolidate.ErrNotPending},
		{"caller's error from sign", func() error {
			_, _, err := s.Submit(ctx, transfer(acct), func(uint64) (consolidate.SignedTx, error) {
				return consolidate.SignedTx{}, consolidate.ErrLockUnavailable
			})
			return err
		}, consolidate.ErrLockUnavailable},
		{"invalid outcome", func() error {
			_, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: 99})
			return err
		}, consolidate.ErrInvalidArgument},
		{"negative checks", func() error { return s.Reschedule(ctx, tx.ID, -1, time.Time{}) }, consolidate.ErrInvalidArgument},
		{"nonce beyond a signed 64-bit integer", func() error { return s.SyncNonce(ctx, sender, 1<<63) }, consolidate.ErrInvalidArgument},
		{"note without a type", func() error { return s.Note(ctx, tx.ID, "", time.Time{}) }, consolidate.ErrInvalidArgument},
	})
}
