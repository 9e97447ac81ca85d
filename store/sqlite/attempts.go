package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

const attemptColumns = `hash, raw, gas_limit, gas_tip_cap, gas_fee_cap, cancel, created_at`

const (
	sqlInsertAttemptHead = `INSERT INTO attempts (transaction_id, seq, ` + attemptColumns + `) VALUES `
	sqlAttemptRow        = `(?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlInsertAttempt     = sqlInsertAttemptHead + sqlAttemptRow
	// max over a prefix of the primary key reads one index entry.
	sqlNextSeq             = `SELECT coalesce(max(seq), 0) + 1 FROM attempts WHERE transaction_id = ?`
	sqlSelectAttemptByHash = `SELECT transaction_id, ` + attemptColumns + ` FROM attempts WHERE hash = ?`
	// Walks the primary key (transaction_id, seq): already in order.
	sqlSelectAttempts    = `SELECT ` + attemptColumns + ` FROM attempts WHERE transaction_id = ? ORDER BY seq`
	sqlTransactionExists = `SELECT 1 FROM transactions WHERE id = ?`
	// The first attempt of a reservation signs it.
	sqlSign = `UPDATE transactions SET hash = ?, raw = ?, version = version + 1, updated_at = ?
		WHERE id = ? AND status = 'PENDING' AND hash IS NULL`
)

// quoteRow is a consolidate.Quote as stored. The caps are nil when the
// quote is not known.
type quoteRow struct {
	gasLimit       int64
	tipCap, feeCap []byte
}

// encodeQuote checks that q can be stored. Both caps nil means the quote
// is not known (a caller without one, or an attempt from before quotes
// were stored); otherwise each cap must be a uint256, or the error wraps
// ErrInvalidAmount.
func encodeQuote(q consolidate.Quote) (quoteRow, error) {
	gas, err := toInt64("gas limit", q.GasLimit)
	if err != nil {
		return quoteRow{}, err
	}
	r := quoteRow{gasLimit: gas}
	if q.GasTipCap == nil && q.GasFeeCap == nil {
		return r, nil
	}
	if r.tipCap, err = encodeAmount(q.GasTipCap); err != nil {
		return quoteRow{}, fmt.Errorf("%w: gas tip cap %v", err, q.GasTipCap)
	}
	if r.feeCap, err = encodeAmount(q.GasFeeCap); err != nil {
		return quoteRow{}, fmt.Errorf("%w: gas fee cap %v", err, q.GasFeeCap)
	}
	return r, nil
}

func (r quoteRow) decode() (consolidate.Quote, error) {
	q := consolidate.Quote{GasLimit: uint64(r.gasLimit)}
	var errTip, errFee error
	q.GasTipCap, errTip = decodeOptionalAmount(r.tipCap)
	q.GasFeeCap, errFee = decodeOptionalAmount(r.feeCap)
	return q, errors.Join(errTip, errFee)
}

// checkSigned refuses signed bytes that could never be broadcast or told
// apart: the store keys attempts by hash, and rebroadcasts raw as it is.
func checkSigned(st consolidate.SignedTx) error {
	if st.Hash == (common.Hash{}) {
		return errors.New("signed transaction has the zero hash")
	}
	if len(st.Raw) == 0 {
		return errors.New("signed transaction has no bytes")
	}
	return nil
}

// attemptRow is a consolidate.Attempt as stored.
type attemptRow struct {
	hash, raw []byte
	quote     quoteRow
	cancel    bool
	createdAt int64
}

// encodeAttempt checks that a can be stored. A zero CreatedAt means now.
func encodeAttempt(a consolidate.Attempt) (attemptRow, error) {
	if err := checkSigned(a.SignedTx); err != nil {
		return attemptRow{}, err
	}
	q, err := encodeQuote(a.Quote)
	if err != nil {
		return attemptRow{}, err
	}
	return attemptRow{
		hash:      a.Hash.Bytes(),
		raw:       a.Raw,
		quote:     q,
		cancel:    a.Cancel,
		createdAt: unixNano(nowOr(a.CreatedAt)),
	}, nil
}

// sameAs reports whether r and o record the same signed transaction: all
// but the time it was recorded.
func (r attemptRow) sameAs(o attemptRow) bool {
	return bytes.Equal(r.hash, o.hash) && bytes.Equal(r.raw, o.raw) && r.cancel == o.cancel &&
		r.quote.gasLimit == o.quote.gasLimit &&
		bytes.Equal(r.quote.tipCap, o.quote.tipCap) && bytes.Equal(r.quote.feeCap, o.quote.feeCap)
}

// scanAttemptRow reads attemptColumns after any columns in dest.
func scanAttemptRow(sc scanner, dest ...any) (attemptRow, error) {
	var (
		r      attemptRow
		cancel int64
	)
	dest = append(dest, &r.hash, &r.raw, &r.quote.gasLimit, &r.quote.tipCap, &r.quote.feeCap, &cancel, &r.createdAt)
	if err := sc.Scan(dest...); err != nil {
		return attemptRow{}, err
	}
	r.cancel = cancel != 0
	return r, nil
}

func (r attemptRow) decode() (consolidate.Attempt, error) {
	h, err := decodeHash(r.hash)
	if err != nil {
		return consolidate.Attempt{}, err
	}
	q, err := r.quote.decode()
	if err != nil {
		return consolidate.Attempt{}, fmt.Errorf("attempt %s: %w", h, err)
	}
	return consolidate.Attempt{
		SignedTx:  consolidate.SignedTx{Hash: h, Raw: r.raw},
		Quote:     q,
		Cancel:    r.cancel,
		CreatedAt: fromUnixNano(r.createdAt),
	}, nil
}

// attemptByHash returns the attempt with hash and the transaction it
// belongs to, or sql.ErrNoRows.
func attemptByHash(ctx context.Context, tx *wtx, hash common.Hash) (int64, attemptRow, error) {
	var owner int64
	r, err := scanAttemptRow(tx.QueryRowContext(ctx, sqlSelectAttemptByHash, hash.Bytes()), &owner)
	return owner, r, err
}

// insertAttempt stores r as attempt seq of transaction id.
func insertAttempt(ctx context.Context, tx *wtx, id, seq int64, r attemptRow) error {
	_, err := tx.ExecContext(ctx, sqlInsertAttempt, r.args(nil, id, seq)...)
	return err
}

// args appends the values of sqlAttemptRow for r as attempt seq of
// transaction id.
func (r attemptRow) args(dst []any, id, seq int64) []any {
	return append(dst, id, seq, r.hash, r.raw, r.quote.gasLimit, r.quote.tipCap, r.quote.feeCap, r.cancel, r.createdAt)
}

// AddAttempt records another signed attempt for a PENDING transaction's
// nonce; see consolidate.Store. A zero a.CreatedAt means the current time.
//
// An attempt already recorded for the transaction changes nothing and
// returns nil; the same hash with other bytes, quote or Cancel flag, or a
// hash recorded for another transaction, is ErrIdempotencyConflict. A
// final transaction is ErrNotPending (even for an attempt it already has,
// so a caller never sends for a settled transfer), an unknown one
// ErrNotFound.
//
// a must have a non-zero hash and bytes to send. Its quote's caps are
// both nil (the quote is not known) or both uint256 values (else
// ErrInvalidAmount); the gas limit must fit an int64.
//
// An attempt after the first does not change the transaction's Version:
// the Transaction row itself is untouched (its Hash and Raw stay the
// original's until Settle names the attempt that landed), so a cached copy
// stays exact. The first attempt of a reserved transaction signs it: in
// the same store transaction its Hash and Raw become the attempt's, its
// Version increases, and an EventSigned event is written, dated
// a.CreatedAt. Of two first attempts recorded at once, the one recorded
// first signs it; the other is its second attempt.
func (s *Store) AddAttempt(ctx context.Context, id int64, a consolidate.Attempt) error {
	row, err := encodeAttempt(a)
	if err != nil {
		return wrap(fmt.Sprintf("add attempt to transaction %d", id), err)
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		sc, err := pendingSchedule(ctx, tx, id)
		if err != nil {
			return err
		}
		owner, prev, err := attemptByHash(ctx, tx, a.Hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case owner != id:
			return fmt.Errorf("%w: hash %s is an attempt of transaction %d", consolidate.ErrIdempotencyConflict, a.Hash, owner)
		case !prev.sameAs(row):
			return fmt.Errorf("%w: hash %s is recorded with other contents", consolidate.ErrIdempotencyConflict, a.Hash)
		default:
			return nil // recorded before: a retry
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, sqlNextSeq, id).Scan(&seq); err != nil {
			return err
		}
		if err := insertAttempt(ctx, tx, id, seq, row); err != nil || seq > 1 {
			return err
		}
		// No attempt before this one: a reservation, signed now. The
		// attempt's UNIQUE hash cannot collide with another transaction's,
		// which is always one of that transaction's own attempts.
		res, err := tx.ExecContext(ctx, sqlSign, row.hash, row.raw, row.createdAt, id)
		if err != nil {
			return err
		}
		if err := oneRow(res, id); err != nil {
			return err
		}
		return insertEvent(ctx, tx, consolidate.EventSigned, id, sc.accountID, consolidate.StatusPending, fromUnixNano(row.createdAt))
	})
	if err != nil {
		return wrap(fmt.Sprintf("add attempt to transaction %d", id), err)
	}
	return nil
}

// Attempts lists a transaction's signed attempts in the order they were
// recorded, the original first; see consolidate.Store. A reserved
// transaction not yet signed has none; an unknown one is ErrNotFound.
// Attempts recorded before this package stored quotes have a zero
// GasLimit and nil caps.
func (s *Store) Attempts(ctx context.Context, id int64) ([]consolidate.Attempt, error) {
	as, err := s.attempts(ctx, id)
	if err != nil {
		return nil, wrap("attempts", err)
	}
	return as, nil
}

func (s *Store) attempts(ctx context.Context, id int64) ([]consolidate.Attempt, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, sqlSelectAttempts, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var as []consolidate.Attempt
	for rows.Next() {
		r, err := scanAttemptRow(rows)
		if err != nil {
			return nil, err
		}
		a, err := r.decode()
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", id, err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(as) == 0 {
		// Only a reservation not yet signed has no attempts: tell it apart
		// from no transaction.
		var one int
		if err := s.r.QueryRowContext(ctx, sqlTransactionExists, id).Scan(&one); err != nil {
			return nil, notFound(err, "transaction", id)
		}
	}
	return as, nil
}
