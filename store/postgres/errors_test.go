package postgres_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/jackc/pgx/v5"
)

// TestErrorText checks that a refusal names the library once, its
// sentinel first, and still matches that sentinel.
func TestErrorText(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := database(t, semantics)
	s := open(t, dsn, nil)
	acct := fund(t, s, 1, 3*hold)[0]
	submit := func(account int64, key string, amount int64) error {
		p := transfer(account, key)
		p.Amount = big.NewInt(amount)
		_, _, err := s.Submit(ctx, p, sign)
		return err
	}
	tx, _, err := s.Submit(ctx, transfer(acct, "first"), sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: consolidate.OutcomeDropped}); err != nil {
		t.Fatal(err)
	}
	closed := open(t, dsn, nil)
	closed.Close()

	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"insufficient funds", func() error { return submit(acct, "", 50*hold) }, consolidate.ErrInsufficientFunds},
		{"insufficient funds, replayed", func() error {
			_ = submit(acct, "poor", 50*hold)
			return submit(acct, "poor", 50*hold)
		}, consolidate.ErrInsufficientFunds},
		{"idempotency conflict", func() error {
			p := transfer(acct, "first")
			p.RequestHash[0]++
			_, _, err := s.Submit(ctx, p, sign)
			return err
		}, consolidate.ErrIdempotencyConflict},
		{"invalid amount", func() error { return submit(acct, "", 0) }, consolidate.ErrInvalidAmount},
		{"unknown account", func() error { return submit(acct+100, "", amount) }, consolidate.ErrNotFound},
		{"attempt of another transaction", func() error {
			p1, _, err := s.Submit(ctx, transfer(acct, ""), sign)
			if err != nil {
				return err
			}
			p2, _, err := s.Submit(ctx, transfer(acct, ""), sign)
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
		{"attempt of a final transaction", func() error {
			return s.AddAttempt(ctx, tx.ID, consolidate.Attempt{SignedTx: consolidate.SignedTx{Hash: common.Hash{1}, Raw: []byte{1}}})
		}, consolidate.ErrNotPending},
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
		{"invalid outcome", func() error {
			_, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: 99})
			return err
		}, consolidate.ErrInvalidArgument},
		{"reschedule a final transaction", func() error { return s.Reschedule(ctx, tx.ID, 1, time.Time{}) }, consolidate.ErrNotPending},
		{"negative checks", func() error { return s.Reschedule(ctx, tx.ID, -1, time.Time{}) }, consolidate.ErrInvalidArgument},
		{"park an unknown transaction", func() error { return s.Park(ctx, tx.ID+100, time.Time{}) }, consolidate.ErrNotFound},
		{"note on an unknown transaction", func() error {
			return s.Note(ctx, tx.ID+100, consolidate.EventSignatureRejected, time.Time{})
		}, consolidate.ErrNotFound},
		{"note on a final transaction", func() error {
			return s.Note(ctx, tx.ID, consolidate.EventSignatureRejected, time.Time{})
		}, consolidate.ErrNotPending},
		{"note without a type", func() error { return s.Note(ctx, tx.ID, "", time.Time{}) }, consolidate.ErrInvalidArgument},
		{"nonce beyond BIGINT", func() error { return s.SyncNonce(ctx, wallet, 1<<63) }, consolidate.ErrInvalidArgument},
		{"closed store", func() error {
			_, err := closed.List(ctx, consolidate.Filter{Limit: 1})
			return err
		}, consolidate.ErrClosed},
		{"invalid config", func() error {
			_, err := postgres.Open(ctx, dsn, &postgres.Options{MaxBatch: -1})
			return err
		}, consolidate.ErrInvalidConfig},
		{"caller's error from sign", func() error {
			_, _, err := s.Submit(ctx, transfer(acct, ""), func(uint64) (consolidate.SignedTx, error) {
				return consolidate.SignedTx{}, consolidate.ErrLockUnavailable
			})
			return err
		}, consolidate.ErrLockUnavailable},
		{"outcome unknown", func() error { return outcomeUnknown(t, dsn, acct) }, postgres.ErrOutcomeUnknown},
	}
	for _, tt := range tests {
		err := tt.call()
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			continue
		}
		msg := err.Error()
		if n := strings.Count(msg, "consolidate:"); n != 1 {
			t.Errorf("%s: %q says \"consolidate:\" %d times, want once", tt.name, msg, n)
		}
		if !strings.HasPrefix(msg, tt.want.Error()) {
			t.Errorf("%s: %q does not begin with %q", tt.name, msg, tt.want)
		}
	}
}

// outcomeUnknown returns the error of a Submit, on a Store of its own
// on dsn, whose connection is cut once its COMMIT is sent and whose
// context ends then, so it cannot ask whether the batch committed.
func outcomeUnknown(t *testing.T, dsn string, acct int64) error {
	s := open(t, dsn, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	postgres.SetBatchSentHook(s, func(c *pgx.Conn) {
		cancel()
		c.PgConn().Conn().Close()
	})
	_, _, err := s.Submit(ctx, transfer(acct, "cut"), sign)
	return err
}
