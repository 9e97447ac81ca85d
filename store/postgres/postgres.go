package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

var (
	_ consolidate.Store       = (*Store)(nil)
	_ consolidate.BatchReader = (*Store)(nil)
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// MaxConns is the size of the connection pool. Defaults to the DSN's
	// pool_max_conns if it sets one, else to 16.
	MaxConns int32
	// MaxBatch is the most Submits committed together in one transaction
	// (see "Group commit" in the package documentation). Defaults to 256;
	// 1 turns group commit off.
	MaxBatch int
	// BatchWait is how long the committer waits for more Submits after
	// the first one of a batch arrives, when fewer than MaxBatch are
	// queued. Defaults to 0: batches form from the Submits that arrive
	// while the previous batch commits.
	BatchWait time.Duration
	// IdleInTransactionTimeout ends a session that stays idle inside a
	// transaction this long, such as one whose client vanished before
	// sending COMMIT: its locks would otherwise hold up every Submit of
	// its accounts and wallet until the server noticed the lost client.
	// Defaults to 30 seconds; -1 leaves the server's setting alone.
	IdleInTransactionTimeout time.Duration
	// MeterProvider receives the store's metrics: Submits per batch,
	// batch durations and retried batches (see "Metrics" in the package
	// documentation). Defaults to the global provider
	// (otel.GetMeterProvider()), which records nothing unless the program
	// installs one.
	MeterProvider metric.MeterProvider
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.MaxBatch == 0 {
		r.MaxBatch = 256
	}
	if r.IdleInTransactionTimeout == 0 {
		r.IdleInTransactionTimeout = 30 * time.Second
	}
	if r.MeterProvider == nil {
		r.MeterProvider = otel.GetMeterProvider()
	}
	return r
}

func (o Options) validate() error {
	if o.MaxConns < 0 {
		return fmt.Errorf("%w: postgres: negative MaxConns %d", consolidate.ErrInvalidConfig, o.MaxConns)
	}
	if o.MaxBatch < 0 {
		return fmt.Errorf("%w: postgres: negative MaxBatch %d", consolidate.ErrInvalidConfig, o.MaxBatch)
	}
	if o.BatchWait < 0 || o.BatchWait > time.Second {
		return fmt.Errorf("%w: postgres: BatchWait %v is outside [0, 1s]", consolidate.ErrInvalidConfig, o.BatchWait)
	}
	if o.IdleInTransactionTimeout < -1 || o.IdleInTransactionTimeout > 0 && o.IdleInTransactionTimeout < time.Millisecond {
		return fmt.Errorf("%w: postgres: IdleInTransactionTimeout %v", consolidate.ErrInvalidConfig, o.IdleInTransactionTimeout)
	}
	return nil
}

// Store is a consolidate.Store in a PostgreSQL database. Its methods are
// safe for concurrent use, and any number of Stores in any number of
// processes may share the database.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
	c      *committer
	m      *instruments
	// batchSent, set by tests, runs when a batch's writes and COMMIT are
	// sent, before their results are read.
	batchSent func(*pgx.Conn)
}

// Open connects to the database at dsn (a URL or keyword/value string,
// as pgx and libpq accept, with pgxpool's pool_* settings) and brings its
// schema up to date. ctx bounds the connection and the migration; a
// database that cannot be reached is an error naming the server. A nil
// opts means the defaults.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the DSN's problem, never its password.
		return nil, fmt.Errorf("consolidate: postgres: parse DSN: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	} else if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	rt := cfg.ConnConfig.RuntimeParams
	// A commit must be on disk before Submit returns: a session may ask
	// for more (a standby's copy too), never for less.
	switch rt["synchronous_commit"] {
	case "on", "remote_write", "remote_apply":
	default:
		rt["synchronous_commit"] = "on"
	}
	if _, set := rt["idle_in_transaction_session_timeout"]; !set && o.IdleInTransactionTimeout > 0 {
		rt["idle_in_transaction_session_timeout"] = fmt.Sprint(o.IdleInTransactionTimeout.Milliseconds())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("consolidate: postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("consolidate: postgres: connect to %s: %w", where(cfg), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("consolidate: postgres: migrate %s: %w", where(cfg), err)
	}
	s := &Store{pool: pool, m: newInstruments(o.MeterProvider)}
	s.c = startCommitter(s, o.MaxBatch, o.BatchWait)
	return s, nil
}

// where names the server and database of cfg for error messages.
func where(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// Close stops the committer, letting a batch in progress finish, and
// closes the pool. Methods called afterwards return consolidate.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.c.stop()
	s.pool.Close()
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

// maxAttempts bounds how often a transaction that PostgreSQL aborted as a
// serialization failure or a deadlock victim is run again.
const maxAttempts = 4

// inTx runs fn in a READ COMMITTED transaction and commits, running it
// again when PostgreSQL asks for that (SQLSTATE 40001, 40P01): such a
// transaction was rolled back whole, so nothing of it was applied. Every
// other error is returned as it is, and nothing fn did is kept.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * time.Millisecond)
	}
}

// retryable reports whether err is PostgreSQL asking for the transaction
// to be run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// sqlState returns err's SQLSTATE, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// wrap says which operation failed, unless err already reads
// "consolidate: …" (a refusal built on one of the library's sentinels, or
// an error of the caller's): that says what happened, and the prefix
// appears once.
func wrap(op string, err error) error {
	if strings.HasPrefix(err.Error(), "consolidate: ") {
		return err
	}
	return fmt.Errorf("consolidate: postgres: %s: %w", op, err)
}

// within says where err arose, unless it reads "consolidate: …" and so
// must stay first for wrap to keep it whole.
func within(where string, err error) error {
	if strings.HasPrefix(err.Error(), "consolidate: ") {
		return err
	}
	return fmt.Errorf("%s: %w", where, err)
}

// unprefixed is err read without its "consolidate: " prefix, for the
// middle of a message that already has one; errors.Is and As still see
// err.
type unprefixed struct{ err error }

func (e unprefixed) Error() string { return strings.TrimPrefix(e.err.Error(), "consolidate: ") }
func (e unprefixed) Unwrap() error { return e.err }

// notFound maps pgx's "no row" to the library's sentinel.
func notFound(err error, what string, id int64) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s %d", consolidate.ErrNotFound, what, id)
	}
	return err
}

// dataError reports whether err is PostgreSQL refusing a value: a data
// exception or an integrity constraint (SQLSTATE classes 22 and 23).
func dataError(err error) bool {
	c := sqlState(err)
	return len(c) == 5 && (c[:2] == "22" || c[:2] == "23")
}
