package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/go-consolidate/consolidate"
)

const (
	sqlSelectSchedule = `SELECT account_id, status, parked FROM transactions WHERE id = ?`
	sqlReschedule     = `UPDATE transactions SET checks = ?, next_check_at = ?, parked = 0, updated_at = ?
		WHERE id = ? AND status = 'PENDING'`
	sqlPark = `UPDATE transactions SET next_check_at = ?, parked = 1, updated_at = ?
		WHERE id = ? AND status = 'PENDING'`
	// status = 'PENDING' lets SQLite use the partial index transactions_due,
	// which holds only pending rows: the cost is the number due, not the
	// history.
	sqlDue = `SELECT id FROM transactions
		WHERE status = 'PENDING' AND id > ? AND next_check_at <= ?
		ORDER BY id LIMIT ?`
	// The partial index transactions_parked holds only parked rows.
	sqlParked = `SELECT id FROM transactions
		WHERE status = 'PENDING' AND parked = 1 AND id > ? AND next_check_at <= ?
		ORDER BY id LIMIT ?`
)

// schedule is the part of a transaction row the scheduling methods need.
type schedule struct {
	accountID int64
	status    consolidate.Status
	parked    bool
}

// pendingSchedule reads a transaction's schedule and fails with
// ErrNotFound or ErrNotPending unless it is pending.
func pendingSchedule(ctx context.Context, tx *wtx, id int64) (schedule, error) {
	var (
		sc     schedule
		status string
	)
	if err := tx.QueryRowContext(ctx, sqlSelectSchedule, id).Scan(&sc.accountID, &status, &sc.parked); err != nil {
		return schedule{}, notFound(err, "transaction", id)
	}
	sc.status = consolidate.Status(status)
	if sc.status != consolidate.StatusPending {
		return schedule{}, fmt.Errorf("%w: transaction %d is %s", consolidate.ErrNotPending, id, sc.status)
	}
	return sc, nil
}

// Reschedule records a check that found the transaction not final yet,
// and puts a parked transaction back on the regular schedule. A zero next
// means due at once.
func (s *Store) Reschedule(ctx context.Context, id int64, checks int, next time.Time) error {
	if checks < 0 {
		return fmt.Errorf("%w: reschedule: negative checks %d", consolidate.ErrInvalidArgument, checks)
	}
	next = nowOr(next)
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := pendingSchedule(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, sqlReschedule, int64(checks), unixNano(next), unixNano(time.Now()), id)
		if err != nil {
			return err
		}
		return oneRow(res, id)
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
	now := time.Now()
	next = nowOr(next)
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		sc, err := pendingSchedule(ctx, tx, id)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, sqlPark, unixNano(next), unixNano(now), id)
		if err != nil {
			return err
		}
		if err := oneRow(res, id); err != nil || sc.parked {
			return err
		}
		return insertEvent(ctx, tx, consolidate.EventDeadLettered, id, sc.accountID, consolidate.StatusPending, now)
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
	rows, err := s.r.QueryContext(ctx, query, after, unixNano(t), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
