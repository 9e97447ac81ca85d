package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
)

const (
	sqlReschedule = `UPDATE transactions SET checks = $2, next_check_at = $3, parked = false, updated_at = $4
		WHERE id = $1 AND status = 'PENDING'`
	sqlPark = `UPDATE transactions SET next_check_at = $2, parked = true, updated_at = $3
		WHERE id = $1 AND status = 'PENDING'`
	// status = 'PENDING' matches the partial index transactions_due, which
	// holds only pending rows: the cost is the number due, not the history.
	sqlDue = `SELECT id FROM transactions
		WHERE status = 'PENDING' AND id > $1 AND next_check_at <= $2
		ORDER BY id LIMIT $3`
	// The partial index transactions_parked holds only parked rows.
	sqlParked = `SELECT id FROM transactions
		WHERE status = 'PENDING' AND parked AND id > $1 AND next_check_at <= $2
		ORDER BY id LIMIT $3`
)

// Reschedule records a check that found the transaction not final yet,
// and puts a parked transaction back on the regular schedule. A zero next
// means due at once.
func (s *Store) Reschedule(ctx context.Context, id int64, checks int, next time.Time) error {
	if checks < 0 || checks > 1<<31-1 {
		return fmt.Errorf("%w: reschedule: checks %d", consolidate.ErrInvalidArgument, checks)
	}
	next = dbTime(nowOr(next))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockPending(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sqlReschedule, id, int32(checks), next, dbTime(time.Now()))
		return err
	})
	if err != nil {
		return wrap("reschedule", err)
	}
	return nil
}

// Park marks a PENDING transaction parked, its check budget spent, and
// moves its next check to next. Only the first Park writes an
// EventDeadLettered event, so a redelivered dead-letter step or a parked
// transaction's slow re-check does not announce it again.
func (s *Store) Park(ctx context.Context, id int64, next time.Time) error {
	now := dbTime(time.Now())
	next = dbTime(nowOr(next))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		sc, err := lockPending(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlPark, id, next, now); err != nil || sc.parked {
			return err
		}
		_, err = tx.Exec(ctx, sqlInsertEvent, consolidate.EventDeadLettered, id, sc.accountID, string(consolidate.StatusPending), now)
		return err
	})
	if err != nil {
		return wrap("park", err)
	}
	return nil
}

// Due returns the IDs of PENDING transactions, parked or not, whose next
// check is at or before t and whose ID is above after, in ID order.
func (s *Store) Due(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	ids, err := s.ids(ctx, sqlDue, t, after, limit)
	if err != nil {
		return nil, wrap("due", err)
	}
	return ids, nil
}

// Parked is Due for parked transactions only.
func (s *Store) Parked(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	ids, err := s.ids(ctx, sqlParked, t, after, limit)
	if err != nil {
		return nil, wrap("parked", err)
	}
	return ids, nil
}

func (s *Store) ids(ctx context.Context, query string, t time.Time, after int64, limit int) ([]int64, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, query, after, dbTime(t), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
