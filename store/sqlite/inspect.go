package sqlite

import (
	"context"
	"database/sql"
	"math"

	"github.com/go-consolidate/consolidate"
)

const (
	sqlPendingSummary = `SELECT count(*), coalesce(min(created_at), 0), coalesce(sum(parked), 0)
		FROM transactions WHERE status = 'PENDING'`
	sqlOpenBySender = `SELECT sender, count(*), min(nonce) FROM transactions
		WHERE status = 'PENDING' GROUP BY sender`
	sqlNonces = `SELECT sender, next FROM nonces ORDER BY sender`
)

// listQuery returns the listing for f and its arguments. The condition
// spells out a partial index's WHERE: SQLite uses the index only then.
func listQuery(f consolidate.Filter) (string, []any) {
	var cond string
	switch {
	case f.Parked:
		cond = `status = 'PENDING' AND parked = 1 AND `
	case f.Status == consolidate.StatusPending:
		cond = `status = 'PENDING' AND `
	case f.Status != "":
		cond = `status = ?1 AND `
	}
	id, order, cursor := `id < ?2`, `DESC`, f.Cursor
	if cursor <= 0 {
		cursor = math.MaxInt64
	}
	if f.Oldest {
		id, order, cursor = `id > ?2`, `ASC`, max(f.Cursor, 0)
	}
	q := `SELECT ` + txColumns + ` FROM transactions WHERE ` + cond + id + ` ORDER BY id ` + order + ` LIMIT ?3`
	return q, []any{string(f.Status), cursor, f.Limit}
}

// List returns transactions of every account that match f; see
// consolidate.Store.
func (s *Store) List(ctx context.Context, f consolidate.Filter) ([]consolidate.Transaction, error) {
	if err := s.ready(ctx); err != nil {
		return nil, wrap("list", err)
	}
	if f.Limit <= 0 {
		return nil, nil
	}
	q, args := listQuery(f)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list", err)
	}
	defer rows.Close()
	var txs []consolidate.Transaction
	for rows.Next() {
		t, err := scanTransaction(rows)
		if err != nil {
			return nil, wrap("list", err)
		}
		txs = append(txs, t)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list", err)
	}
	return txs, nil
}

// Overview counts the open work in one read snapshot; see
// consolidate.Store.
func (s *Store) Overview(ctx context.Context) (consolidate.Overview, error) {
	if err := s.ready(ctx); err != nil {
		return consolidate.Overview{}, wrap("overview", err)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return consolidate.Overview{}, wrap("overview", err)
	}
	defer tx.Rollback()
	o, err := overview(ctx, tx)
	if err != nil {
		return consolidate.Overview{}, wrap("overview", err)
	}
	return o, nil
}

func overview(ctx context.Context, tx *sql.Tx) (consolidate.Overview, error) {
	var (
		o      consolidate.Overview
		oldest int64
	)
	if err := tx.QueryRowContext(ctx, sqlPendingSummary).Scan(&o.Pending, &oldest, &o.Parked); err != nil {
		return o, err
	}
	if o.Pending > 0 {
		o.OldestPending = fromUnixNano(oldest)
	}
	open := map[[20]byte]consolidate.WalletNonces{}
	rows, err := tx.QueryContext(ctx, sqlOpenBySender)
	if err != nil {
		return o, err
	}
	for rows.Next() {
		var (
			sender      []byte
			n, lowest   int64
			w           consolidate.WalletNonces
			errDecoding error
		)
		if err := rows.Scan(&sender, &n, &lowest); err != nil {
			rows.Close()
			return o, err
		}
		if w.Sender, errDecoding = decodeAddress(sender); errDecoding != nil {
			rows.Close()
			return o, errDecoding
		}
		w.Open, w.LowestOpen = n, uint64(lowest)
		open[w.Sender] = w
	}
	if err := errorsOf(rows); err != nil {
		return o, err
	}
	if rows, err = tx.QueryContext(ctx, sqlNonces); err != nil {
		return o, err
	}
	for rows.Next() {
		var (
			sender []byte
			next   int64
		)
		if err := rows.Scan(&sender, &next); err != nil {
			rows.Close()
			return o, err
		}
		addr, err := decodeAddress(sender)
		if err != nil {
			rows.Close()
			return o, err
		}
		w := open[addr]
		w.Sender, w.Next = addr, uint64(next)
		o.Wallets = append(o.Wallets, w)
	}
	return o, errorsOf(rows)
}

// errorsOf closes rows and returns the error that ended its iteration.
func errorsOf(rows *sql.Rows) error {
	err := rows.Err()
	rows.Close()
	return err
}
