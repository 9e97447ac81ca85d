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
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	// Registers the pure-Go "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

var (
	_ consolidate.Store       = (*Store)(nil)
	_ consolidate.BatchReader = (*Store)(nil)
)

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
	// MaxBatch is the most writes committed together in one transaction
	// (see "Group commit" in the package documentation). Defaults to 256;
	// 1 turns group commit off.
	MaxBatch int
	// BatchWait is how long the committer waits for more writes after the
	// first one of a batch arrives, when fewer than MaxBatch are queued.
	// Defaults to 0: it takes what is queued and commits at once, and
	// batches form only from writes that arrive while the previous commit
	// is being made.
	BatchWait time.Duration
	// WALSizeLimit is the size, in bytes, that the write-ahead log file is
	// cut back to whenever SQLite starts it over. A reader that holds a
	// snapshot for long (a backup, a large export) lets the log grow
	// while it lasts; without a limit the file keeps that size for good.
	// Defaults to 64 MiB; -1 keeps the file at whatever size it reached.
	WALSizeLimit int64
	// MeterProvider receives the store's metrics: writes per group commit
	// and commit latency (see "Metrics" in the package documentation).
	// Defaults to the global provider (otel.GetMeterProvider()), which
	// records nothing unless the host installs one.
	MeterProvider metric.MeterProvider
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
	if r.MaxBatch == 0 {
		r.MaxBatch = 256
	}
	if r.WALSizeLimit == 0 {
		r.WALSizeLimit = 64 << 20
	}
	if r.MeterProvider == nil {
		r.MeterProvider = otel.GetMeterProvider()
	}
	return r
}

func (o Options) validate() error {
	if o.BusyTimeout < time.Millisecond {
		return fmt.Errorf("%w: sqlite: BusyTimeout %v is below 1ms", consolidate.ErrInvalidConfig, o.BusyTimeout)
	}
	if o.ReadConns < 0 {
		return fmt.Errorf("%w: sqlite: negative ReadConns %d", consolidate.ErrInvalidConfig, o.ReadConns)
	}
	if o.MaxBatch < 0 {
		return fmt.Errorf("%w: sqlite: negative MaxBatch %d", consolidate.ErrInvalidConfig, o.MaxBatch)
	}
	if o.BatchWait < 0 || o.BatchWait > time.Second {
		return fmt.Errorf("%w: sqlite: BatchWait %v is outside [0, 1s]", consolidate.ErrInvalidConfig, o.BatchWait)
	}
	if o.WALSizeLimit < -1 {
		return fmt.Errorf("%w: sqlite: WALSizeLimit %d is below -1", consolidate.ErrInvalidConfig, o.WALSizeLimit)
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
	r      *readPool
	closed atomic.Bool
	c      *committer
	// k checkpoints the write-ahead log in the background; nil for Memory.
	k *checkpointer
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
		return nil, fmt.Errorf("%w: sqlite: empty path", consolidate.ErrInvalidConfig)
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
	ck, err := sql.Open("sqlite", dsn(path, o, false))
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("consolidate: sqlite: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxLifetime(0)
	ck.SetConnMaxIdleTime(0)
	return newStore(w, r, startCheckpointer(ck), o), nil
}

// newStore starts the Store's committer on w; k is nil for Memory.
func newStore(w, r *sql.DB, k *checkpointer, o Options) *Store {
	var committed func()
	if k != nil {
		committed = k.committed
	}
	c := startCommitter(w, o.MaxBatch, o.BatchWait, committed, newInstruments(o.MeterProvider))
	return &Store{w: w, r: newReadPool(r), c: c, k: k}
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
	return newStore(db, db, nil, o), nil
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
		// Group commit puts each write under a savepoint, whose undo
		// pages go to a statement journal: keep it in memory rather than
		// in a temporary file written page by page.
		"_pragma=temp_store(MEMORY)",
		"_pragma=journal_size_limit(" + strconv.FormatInt(o.WALSizeLimit, 10) + ")",
		"_txlock=immediate",
	}
	if readOnly {
		q = append(q, "_pragma=query_only(1)")
	} else {
		// The committer's checkpoint is the backstop (see checkpoint.go).
		q = append(q, "_pragma=wal_autocheckpoint("+strconv.Itoa(walBackstopFrames)+")")
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
	// Writes already taken by the committer finish; queued ones fail
	// with ErrClosed.
	s.c.stop()
	var kerr, rerr error
	if s.k != nil {
		kerr = s.k.stop()
	}
	if s.r.DB != s.w {
		rerr = s.r.Close()
	}
	if err := errors.Join(kerr, rerr, s.w.Close()); err != nil {
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

// wrap says which operation failed, unless err already reads
// "consolidate: …" (a refusal built on one of the library's sentinels, or
// an error of the caller's): that says what happened, and the prefix
// appears once.
func wrap(op string, err error) error {
	if strings.HasPrefix(err.Error(), "consolidate: ") {
		return err
	}
	return fmt.Errorf("consolidate: sqlite: %s: %w", op, err)
}

// notFound maps database/sql's "no row" to the library's sentinel.
func notFound(err error, what string, id int64) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s %d", consolidate.ErrNotFound, what, id)
	}
	return err
}
