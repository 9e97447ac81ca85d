package sqlite_test

import (
	"crypto/sha256"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// TestErrorText checks that a refusal names the library once and still
// matches its sentinel.
func TestErrorText(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t, sqlite.Memory)
	t.Cleanup(func() { s.Close() })
	a, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credit(ctx, a.ID, big.NewInt(1000), "fund"); err != nil {
		t.Fatal(err)
	}
	sign := func(nonce uint64) (consolidate.SignedTx, error) {
		h := common.Hash(sha256.Sum256(big.NewInt(int64(nonce)).Bytes()))
		return consolidate.SignedTx{Hash: h, Raw: h[:]}, nil
	}
	params := func(account, amount int64, key string, hash byte) consolidate.SubmitParams {
		return consolidate.SubmitParams{
			AccountID: account, From: common.HexToAddress("0x01"), To: common.HexToAddress("0x02"),
			Amount: big.NewInt(amount), FeeTotal: big.NewInt(10),
			IdempotencyKey: key, RequestHash: [32]byte{hash},
		}
	}
	submit := func(p consolidate.SubmitParams) error {
		_, _, err := s.Submit(ctx, p, sign)
		return err
	}
	tx, _, err := s.Submit(ctx, params(a.ID, 100, "first", 1), sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: consolidate.OutcomeDropped}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"insufficient funds", func() error { return submit(params(a.ID, 5000, "", 0)) }, consolidate.ErrInsufficientFunds},
		{"insufficient funds, replayed", func() error {
			_ = submit(params(a.ID, 5000, "poor", 2))
			return submit(params(a.ID, 5000, "poor", 2))
		}, consolidate.ErrInsufficientFunds},
		{"idempotency conflict", func() error { return submit(params(a.ID, 100, "first", 3)) }, consolidate.ErrIdempotencyConflict},
		{"attempt of another transaction", func() error {
			p1, _, err := s.Submit(ctx, params(a.ID, 100, "", 0), sign)
			if err != nil {
				return err
			}
			p2, _, err := s.Submit(ctx, params(a.ID, 100, "", 0), sign)
			if err != nil {
				return err
			}
			as, err := s.Attempts(ctx, p1.ID)
			if err != nil {
				return err
			}
			return s.AddAttempt(ctx, p2.ID, as[0])
		}, consolidate.ErrIdempotencyConflict},
		{"attempt of an unknown transaction", func() error {
			return s.AddAttempt(ctx, tx.ID+100, consolidate.Attempt{SignedTx: consolidate.SignedTx{Hash: common.Hash{1}, Raw: []byte{1}}})
		}, consolidate.ErrNotFound},
		{"unknown account", func() error { return submit(params(a.ID+100, 100, "", 0)) }, consolidate.ErrNotFound},
		{"unknown transaction", func() error {
			_, err := s.Transaction(ctx, tx.ID+100)
			return err
		}, consolidate.ErrNotFound},
		{"attempts of an unknown transaction", func() error {
			_, err := s.Attempts(ctx, tx.ID+100)
			return err
		}, consolidate.ErrNotFound},
		{"settled twice", func() error {
			_, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: consolidate.OutcomeDropped})
			return err
		}, consolidate.ErrNotPending},
	}
	for _, tt := range tests {
		err := tt.call()
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			continue
		}
		if n := strings.Count(err.Error(), "consolidate:"); n != 1 {
			t.Errorf("%s: %q says \"consolidate:\" %d times, want once", tt.name, err, n)
		}
	}
}
