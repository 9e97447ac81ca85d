package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const attemptColumns = `hash, raw, gas_limit, gas_tip_cap::text, gas_fee_cap::text, cancel, created_at`

const (
	sqlInsertAttempt = `INSERT INTO attempts (transaction_id, seq, hash, raw, gas_limit, gas_tip_cap, gas_fee_cap, cancel, created_at)
		SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5::numeric, $6::numeric, $7, $8
		FROM attempts WHERE transaction_id = $1`
	sqlSelectAttemptByHash = `SELECT transaction_id, ` + attemptColumns + ` FROM attempts WHERE hash = $1`
	sqlSelectAttempts      = `SELECT ` + attemptColumns + ` FROM attempts WHERE transaction_id = $1 ORDER BY seq`
	sqlTransactionUnsigned = `SELECT hash IS NULL FROM transactions WHERE id = $1`
	// Locks the row: AddAttempt and Settle on one transaction take turns,
	// so an attempt is recorded before the settlement or refused after it,
	// and of two first attempts of a reservation one signs it and the
	// other, having waited, finds it signed.
	sqlLockPending = `SELECT account_id, status, parked, hash IS NULL FROM transactions WHERE id = $1 FOR UPDATE`
	// A reservation's first attempt signs it. hash IS NULL only guards
	// what the row lock already decided.
	sqlSign = `UPDATE transactions SET hash = $2, raw = $3, version = version + 1, updated_at = $4
		WHERE id = $1 AND status = 'PENDING' AND hash IS NULL`
)

// quoteRow is a consolidate.Quote as stored. The caps are nil when the
// quote is not known.
type quoteRow struct {
	gasLimit       int64
	tipCap, feeCap *string
}

// encodeQuote checks that q can be stored. Both caps nil means the quote
// is not known; otherwise each cap must be a uint256, or the error wraps
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
	tip, errTip := encodeAmount(q.GasTipCap)
	feeCap, errFee := encodeAmount(q.GasFeeCap)
	if errTip != nil || errFee != nil {
		return quoteRow{}, fmt.Errorf("%w: gas caps %v, %v", consolidate.ErrInvalidAmount, q.GasTipCap, q.GasFeeCap)
	}
	r.tipCap, r.feeCap = &tip, &feeCap
	return r, nil
}

func (r quoteRow) decode() (consolidate.Quote, error) {
	q := consolidate.Quote{GasLimit: uint64(r.gasLimit)}
	var errTip, errFee error
	q.GasTipCap, errTip = decodeOptionalAmount(r.tipCap)
	q.GasFeeCap, errFee = decodeOptionalAmount(r.feeCap)
	return q, errors.Join(errTip, errFee)
}

// attemptRow is a consolidate.Attempt as stored.
type attemptRow struct {
	hash, raw []byte
	quote     quoteRow
	cancel    bool
	createdAt time.Time
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
	return attemptRow{hash: a.Hash.Bytes(), raw: a.Raw, quote: q, cancel: a.Cancel, createdAt: dbTime(nowOr(a.CreatedAt))}, nil
}

// sameAs reports whether r and o record the same signed transaction: all
// but the time it was recorded.
func (r attemptRow) sameAs(o attemptRow) bool {
	return bytes.Equal(r.hash, o.hash) && bytes.Equal(r.raw, o.raw) && r.cancel == o.cancel &&
		r.quote.gasLimit == o.quote.gasLimit &&
		eqText(r.quote.tipCap, o.quote.tipCap) && eqText(r.quote.feeCap, o.quote.feeCap)
}

func eqText(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// scanAttemptRow reads attemptColumns after any columns in dest.
func scanAttemptRow(row pgx.Row, dest ...any) (attemptRow, error) {
	var r attemptRow
	dest = append(dest, &r.hash, &r.raw, &r.quote.gasLimit, &r.quote.tipCap, &r.quote.feeCap, &r.cancel, &r.createdAt)
	if err := row.Scan(dest...); err != nil {
		return attemptRow{}, err
	}
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
	return consolidate.Attempt{SignedTx: consolidate.SignedTx{Hash: h, Raw: r.raw}, Quote: q, Cancel: r.cancel, CreatedAt: r.createdAt}, nil
}

// attemptByHash returns the attempt with hash and the transaction it
// belongs to, or pgx.ErrNoRows.
func attemptByHash(ctx context.Context, q pgx.Tx, hash common.Hash) (int64, attemptRow, error) {
	var owner int64
	r, err := scanAttemptRow(q.QueryRow(ctx, sqlSelectAttemptByHash, hash.Bytes()), &owner)
	return owner, r, err
}

// schedule is the part of a transaction row the scheduling methods need.
type schedule struct {
	accountID int64
	parked    bool
	unsigned  bool // a reservation without an attempt yet
}

// lockPending locks a transaction's row and fails with ErrNotFound or
// ErrNotPending unless it is pending.
func lockPending(ctx context.Context, tx pgx.Tx, id int64) (schedule, error) {
	var (
		sc     schedule
		status string
	)
	if err := tx.QueryRow(ctx, sqlLockPending, id).Scan(&sc.accountID, &status, &sc.parked, &sc.unsigned); err != nil {
		return schedule{}, notFound(err, "transaction", id)
	}
	if st := consolidate.Status(status); st != consolidate.StatusPending {
		return schedule{}, fmt.Errorf("%w: transaction %d is %s", consolidate.ErrNotPending, id, st)
	}
	return sc, nil
}

// AddAttempt records another signed attempt for a PENDING transaction's
// nonce; see consolidate.Store. A zero a.CreatedAt means the current time.
//
// An attempt already recorded for the transaction changes nothing and
// returns nil; the same hash with other bytes, quote or Cancel flag, or a
// hash recorded for another transaction, is ErrIdempotencyConflict. A
// final transaction is ErrNotPending, an unknown one ErrNotFound.
//
// The first attempt of a reservation signs it: in the same transaction
// the transaction's hash and raw bytes become the attempt's, its Version
// increases and an EventSigned event is written, dated a.CreatedAt.
// AddAttempt locks the transaction's row before it looks, so of two
// first attempts recorded at once the one that waited for the lock is
// recorded second and leaves the transaction alone. Any other attempt
// leaves the transaction's row and Version alone.
func (s *Store) AddAttempt(ctx context.Context, id int64, a consolidate.Attempt) error {
	row, err := encodeAttempt(a)
	if err == nil {
		err = s.inTx(ctx, func(tx pgx.Tx) error { return addAttempt(ctx, tx, id, a.Hash, row) })
	}
	if err != nil {
		return wrap(fmt.Sprintf("add attempt to transaction %d", id), err)
	}
	return nil
}

func addAttempt(ctx context.Context, tx pgx.Tx, id int64, hash common.Hash, row attemptRow) error {
	sc, err := lockPending(ctx, tx, id)
	if err != nil {
		return err
	}
	owner, prev, err := attemptByHash(ctx, tx, hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return err
	case owner != id:
		return fmt.Errorf("%w: hash %s is an attempt of transaction %d", consolidate.ErrIdempotencyConflict, hash, owner)
	case !prev.sameAs(row):
		return fmt.Errorf("%w: hash %s is recorded with other contents", consolidate.ErrIdempotencyConflict, hash)
	default:
		return nil // recorded before: a retry
	}
	b := &pgx.Batch{}
	b.Queue(sqlInsertAttempt, id, row.hash, row.raw, row.quote.gasLimit,
		row.quote.tipCap, row.quote.feeCap, row.cancel, row.createdAt)
	if sc.unsigned {
		b.Queue(sqlSign, id, row.hash, row.raw, row.createdAt).Exec(func(ct pgconn.CommandTag) error {
			if ct.RowsAffected() != 1 {
				return fmt.Errorf("transaction %d was signed by another attempt while locked", id)
			}
			return nil
		})
		b.Queue(sqlInsertEvent, consolidate.EventSigned, id, sc.accountID, string(consolidate.StatusPending), row.createdAt)
	}
	err = tx.SendBatch(ctx, b).Close()
	if sqlState(err) == uniqueViolation {
		// Another transaction's attempt, committed since the check.
		return fmt.Errorf("%w: hash %s is an attempt of another transaction", consolidate.ErrIdempotencyConflict, hash)
	}
	return err
}

// Attempts lists a transaction's signed attempts in the order they were
// recorded, the original first; see consolidate.Store. A reservation not
// signed yet has none; an unknown transaction is ErrNotFound.
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
	rows, err := s.pool.Query(ctx, sqlSelectAttempts, id)
	if err != nil {
		return nil, err
	}
	as, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (consolidate.Attempt, error) {
		r, err := scanAttemptRow(row)
		if err != nil {
			return consolidate.Attempt{}, err
		}
		return r.decode()
	})
	if err != nil {
		return nil, fmt.Errorf("transaction %d: %w", id, err)
	}
	if len(as) == 0 {
		// A signed transaction has its first attempt stored with its
		// signature, so only a reservation not signed yet has none,
		// unless rows were removed by hand.
		var unsigned bool
		if err := s.pool.QueryRow(ctx, sqlTransactionUnsigned, id).Scan(&unsigned); err != nil {
			return nil, notFound(err, "transaction", id)
		}
		if !unsigned {
			return nil, fmt.Errorf("transaction %d has no attempts", id)
		}
	}
	return as, nil
}
