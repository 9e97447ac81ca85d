package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// A writeReq is one write waiting for the committer.
type writeReq struct {
	ctx  context.Context
	fn   func(context.Context, *wtx) error
	done chan error // buffered: the committer never blocks on an answer
}

// committer owns the write connection. It takes the writes that queued
// while the previous commit was made, runs them in one transaction, each
// under its own savepoint, and commits once: one fsync for the batch.
type committer struct {
	db       *sql.DB
	maxBatch int
	wait     time.Duration
	// reqs is unbuffered: a write is either taken by the committer or
	// still with its caller, never stranded in a buffer at Close.
	reqs    chan *writeReq
	quit    chan struct{}
	stopped chan struct{}
	// stmts holds the statements write transactions have used, prepared
	// on the write connection; want, those to prepare after the current
	// commit, when the connection is free. Only run touches them.
	stmts map[string]*sql.Stmt
	want  map[string]bool
	// carry holds the writes put off to the next batch (errNextBatch).
	carry []*writeReq
	// work feeds the deferred work of a batch to the workers.
	work chan *deferred
	// committed, if set, is called after each batch.
	committed func()
	m         *instruments
}

// errNextBatch is what a write returns, having changed nothing, when it
// must see the outcome of a deferred write of its own batch (a reused
// idempotency key): the committer runs it again first in the next batch.
var errNextBatch = errors.New("retry in the next batch")

func startCommitter(db *sql.DB, maxBatch int, wait time.Duration, committed func(), m *instruments) *committer {
	c := &committer{
		db:        db,
		maxBatch:  maxBatch,
		wait:      wait,
		reqs:      make(chan *writeReq),
		quit:      make(chan struct{}),
		stopped:   make(chan struct{}),
		stmts:     make(map[string]*sql.Stmt),
		want:      make(map[string]bool),
		work:      make(chan *deferred, maxBatch),
		committed: committed,
		m:         m,
	}
	for range runtime.GOMAXPROCS(0) {
		go c.worker()
	}
	go c.run()
	return c
}

// stop lets the batch in progress finish and turns away queued writes.
func (c *committer) stop() {
	close(c.quit)
	<-c.stopped
}

// write runs fn in a write transaction and returns once that transaction
// is committed and on disk (synchronous=FULL), or fn's error, in which
// case nothing fn did is kept. Every write path goes through here, so
// every one runs on the single writer connection inside BEGIN IMMEDIATE
// (see dsn).
//
// fn may share its transaction with other writes; it must use the ctx it
// is given, which is not cancelled once the write is under way: an
// interrupted statement could roll back the whole shared transaction.
// A ctx cancelled before the committer takes the write fails it with
// ctx's error, and nothing is applied.
//
// fn may run more than once: a batch whose deferred work fails is rolled
// back and run again (see apply). Each run must set, not accumulate,
// what fn reports to its caller.
func (s *Store) write(ctx context.Context, fn func(context.Context, *wtx) error) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.c.quit:
		return consolidate.ErrClosed
	}
	// Once taken, the write's outcome is decided by the commit: wait for
	// it even if ctx ends, so the answer is never a guess.
	return <-r.done
}

func (c *committer) run() {
	defer close(c.stopped)
	defer close(c.work)
	defer func() {
		for _, st := range c.stmts {
			st.Close()
		}
	}()
	batch := make([]*writeReq, 0, c.maxBatch)
	var timer *time.Timer
	for {
		// Writes carried over run first, so they cannot be put off again,
		// and before the committer stops, since they were taken.
		batch = append(batch[:0], c.carry...)
		clear(c.carry)
		c.carry = c.carry[:0]
		if len(batch) == 0 {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			case <-c.quit:
				return
			}
		}
		batch = c.gather(batch)
		if c.wait > 0 && len(batch) < c.maxBatch {
			if timer == nil {
				timer = time.NewTimer(c.wait)
			} else {
				timer.Reset(c.wait)
			}
		wait:
			for len(batch) < c.maxBatch {
				select {
				case r := <-c.reqs:
					batch = append(batch, r)
				case <-timer.C:
					break wait
				case <-c.quit:
					break wait
				}
			}
			timer.Stop()
		}
		c.commit(batch)
		if c.committed != nil {
			c.committed()
		}
		clear(batch) // drop references to finished requests
		c.prepare()
	}
}

// gather adds the writes that are waiting right now, up to maxBatch.
func (c *committer) gather(batch []*writeReq) []*writeReq {
	for len(batch) < c.maxBatch {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit runs batch in one transaction and answers every request. A
// request whose fn fails is rolled back to its savepoint alone; a failure
// of the transaction itself (BEGIN, a savepoint, COMMIT) fails every
// request that had not failed on its own, and nothing is applied.
func (c *committer) commit(batch []*writeReq) {
	errs := make([]error, len(batch))
	live := 0
	for i, r := range batch {
		if errs[i] = r.ctx.Err(); errs[i] == nil {
			live++
		}
	}
	if live > 0 {
		began := time.Now()
		err := c.apply(batch, errs, live)
		c.m.committed(live, time.Since(began))
		if err != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	for i, r := range batch {
		if errs[i] == errNextBatch {
			c.carry = append(c.carry, r)
			continue
		}
		r.done <- errs[i]
	}
}

// apply runs the live requests of batch (those with a nil errs entry) and
// commits, recording each fn's own error in errs. A non-nil return means
// the transaction did not commit.
//
// A batch runs in two steps: each write under its savepoint, where a
// write may leave deferred work (Submit's signature) to the workers, and
// once all have run, the rows the deferred writes left (wtx.finish). If
// deferred work fails, the batch is rolled back and run again without the
// writes whose work failed, which get its error: a failed signature
// returns its nonce and the writes after it get others. If the rows fail,
// which no valid write should make them do, the batch runs once more with
// nothing deferred, so that the failure falls on its own write alone; that
// run is the only one where the committer signs.
func (c *committer) apply(batch []*writeReq, errs []error, live int) error {
	// A lone write needs no savepoint: its failure, or its deferred
	// work's, rolls back everything and is its own.
	if live == 1 {
		i := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		tx, err := c.begin(true)
		if err != nil {
			return err
		}
		defer tx.pending.Wait()
		if errs[i] = call(batch[i], tx); errs[i] == nil {
			errs[i] = tx.finish()
		}
		if errs[i] != nil {
			_ = tx.Rollback() // errs[i] is the cause
			return nil
		}
		return tx.Commit()
	}
	queued := make([]bool, len(batch))
	for i := range batch {
		queued[i] = errs[i] == nil
	}
	res, err := c.applyBatch(batch, errs, true)
	for res == workFailed {
		// errs now holds the failed work's errors; the others run again.
		res, err = c.applyBatch(batch, errs, true)
	}
	if res == committed {
		return err
	}
	for i := range batch {
		if queued[i] {
			errs[i] = nil
		}
	}
	_, err = c.applyBatch(batch, errs, false)
	return err
}

// batchResult is how applyBatch ended.
type batchResult int

const (
	// committed: the transaction committed, or failed as a whole (the
	// error says which).
	committed batchResult = iota
	// workFailed: deferred work failed and the batch was rolled back; the
	// writes it belonged to have its error in errs.
	workFailed
	// rowsFailed: the rows of deferred writes failed and the batch was
	// rolled back; it is to be run again without deferral.
	rowsFailed
)

// applyBatch runs the live requests of batch, each under its own
// savepoint, then writes what their deferred work left, and commits.
func (c *committer) applyBatch(batch []*writeReq, errs []error, deferring bool) (batchResult, error) {
	bg := context.Background()
	tx, err := c.begin(deferring)
	if err != nil {
		return committed, err
	}
	// Deferred work may still run on the workers when the batch stops
	// early: it must be done before its write runs again or returns.
	defer tx.pending.Wait()
	// owner[k] is the write that left tx.deferred[k].
	var owner []int
	for i, r := range batch {
		if errs[i] != nil {
			continue
		}
		if _, err := tx.ExecContext(bg, "SAVEPOINT w"); err != nil {
			_ = tx.Rollback()
			return committed, err
		}
		nd, ns, ne := len(tx.deferred), len(tx.submitted), len(tx.events)
		if errs[i] = call(r, tx); errs[i] != nil {
			// Nothing of a failed write is finished.
			tx.deferred, tx.submitted, tx.events = tx.deferred[:nd], tx.submitted[:ns], tx.events[:ne]
			// If SQLite rolled back the whole transaction on its own (disk
			// full, I/O error), the savepoint is gone and this fails: the
			// batch stops before anything runs outside a transaction.
			if _, err := tx.ExecContext(bg, "ROLLBACK TO w"); err != nil {
				_ = tx.Rollback()
				return committed, err
			}
		}
		for range len(tx.deferred) - len(owner) {
			owner = append(owner, i)
		}
		if _, err := tx.ExecContext(bg, "RELEASE w"); err != nil {
			_ = tx.Rollback()
			return committed, err
		}
	}
	if err := tx.finish(); err != nil {
		_ = tx.Rollback()
		res := rowsFailed
		for k, d := range tx.deferred {
			if d.err != nil {
				errs[owner[k]] = d.err
				res = workFailed
			}
		}
		return res, nil
	}
	return committed, tx.Commit()
}

func (c *committer) begin(deferring bool) (*wtx, error) {
	// The transaction's context is not any request's: one caller giving
	// up must not roll back the others.
	sqlTx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	return &wtx{Tx: sqlTx, c: c, deferring: deferring}, nil
}

// A deferred is work a write left to a worker: pure computation, whose
// result the write's rows need when the batch finishes.
type deferred struct {
	work func() error
	err  error
	done *sync.WaitGroup
}

func (d *deferred) run() {
	defer d.done.Done()
	defer panicked(&d.err)
	d.err = d.work()
}

// worker does deferred work, so that signing a batch's transfers runs on
// the other cores while the committer runs the batch's statements.
func (c *committer) worker() {
	for d := range c.work {
		d.run()
	}
}

// call runs r's fn, turning a panic into an error so one bad write cannot
// take down the committer and every writer waiting on it.
func call(r *writeReq, tx *wtx) (err error) {
	defer panicked(&err)
	return r.fn(context.WithoutCancel(r.ctx), tx)
}

// panicked, deferred, turns a panic into an error in *err.
func panicked(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("write panicked: %v", p)
	}
}

// prepare prepares the statements the last batch wanted, so later batches
// skip SQLite's parser: modernc.org/sqlite compiles every statement it is
// given as text, which was a quarter of Submit's CPU. A statement that
// fails to prepare here just stays uncached.
func (c *committer) prepare() {
	for q := range c.want {
		if st, err := c.db.PrepareContext(context.Background(), q); err == nil {
			c.stmts[q] = st
		}
	}
	clear(c.want)
}

// maxStmts bounds the committer's prepared statements.
const maxStmts = 128

// wtx is a write transaction that runs statements the committer has
// prepared before, and asks it to prepare the others.
type wtx struct {
	*sql.Tx
	c *committer
	// local holds this transaction's handles on the committer's
	// statements, shared by the writes of a batch.
	local map[string]*sql.Stmt

	// deferring is set when writes may leave work to the workers
	// (later) and rows to the end of the batch (finish): deferred is that
	// work, pending counts what is not done yet, submitted holds the
	// submits waiting for their signatures, events the outbox rows of the
	// batch's other writes, nonces the next nonce of each sender the batch
	// has read, and claims the keys the submitted will write.
	deferring bool
	deferred  []*deferred
	pending   sync.WaitGroup
	submitted []*pendingSubmit
	events    []eventRow
	nonces    map[common.Address]int64
	claims    map[string]bool
}

// later runs work on a worker, reporting false if the transaction takes
// no deferred work, in which case the write must do it itself. If work
// fails, the write fails with its error and the rest of the batch runs
// again (see apply).
func (t *wtx) later(work func() error) bool {
	if !t.deferring {
		return false
	}
	d := &deferred{work: work, done: &t.pending}
	t.pending.Add(1)
	t.deferred = append(t.deferred, d)
	t.c.work <- d
	return true
}

// claim records that a deferred write of this batch will write key;
// claimed reports whether one has.
func (t *wtx) claim(key string) {
	if t.claims == nil {
		t.claims = make(map[string]bool)
	}
	t.claims[key] = true
}

func (t *wtx) claimed(key string) bool { return t.claims[key] }

// finish waits for the batch's deferred work, then writes what the
// deferred writes left: the nonces they took, the submits they signed and
// the outbox rows. An error means the transaction must be rolled back.
func (t *wtx) finish() (err error) {
	if len(t.nonces) == 0 && len(t.deferred) == 0 && len(t.events) == 0 {
		return nil
	}
	t.pending.Wait()
	for _, d := range t.deferred {
		if d.err != nil {
			return d.err
		}
	}
	defer panicked(&err)
	ctx := context.Background()
	if err := t.saveNonces(ctx); err != nil {
		return err
	}
	if len(t.submitted) > 0 {
		// Their outbox rows join the batch's others.
		if err := insertSubmitted(ctx, t, t.submitted); err != nil {
			return err
		}
	}
	return insertEvents(ctx, t, t.events)
}

func (t *wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := t.local[query]; ok {
		return st
	}
	if st, ok := t.c.stmts[query]; ok {
		// Prepared on this same connection: database/sql reuses it as is.
		ts := t.Tx.StmtContext(ctx, st)
		if t.local == nil {
			t.local = make(map[string]*sql.Stmt)
		}
		t.local[query] = ts
		return ts
	}
	// The bound keeps queries built per call (MarkSent's IN lists) from
	// growing the cache without end.
	if len(t.c.stmts)+len(t.c.want) < maxStmts {
		t.c.want[query] = true
	}
	return nil
}

func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}
