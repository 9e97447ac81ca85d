package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
)

// ErrOutcomeUnknown is returned by Submit when the connection was lost
// after its batch's COMMIT was sent and the database could not be asked,
// before ctx ended, whether it committed. The transfer may be stored with
// its funds held, or not at all. A retry with the same idempotency key
// returns the original outcome; without a key the caller cannot tell, so
// submit with keys. See "Unknown commit outcomes" in the package
// documentation.
var ErrOutcomeUnknown = errors.New("consolidate: postgres: commit outcome unknown")

const (
	// The batch held this lock from before its first write until it
	// ended: once it is granted, that transaction has committed or rolled
	// back for good.
	sqlAwaitAccount            = `SELECT 1 FROM accounts WHERE id = $1 FOR SHARE`
	sqlSelectTransactionByHash = `SELECT ` + txColumns + ` FROM transactions WHERE hash = $1`
	// A reservation has no hash: its row is the one at the nonce the
	// batch gave it that holds its request, down to the microsecond it
	// was made, and under its key with its request hash if it has one.
	// What a later change may set (hash, status, the schedule) is not
	// compared.
	sqlSelectReservation = `SELECT ` + txColumns + ` FROM transactions t
		WHERE sender = $1 AND nonce = $2 AND account_id = $3 AND recipient = $4
		AND amount = $5::numeric AND fee_total = $6::numeric
		AND idempotency_key IS NOT DISTINCT FROM $7 AND created_at = $8
		AND ($7::text IS NULL OR EXISTS (SELECT 1 FROM idempotency i
			WHERE i.account_id = $3 AND i.key = $7 AND i.request_hash = $9 AND i.transaction_id = t.id))`
	sqlRejectionRecorded = `SELECT true FROM idempotency
		WHERE account_id = $1 AND key = $2 AND request_hash = $3 AND error_code IS NOT NULL`
)

// resolve finds out whether the batch that res came from committed r,
// from rows only that commit could have written: the transfer's signed
// hash (unique, and made for this Submit alone), for a reservation the
// transfer at the nonce the batch gave it holding exactly r's request,
// or its recorded rejection. It asks again, on a fresh connection each
// time, until it learns the answer or ctx ends.
func (s *Store) resolve(ctx context.Context, r *submitReq, res submitResult) submitResult {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		tx, committed, err := s.committed(ctx, r, res)
		switch {
		case err == nil && !committed:
			return submitResult{err: fmt.Errorf("commit failed, nothing was stored: %w", res.cause)}
		case err == nil && res.err != nil:
			return submitResult{err: res.err} // the recorded rejection
		case err == nil:
			return submitResult{tx: tx, created: true}
		case errors.Is(err, consolidate.ErrClosed):
			return submitResult{err: fmt.Errorf("%w: %w (and then %w)", ErrOutcomeUnknown, res.cause, unprefixed{err})}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return submitResult{err: fmt.Errorf("%w: %w (and then %w)", ErrOutcomeUnknown, res.cause, ctx.Err())}
		case <-t.C:
		}
	}
}

// committed reports whether r's batch committed, with the transaction it
// stored for r if r was accepted.
func (s *Store) committed(ctx context.Context, r *submitReq, res submitResult) (consolidate.Transaction, bool, error) {
	var (
		tx    consolidate.Transaction
		found bool
	)
	err := s.inTx(ctx, func(q pgx.Tx) error {
		found = false
		if _, err := q.Exec(ctx, sqlAwaitAccount, r.p.AccountID); err != nil {
			return err
		}
		var err error
		switch {
		case res.err != nil:
			err = q.QueryRow(ctx, sqlRejectionRecorded, r.p.AccountID, r.p.IdempotencyKey, r.p.RequestHash[:]).Scan(&found)
		case r.reserved():
			tx, err = scanTransaction(q.QueryRow(ctx, sqlSelectReservation, r.p.From.Bytes(), int64(res.tx.Nonce),
				r.p.AccountID, r.p.To.Bytes(), r.amount, r.fee, nullString(r.p.IdempotencyKey), r.now, r.p.RequestHash[:]))
		default:
			tx, err = scanTransaction(q.QueryRow(ctx, sqlSelectTransactionByHash, res.tx.Hash.Bytes()))
		}
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		found = true
		return nil
	})
	return tx, found, err
}
