package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-consolidate/consolidate"
)

const (
	sqlInsertEventHead = `INSERT INTO events (type, transaction_id, account_id, status, created_at) VALUES `
	sqlEventRow        = `(?, ?, ?, ?, ?)`
	// Reads the partial index events_unsent: sent events cost nothing.
	sqlSelectEvents = `SELECT id, type, transaction_id, account_id, status, created_at
		FROM events WHERE sent_at IS NULL ORDER BY id LIMIT ?`
	sqlMarkSent = `UPDATE events SET sent_at = ? WHERE sent_at IS NULL AND id IN `
)

// markBatch bounds the IDs bound in one UPDATE, well below SQLite's limit
// on host parameters.
const markBatch = 500

// insertEvent writes an outbox row in the caller's transaction, so the event
// exists if and only if the change it describes was committed. In a batch
// the row waits for the end of the batch, where the rows of all its writes
// go in together (wtx.finish); a write that fails takes its row back.
func insertEvent(ctx context.Context, tx *wtx, typ string, txID, accountID int64, status consolidate.Status, at time.Time) error {
	return tx.outbox(ctx, eventRow{typ: typ, txID: txID, accountID: accountID, status: status, at: unixNano(at)})
}

// outbox writes outbox rows, or in a batch keeps them for its end.
func (t *wtx) outbox(ctx context.Context, es ...eventRow) error {
	if t.deferring {
		t.events = append(t.events, es...)
		return nil
	}
	return insertEvents(ctx, t, es)
}

// insertEvents writes outbox rows, a chunk of rows per statement.
func insertEvents(ctx context.Context, tx *wtx, es []eventRow) error {
	return insertRows(ctx, tx, sqlInsertEventHead, sqlEventRow, len(es), func(args []any, i int) []any {
		return es[i].args(args)
	})
}

// An eventRow is an outbox row as sqlEventRow takes it.
type eventRow struct {
	typ             string
	txID, accountID int64
	status          consolidate.Status
	at              int64
}

func (e eventRow) args(dst []any) []any {
	return append(dst, e.typ, e.txID, e.accountID, string(e.status), e.at)
}

// Note writes an outbox event of type typ about a PENDING transaction and
// changes nothing else; see consolidate.Store. A zero at means the current
// time. An unknown transaction is ErrNotFound, a final one ErrNotPending;
// typ must not be empty.
func (s *Store) Note(ctx context.Context, id int64, typ string, at time.Time) error {
	if typ == "" {
		return fmt.Errorf("%w: note: empty event type", consolidate.ErrInvalidArgument)
	}
	at = nowOr(at)
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		sc, err := pendingSchedule(ctx, tx, id)
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, typ, id, sc.accountID, consolidate.StatusPending, at)
	})
	if err != nil {
		return wrap("note", err)
	}
	return nil
}

// Events returns up to limit unsent events, oldest first.
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
	rows, err := s.r.QueryContext(ctx, sqlSelectEvents, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []consolidate.Event
	for rows.Next() {
		var (
			e       consolidate.Event
			status  string
			created int64
		)
		if err := rows.Scan(&e.ID, &e.Type, &e.TransactionID, &e.AccountID, &status, &created); err != nil {
			return nil, err
		}
		e.Status, e.CreatedAt = consolidate.Status(status), fromUnixNano(created)
		evs = append(evs, e)
	}
	return evs, rows.Err()
}

// MarkSent marks events as published. Unknown or already sent IDs are
// ignored, so a relay that retries after a crash does no harm.
func (s *Store) MarkSent(ctx context.Context, ids []int64) error {
	now := unixNano(time.Now())
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		for rest := ids; len(rest) > 0; {
			n := min(len(rest), markBatch)
			args := make([]any, 0, n+1)
			args = append(args, now)
			for _, id := range rest[:n] {
				args = append(args, id)
			}
			q := sqlMarkSent + "(?" + strings.Repeat(", ?", n-1) + ")"
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return wrap("mark sent", err)
	}
	return nil
}
