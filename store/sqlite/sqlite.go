package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-consolidate/consolidate"

	// Registers the pure-Go "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

var _ consolidate.Store = (*Store)(nil)

// Memory is the path that opens a private in-memory database; see Open.
const Memory = ":memory:"

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection or process before it fails. Defaults to 5 seconds.
	BusyTimeout time.Duration
	// ReadConns is the number of connections in the read pool. Defaults
	// to 4. A Memory database has one connection for everything.
	ReadConns int
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.BusyTimeout == 0 {
		r.BusyTimeout = 5 * time.Second
	}
	if r.ReadConns == 0 {
		r.ReadConns = 4
	}
	return r
}

func (o Options) validate() error {
	if o.BusyTimeout < time.Millisecond {
		return fmt.Errorf("consolidate: sqlite: BusyTimeout %v is below 1ms", o.BusyTimeout)
	}
	if o.ReadConns < 0 {
		return fmt.Errorf("consolidate: sqlite: negative ReadConns %d", o.ReadConns)
	}
	return nil
}

// Store is a consolidate.Store in one SQLite database file. Its methods are
// safe for concurrent use.
type Store struct {
	// w has exactly one connection: SQLite allows one writer at a time, and
	// queueing writers in the pool is cheaper than letting them spin on
	// SQLITE_BUSY.
	w *sql.DB
	// r serves reads. WAL lets them run alongside the writer.
	r      *sql.DB
	closed atomic.Bool
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date. A nil opts means the defaults.
//
// Path Memory opens a private in-memory database with no durability, for
// tests and examples; it lives as long as the Store.
func Open(path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("consolidate: sqlite: empty path")
	}
	if path == Memory {
		return openMemory(o)
	}

	w, err := sql.Open("sqlite", dsn(path, o, false))
	if err != nil {
		return nil, fmt.Errorf("consolidate: sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Migrate before the read pool exists: it also switches the file to WAL,
	// which needs a moment of exclusive access.
	if err := migrate(context.Background(), w); err != nil {
		w.Close()
		return nil, fmt.Errorf("consolidate: sqlite: migrate %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", dsn(path, o, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("consolidate: sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.ReadConns)
	r.SetMaxIdleConns(o.ReadConns)
	if err := r.Ping(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("consolidate: sqlite: open %s: %w", path, err)
	}
	return &Store{w: w, r: r}, nil
}

// openMemory shares one connection between reads and writes: each
// connection to ":memory:" would otherwise see its own empty database.
func openMemory(o Options) (*Store, error) {
	db, err := sql.Open("sqlite", dsn(Memory, o, false))
	if err != nil {
		return nil, fmt.Errorf("consolidate: sqlite: open memory: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := migrate(context.Background(), db); err != nil {
		db.Close()
		return nil, fmt.Errorf("consolidate: sqlite: migrate memory: %w", err)
	}
	return &Store{w: db, r: db}, nil
}

// dsn sets every pragma per connection, so a connection the pool opens
// later is configured like the first. _txlock=immediate makes the driver
// open every transaction with BEGIN IMMEDIATE: the write lock is taken up
// front, so a transaction that read a balance can never fail to upgrade
// to a writer (SQLITE_BUSY mid-transaction) after another process wrote.
func dsn(path string, o Options, readOnly bool) string {
	q := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10) + ")",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(FULL)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate",
	}
	if readOnly {
		q = append(q, "_pragma=query_only(1)")
	}
	return "file:" + escapePath(path) + "?" + strings.Join(q, "&")
}

// escapePath keeps a file name intact inside a SQLite URI, where '?' starts
// the query, '#' a fragment and '%' an escape.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// Close closes the database. Methods called afterwards return
// consolidate.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	var rerr error
	if s.r != s.w {
		rerr = s.r.Close()
	}
	if err := errors.Join(rerr, s.w.Close()); err != nil {
		return fmt.Errorf("consolidate: sqlite: close: %w", err)
	}
	return nil
}

// ready reports why no statement should run: a done context or a closed
// store.
func (s *Store) ready(ctx context.Context) error {
	if s.closed.Load() {
		return consolidate.ErrClosed
	}
	return ctx.Err()
}

// write runs fn in one write transaction and commits it, or rolls it back
// if fn fails. Every write path goes through here, so every one starts
// with BEGIN IMMEDIATE (see dsn) on the single writer connection and ends
// with a COMMIT that is on disk (synchronous=FULL) when write returns.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// The rollback error adds nothing: fn's error is the cause, and
		// SQLite rolls back an unfinished transaction on its own.
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// notFound maps database/sql's "no row" to the library's sentinel.
func notFound(err error, what string, id int64) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %d: %w", what, id, consolidate.ErrNotFound)
	}
	return err
}
