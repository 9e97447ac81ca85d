package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// ledger is the store a command works on, with the few reads the Store
// interface does not offer.
type ledger struct {
	store consolidate.Store
	kind  string // sqlite or postgres
	where string // the file, or host:port/database: never a password
	// query runs a one-row query on a connection of its own, with ?
	// placeholders on SQLite and $1 on PostgreSQL.
	query func(ctx context.Context, q string, args []any, dest ...any) error
}

// openLedger opens the configured store, which creates it if need be
// and brings its schema up to date, as the stores do on every open. Only
// migrate may create a SQLite file: elsewhere a mistyped path would
// show an empty ledger.
func (c *cli) openLedger(ctx context.Context, create bool) (*ledger, error) {
	if c.opts.postgres != "" {
		return openPostgres(ctx, c.opts.postgres)
	}
	path := c.opts.db
	if !create {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no ledger at %s; create one with 'consolidate -db %s migrate'", path, path)
		}
	}
	st, err := sqlite.Open(path, nil)
	if err != nil {
		return nil, err
	}
	l := &ledger{store: st, kind: "sqlite", where: path}
	l.query = func(ctx context.Context, q string, args []any, dest ...any) error {
		// A connection of its own, read-only: the Store keeps its pools
		// to itself. The driver is the one store/sqlite registers.
		db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			return err
		}
		defer db.Close()
		return db.QueryRowContext(ctx, q, args...).Scan(dest...)
	}
	return l, nil
}

func openPostgres(ctx context.Context, dsn string) (*ledger, error) {
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx quotes the DSN's problem, never its password.
		return nil, fmt.Errorf("-postgres: %w", err)
	}
	cfg := pcfg.ConnConfig
	st, err := postgres.Open(ctx, dsn, &postgres.Options{MaxConns: 4})
	if err != nil {
		return nil, err
	}
	l := &ledger{store: st, kind: "postgres", where: fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)}
	l.query = func(ctx context.Context, q string, args []any, dest ...any) error {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		q = numberPlaceholders(q)
		err = conn.QueryRow(ctx, q, args...).Scan(dest...)
		if errors.Is(err, pgx.ErrNoRows) {
			return sql.ErrNoRows
		}
		return err
	}
	return l, nil
}

func (l *ledger) close() { l.store.Close() }

// schemaVersion is the newest migration applied.
func (l *ledger) schemaVersion(ctx context.Context) (int, error) {
	var v int
	err := l.query(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`, nil, &v)
	return v, err
}

// transferByHash finds the transfer one of whose signed attempts (the
// original, a fee bump or a cancel) has hash. Every attempt is in the
// attempts table of both stores, the original included.
func (l *ledger) transferByHash(ctx context.Context, hash common.Hash) (int64, error) {
	var id int64
	err := l.query(ctx, `SELECT transaction_id FROM attempts WHERE hash = ?`, []any{hash.Bytes()}, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &notFoundError{msg: "transfer with hash " + hash.Hex() + " not found", err: consolidate.ErrNotFound}
	}
	if err != nil {
		return 0, fmt.Errorf("look up hash %s: %w", hash.Hex(), err)
	}
	return id, nil
}

// numberPlaceholders turns ? placeholders into PostgreSQL's $1, $2, …
// The queries here hold no literal question marks.
func numberPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapePath keeps a file name intact inside a SQLite URI, as
// store/sqlite does.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}
