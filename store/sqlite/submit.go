package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"

	"github.com/go-consolidate/consolidate"
)

const (
	sqlSelectIdempotency = `SELECT request_hash, transaction_id, error_code FROM idempotency
		WHERE account_id = ? AND key = ?`
	sqlInsertIdempotency = `INSERT INTO idempotency
		(account_id, key, request_hash, transaction_id, error_code, created_at) VALUES (?, ?, ?, ?, ?, ?)`
	sqlInsertPending = `INSERT INTO transactions
		(account_id, sender, recipient, amount, fee_total, nonce, hash, raw, status, version,
		 idempotency_key, checks, next_check_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', 1, ?, 0, ?, ?, ?)`
)

// errCodeInsufficientFunds records a rejected request under its
// idempotency key, so a retry gets the same answer.
const errCodeInsufficientFunds = "insufficient_funds"

// Submit records a new PENDING transaction; see consolidate.Store.
//
// A zero p.NextCheckAt means due at once and a zero p.Now the current
// time. FeeTotal may be zero; Amount must be positive. The signed
// transaction is also the transaction's first attempt, recorded with
// p.Quote, whose caps are both nil (not known) or both uint256 values
// (else ErrInvalidAmount). A signed transaction with the zero hash or no
// bytes is refused like a failed signature.
func (s *Store) Submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	t, created, err := s.submit(ctx, p, sign)
	if err != nil {
		return consolidate.Transaction{}, false, fmt.Errorf("consolidate: sqlite: submit: %w", err)
	}
	return t, created, nil
}

func (s *Store) submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	amount, err := encodeAmount(p.Amount)
	if err != nil || p.Amount.Sign() == 0 {
		return consolidate.Transaction{}, false, fmt.Errorf("amount: %w", consolidate.ErrInvalidAmount)
	}
	fee, err := encodeAmount(p.FeeTotal)
	if err != nil {
		return consolidate.Transaction{}, false, fmt.Errorf("fee: %w", consolidate.ErrInvalidAmount)
	}
	quote, err := encodeQuote(p.Quote)
	if err != nil {
		return consolidate.Transaction{}, false, fmt.Errorf("quote: %w", err)
	}
	if sign == nil {
		return consolidate.Transaction{}, false, errors.New("nil sign function")
	}
	now := nowOr(p.Now)
	next := nowOr(p.NextCheckAt)
	hold := new(big.Int).Add(p.Amount, p.FeeTotal)

	var (
		out      consolidate.Transaction
		created  bool
		rejected error // committed, then returned: the rejection is recorded
	)
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if p.IdempotencyKey != "" {
			t, found, err := replay(ctx, tx, p)
			if err != nil || found {
				out = t
				return err
			}
		}

		a, err := loadAccount(ctx, tx, p.AccountID)
		if err != nil {
			return err
		}
		if a.Available.Cmp(hold) < 0 {
			rejected = fmt.Errorf("account %d: %w", p.AccountID, consolidate.ErrInsufficientFunds)
			if p.IdempotencyKey == "" {
				return nil
			}
			_, err := tx.ExecContext(ctx, sqlInsertIdempotency, p.AccountID, p.IdempotencyKey,
				p.RequestHash[:], nil, errCodeInsufficientFunds, unixNano(now))
			return err
		}

		nonce, err := nextNonce(ctx, tx, p)
		if err != nil {
			return err
		}
		// Signing happens inside the transaction so the nonce it uses is the
		// one stored; if it fails, the rollback returns the nonce.
		signed, err := sign(nonce)
		if err == nil {
			err = checkSigned(signed)
		}
		if err != nil {
			return fmt.Errorf("sign nonce %d: %w", nonce, err)
		}
		res, err := tx.ExecContext(ctx, sqlInsertPending, p.AccountID, p.From.Bytes(), p.To.Bytes(),
			amount, fee, int64(nonce), signed.Hash.Bytes(), signed.Raw, nullString(p.IdempotencyKey),
			nullTime(next), unixNano(now), unixNano(now))
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		first := attemptRow{hash: signed.Hash.Bytes(), raw: signed.Raw, quote: quote, createdAt: unixNano(now)}
		if err := insertAttempt(ctx, tx, id, 1, first); err != nil {
			return err
		}
		b := balances{available: new(big.Int).Sub(a.Available, hold), current: a.Current}
		if err := saveBalances(ctx, tx, p.AccountID, b, now); err != nil {
			return err
		}
		if p.IdempotencyKey != "" {
			if _, err := tx.ExecContext(ctx, sqlInsertIdempotency, p.AccountID, p.IdempotencyKey,
				p.RequestHash[:], id, nil, unixNano(now)); err != nil {
				return err
			}
		}
		if err := insertEvent(ctx, tx, consolidate.EventSubmitted, id, p.AccountID, consolidate.StatusPending, now); err != nil {
			return err
		}
		// Read back rather than assemble: the caller gets exactly what a
		// later Transaction returns.
		out, err = loadTransaction(ctx, tx, id)
		created = true
		return err
	})
	if err == nil {
		err = rejected
	}
	if err != nil {
		return consolidate.Transaction{}, false, err
	}
	return out, created, nil
}

// replay answers a reused idempotency key: the original transaction (found
// true), the original rejection, a conflict, or found false for a new key.
func replay(ctx context.Context, tx *wtx, p consolidate.SubmitParams) (consolidate.Transaction, bool, error) {
	var (
		hash []byte
		txID sql.NullInt64
		code sql.NullString
	)
	err := tx.QueryRowContext(ctx, sqlSelectIdempotency, p.AccountID, p.IdempotencyKey).Scan(&hash, &txID, &code)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return consolidate.Transaction{}, false, nil
	case err != nil:
		return consolidate.Transaction{}, false, err
	case !bytes.Equal(hash, p.RequestHash[:]):
		return consolidate.Transaction{}, true, fmt.Errorf("key %q: %w", p.IdempotencyKey, consolidate.ErrIdempotencyConflict)
	case txID.Valid:
		t, err := loadTransaction(ctx, tx, txID.Int64)
		return t, true, err
	case code.String == errCodeInsufficientFunds:
		return consolidate.Transaction{}, true, fmt.Errorf("account %d, key %q: %w", p.AccountID, p.IdempotencyKey, consolidate.ErrInsufficientFunds)
	}
	return consolidate.Transaction{}, true, fmt.Errorf("key %q: unknown recorded error %q", p.IdempotencyKey, code.String)
}
