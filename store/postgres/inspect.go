package postgres

import (
	"context"
	"math"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
)

const (
	sqlPendingSummary = `SELECT count(*), min(created_at), count(*) FILTER (WHERE parked)
		FROM transactions WHERE status = 'PENDING'`
	sqlOpenBySender = `SELECT sender, count(*), min(nonce) FROM transactions
		WHERE status = 'PENDING' GROUP BY sender`
	sqlNonces = `SELECT sender, next FROM nonces ORDER BY sender`
)

// listQuery returns the listing for f and its arguments. The condition
// spells out a partial index's WHERE so that the planner can use it.
func listQuery(f consolidate.Filter) (string, []any) {
	var cond string
	args := []any{f.Cursor, f.Limit}
	switch {
	case f.Parked:
		cond = `status = 'PENDING' AND parked AND `
	case f.Status == consolidate.StatusPending:
		cond = `status = 'PENDING' AND `
	case f.Status != "":
		cond = `status = $3 AND `
		args = append(args, string(f.Status))
	}
	id, order := `id < $1`, `DESC`
	if f.Cursor <= 0 {
		args[0] = int64(math.MaxInt64)
	}
	if f.Oldest {
		id, order, args[0] = `id > $1`, `ASC`, max(f.Cursor, 0)
	}
	return `SELECT ` + txColumns + ` FROM transactions WHERE ` + cond + id + ` ORDER BY id ` + order + ` LIMIT $2`, args
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
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list", err)
	}
	txs, err := pgx.CollectRows(rows, collectTransaction)
	if err != nil {
		return nil, wrap("list", err)
	}
	return txs, nil
}

// Overview counts the open work in one snapshot (REPEATABLE READ); see
// consolidate.Store.
func (s *Store) Overview(ctx context.Context) (consolidate.Overview, error) {
	if err := s.ready(ctx); err != nil {
		return consolidate.Overview{}, wrap("overview", err)
	}
	var o consolidate.Overview
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		o, err = overview(ctx, tx)
		return err
	})
	if err != nil {
		return consolidate.Overview{}, wrap("overview", err)
	}
	return o, nil
}

func overview(ctx context.Context, tx pgx.Tx) (consolidate.Overview, error) {
	var (
		o      consolidate.Overview
		oldest *time.Time
	)
	if err := tx.QueryRow(ctx, sqlPendingSummary).Scan(&o.Pending, &oldest, &o.Parked); err != nil {
		return o, err
	}
	o.OldestPending = fromNullTime(oldest)
	open := map[[20]byte]consolidate.WalletNonces{}
	rows, err := tx.Query(ctx, sqlOpenBySender)
	if err != nil {
		return o, err
	}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var (
			sender    []byte
			n, lowest int64
		)
		if err := row.Scan(&sender, &n, &lowest); err != nil {
			return struct{}{}, err
		}
		addr, err := decodeAddress(sender)
		open[addr] = consolidate.WalletNonces{Sender: addr, Open: n, LowestOpen: uint64(lowest)}
		return struct{}{}, err
	})
	if err != nil {
		return o, err
	}
	if rows, err = tx.Query(ctx, sqlNonces); err != nil {
		return o, err
	}
	o.Wallets, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (consolidate.WalletNonces, error) {
		var (
			sender []byte
			next   int64
		)
		if err := row.Scan(&sender, &next); err != nil {
			return consolidate.WalletNonces{}, err
		}
		addr, err := decodeAddress(sender)
		w := open[addr]
		w.Sender, w.Next = addr, uint64(next)
		return w, err
	})
	return o, err
}
