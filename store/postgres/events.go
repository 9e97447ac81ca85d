package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
)

const (
	sqlInsertEvent = `INSERT INTO events (type, transaction_id, account_id, status, created_at) VALUES ($1, $2, $3, $4, $5)`
	// Reads the partial index events_unsent: sent events cost nothing.
	sqlSelectEvents = `SELECT id, type, transaction_id, account_id, status, created_at
		FROM events WHERE sent_at IS NULL ORDER BY id LIMIT $1`
	sqlMarkSent = `UPDATE events SET sent_at = $1 WHERE sent_at IS NULL AND id = ANY($2)`
)

// Note writes an outbox event of type typ about a PENDING transaction,
// dated at (the current time if zero), and changes nothing else; see
// consolidate.Store. It locks the transaction's row as Settle does, so a
// Note is written before the settlement or refused after it. An empty
// typ is ErrInvalidArgument, an unknown transaction ErrNotFound and a
// final one ErrNotPending.
func (s *Store) Note(ctx context.Context, id int64, typ string, at time.Time) error {
	if typ == "" {
		return fmt.Errorf("%w: note on transaction %d: empty event type", consolidate.ErrInvalidArgument, id)
	}
	at = dbTime(nowOr(at))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		sc, err := lockPending(ctx, tx, id)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sqlInsertEvent, typ, id, sc.accountID, string(consolidate.StatusPending), at)
		return err
	})
	if err != nil {
		return wrap(fmt.Sprintf("note on transaction %d", id), err)
	}
	return nil
}

// Events returns up to limit unsent events, oldest first.
//
// IDs are taken when an event is written, not when it commits, so an
// event may show up after one with a higher ID that committed first: a
// relay that polls again sees it then.
func (s *Store) Events(ctx context.Context, limit int) ([]consolidate.Event, error) {
	evs, err := s.events(ctx, limit)
	if err != nil {
		return nil, wrap("events", err)
	}
	return evs, nil
}

func (s *Store) events(ctx context.Context, limit int) ([]consolidate.Event, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, sqlSelectEvents, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (consolidate.Event, error) {
		var (
			e      consolidate.Event
			status string
		)
		err := row.Scan(&e.ID, &e.Type, &e.TransactionID, &e.AccountID, &status, &e.CreatedAt)
		e.Status = consolidate.Status(status)
		return e, err
	})
}

// MarkSent marks events as published. Unknown or already sent IDs are
// ignored, so a relay that retries after a crash does no harm.
func (s *Store) MarkSent(ctx context.Context, ids []int64) error {
	if err := s.ready(ctx); err != nil {
		return wrap("mark sent", err)
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, sqlMarkSent, dbTime(time.Now()), ids); err != nil {
		return wrap("mark sent", err)
	}
	return nil
}
