package postgres

import (
	"context"
	"errors"
	"math/big"
	"runtime"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A batch is one READ COMMITTED transaction in two round trips. The first
// locks the rows its decisions depend on, accounts then nonces, each in
// key order, so that batches of different processes wait for each other
// instead of deadlocking; under those locks each statement reads the
// latest committed rows. The second writes everything and commits.
const (
	sqlBegin        = `BEGIN ISOLATION LEVEL READ COMMITTED`
	sqlLockAccounts = `SELECT id, available::text, token FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`
	// Runs after the account locks are held, so it sees every key a
	// Submit of another process committed for these accounts.
	sqlSelectKeys = `SELECT i.account_id, i.key, i.request_hash, i.transaction_id, i.error_code
		FROM idempotency i JOIN unnest($1::bigint[], $2::text[]) AS k (account_id, key)
		ON i.account_id = k.account_id AND i.key = k.key`
	sqlEnsureNonces = `INSERT INTO nonces (sender, next) SELECT s, 0 FROM unnest($1::bytea[]) AS s
		ORDER BY s ON CONFLICT (sender) DO NOTHING`
	sqlLockNonces = `SELECT sender, next FROM nonces WHERE sender = ANY($1) ORDER BY sender FOR UPDATE`

	sqlSelectReplays = `SELECT ` + txColumns + ` FROM transactions WHERE id = ANY($1)`
	// Relative: the CHECK constraints refuse an overdraft even if the
	// check in Go were wrong.
	sqlHoldFunds = `UPDATE accounts a SET available = a.available - v.hold::numeric, updated_at = $3
		FROM unnest($1::bigint[], $2::text[]) AS v (id, hold) WHERE a.id = v.id`
	sqlTakeNonces = `UPDATE nonces n SET next = v.next
		FROM unnest($1::bytea[], $2::bigint[]) AS v (sender, next) WHERE n.sender = v.sender`
	// One statement stores the batch's transfers with their first
	// attempts, idempotency keys and outbox events. A reservation has a
	// NULL hash and raw and no attempt, so the rows inserted are matched
	// to their requests by (sender, nonce), unique in the table and so in
	// the batch.
	sqlInsertSubmitted = `WITH v AS (
		SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::text[], $5::text[], $6::bigint[],
			$7::bytea[], $8::bytea[], $9::text[], $10::bytea[], $11::timestamptz[], $12::timestamptz[],
			$13::bigint[], $14::text[], $15::text[], $17::bytea[])
		AS v (account_id, sender, recipient, amount, fee_total, nonce, hash, raw, key, request_hash,
			next_check_at, created_at, gas_limit, gas_tip_cap, gas_fee_cap, token)
	), t AS (
		INSERT INTO transactions (account_id, sender, recipient, token, amount, fee_total, nonce, hash, raw,
			status, version, idempotency_key, next_check_at, created_at, updated_at)
		SELECT account_id, sender, recipient, token, amount::numeric, fee_total::numeric, nonce, hash, raw,
			'PENDING', 1, key, next_check_at, created_at, created_at FROM v
		RETURNING id, sender, nonce
	), a AS (
		INSERT INTO attempts (transaction_id, seq, hash, raw, gas_limit, gas_tip_cap, gas_fee_cap, cancel, created_at)
		SELECT t.id, 1, v.hash, v.raw, v.gas_limit, v.gas_tip_cap::numeric, v.gas_fee_cap::numeric, false, v.created_at
		FROM t JOIN v USING (sender, nonce) WHERE v.hash IS NOT NULL
	), i AS (
		INSERT INTO idempotency (account_id, key, request_hash, transaction_id, created_at)
		SELECT v.account_id, v.key, v.request_hash, t.id, v.created_at FROM t JOIN v USING (sender, nonce)
		WHERE v.key IS NOT NULL
	), e AS (
		INSERT INTO events (type, transaction_id, account_id, status, created_at)
		SELECT $16, t.id, v.account_id, 'PENDING', v.created_at FROM t JOIN v USING (sender, nonce) ORDER BY t.id
	)
	SELECT id, sender, nonce FROM t`
	sqlRecordRejections = `INSERT INTO idempotency (account_id, key, request_hash, error_code, created_at)
		SELECT account_id, key, request_hash, '` + errCodeInsufficientFunds + `', created_at
		FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::timestamptz[]) AS v (account_id, key, request_hash, created_at)`
)

// runBatch runs reqs in one transaction and returns their results, or an
// error if the transaction did not commit (then nothing was applied).
func (s *Store) runBatch(ctx context.Context, reqs []*submitReq) ([]submitResult, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	// A connection left inside a transaction by an error is closed, not
	// reused: the server rolls the transaction back.
	defer conn.Release()
	st, err := lockState(ctx, conn, reqs)
	if err != nil {
		return nil, err
	}
	ds := decideAndSign(reqs, st)
	return s.writeBatch(ctx, conn, reqs, ds)
}

// lockState begins the transaction, locks the rows reqs depend on and
// reads them, in one round trip.
func lockState(ctx context.Context, conn *pgxpool.Conn, reqs []*submitReq) (*state, error) {
	var (
		accounts []int64
		senders  [][]byte
		keyAccts []int64
		keys     []string
	)
	for _, r := range reqs {
		accounts = append(accounts, r.p.AccountID)
		senders = append(senders, r.p.From.Bytes())
		if r.p.IdempotencyKey != "" {
			keyAccts = append(keyAccts, r.p.AccountID)
			keys = append(keys, r.p.IdempotencyKey)
		}
	}
	slices.Sort(accounts)
	accounts = slices.Compact(accounts)
	slices.SortFunc(senders, func(a, b []byte) int { return bytesCompare(a, b) })
	senders = slices.CompactFunc(senders, func(a, b []byte) bool { return bytesCompare(a, b) == 0 })

	st := &state{
		available: make(map[int64]*big.Int, len(accounts)),
		tokens:    make(map[int64]common.Address, len(accounts)),
		keys:      make(map[keyOf]keyRow),
		nonces:    make(map[[20]byte]int64, len(senders)),
	}
	b := &pgx.Batch{}
	b.Queue(sqlBegin)
	b.Queue(sqlLockAccounts, accounts).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				id    int64
				avail string
				token []byte
			)
			if err := rows.Scan(&id, &avail, &token); err != nil {
				return err
			}
			a, err := decodeAmount(avail)
			if err != nil {
				return err
			}
			st.available[id] = a
			if st.tokens[id], err = decodeToken(token); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if len(keys) > 0 {
		b.Queue(sqlSelectKeys, keyAccts, keys).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					k   keyOf
					row keyRow
				)
				if err := rows.Scan(&k.account, &k.key, &row.requestHash, &row.txID, &row.errorCode); err != nil {
					return err
				}
				st.keys[k] = row
			}
			return rows.Err()
		})
	}
	b.Queue(sqlEnsureNonces, senders)
	b.Queue(sqlLockNonces, senders).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				sender []byte
				next   int64
			)
			if err := rows.Scan(&sender, &next); err != nil {
				return err
			}
			st.nonces[common.BytesToAddress(sender)] = next
		}
		return rows.Err()
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return st, nil
}

func bytesCompare(a, b []byte) int { return slices.Compare(a, b) }

// decideAndSign decides every request and signs the accepted ones. A
// failed signature fails its request, and the batch is decided again
// without it: the funds it would have held and the nonce it would have
// taken go to the requests after it, as if it had never come.
func decideAndSign(reqs []*submitReq, st *state) []decision {
	failed := make([]error, len(reqs))
	prev := make([]*decision, len(reqs))
	parallel := runtime.GOMAXPROCS(0)
	for {
		ds := decide(reqs, st, failed)
		for i := range ds {
			// A signature for the same nonce is still good.
			if p := prev[i]; p != nil && ds[i].kind == decidedAccept && p.nonce == ds[i].nonce {
				ds[i].signed = p.signed
			}
		}
		errs := signAll(reqs, ds, parallel)
		again := false
		for i, err := range errs {
			switch {
			case err != nil:
				failed[i], again = err, true
			case ds[i].kind == decidedAccept:
				prev[i] = &ds[i]
			}
		}
		if !again {
			return ds
		}
	}
}

// writeBatch writes what ds decided, reads the replayed transactions and
// commits, in one round trip.
func (s *Store) writeBatch(ctx context.Context, conn *pgxpool.Conn, reqs []*submitReq, ds []decision) ([]submitResult, error) {
	results := make([]submitResult, len(reqs))
	w := newBatchWrite(reqs, ds)
	b := &pgx.Batch{}
	var replays map[int64]consolidate.Transaction
	if len(w.replays) > 0 {
		b.Queue(sqlSelectReplays, w.replays).Query(func(rows pgx.Rows) error {
			txs, err := pgx.CollectRows(rows, collectTransaction)
			if err != nil {
				return &localError{err}
			}
			replays = make(map[int64]consolidate.Transaction, len(txs))
			for _, t := range txs {
				replays[t.ID] = t
			}
			return nil
		})
	}
	ids := make(map[slot]int64, len(w.accepted))
	writes := w.queue(b, ids)
	b.Queue("COMMIT").Fn = func(br pgx.BatchResults) error {
		ct, err := br.Exec()
		switch {
		case err != nil:
			return &commitError{err}
		case ct.String() != "COMMIT":
			return errRolledBack
		}
		return nil
	}
	br := conn.SendBatch(ctx, b)
	if s.batchSent != nil && writes {
		s.batchSent(conn.Conn())
	}
	err := br.Close()
	if err != nil && (!writes || definitelyFailed(err)) {
		return nil, err
	}
	for i, r := range reqs {
		d := ds[i]
		res := &results[i]
		switch d.kind {
		case decidedCarry:
			res.carry = true
		case decidedError, decidedRejectNo:
			res.err = d.err
		case decidedReplay:
			t, ok := replays[d.replay]
			switch {
			case err != nil && !ok:
				res.err = err
			case !ok:
				res.err = errors.New("replayed transaction vanished")
			default:
				res.tx = t
			}
		case decidedReject:
			res.err = d.err
			res.unknown, res.cause = err != nil, err
		case decidedAccept:
			res.tx, res.created = r.transaction(d), true
			res.tx.ID = ids[slot{r.p.From, d.nonce}]
			res.unknown, res.cause = err != nil, err
		}
	}
	return results, nil
}

// definitelyFailed reports whether err shows that the batch did not
// commit: PostgreSQL refused a statement before the COMMIT with an
// ERROR, which aborts the transaction and skips the rest of the batch,
// or answered the COMMIT with ROLLBACK. Anything else leaves the outcome
// unknown: a lost connection, an error answering the COMMIT itself, one
// reading a result in Go (the COMMIT went out in the same round trip),
// and a FATAL error, which a server shutting down sends in place of
// whatever result was due, a COMMIT already made or not.
func definitelyFailed(err error) bool {
	var (
		ce *commitError
		le *localError
		pe *pgconn.PgError
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &le):
		return false
	case errors.Is(err, errRolledBack):
		return true
	case errors.As(err, &pe):
		sev := pe.SeverityUnlocalized
		if sev == "" {
			sev = pe.Severity
		}
		return sev == "ERROR"
	}
	return false
}

// errRolledBack is a COMMIT answered with ROLLBACK.
var errRolledBack = errors.New("transaction rolled back")

// commitError is an error answering a batch's COMMIT.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// localError is an error in Go reading a result the server sent.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// batchWrite is what a batch writes, as statement arguments.
type batchWrite struct {
	reqs     []*submitReq
	ds       []decision
	accepted []int
	rejected []int
	replays  []int64
	now      time.Time
}

func newBatchWrite(reqs []*submitReq, ds []decision) *batchWrite {
	w := &batchWrite{reqs: reqs, ds: ds, now: dbTime(time.Now())}
	for i, d := range ds {
		switch d.kind {
		case decidedAccept:
			w.accepted = append(w.accepted, i)
		case decidedReject:
			w.rejected = append(w.rejected, i)
		case decidedReplay:
			w.replays = append(w.replays, d.replay)
		}
	}
	return w
}

// slot is a sender's nonce: it names one transaction, signed or
// reserved.
type slot struct {
	sender common.Address
	nonce  uint64
}

// queue adds the batch's writes to b, reporting whether there are any;
// ids receives the IDs of the inserted transactions by sender and nonce.
func (w *batchWrite) queue(b *pgx.Batch, ids map[slot]int64) bool {
	if len(w.accepted) > 0 {
		w.queueHolds(b)
		w.queueNonces(b)
		w.queueInserts(b, ids)
	}
	if len(w.rejected) > 0 {
		var (
			accts  []int64
			keys   []string
			hashes [][]byte
			at     []time.Time
		)
		for _, i := range w.rejected {
			p := w.reqs[i].p
			accts = append(accts, p.AccountID)
			keys = append(keys, p.IdempotencyKey)
			hashes = append(hashes, p.RequestHash[:])
			at = append(at, w.reqs[i].now)
		}
		b.Queue(sqlRecordRejections, accts, keys, hashes, at)
	}
	return len(w.accepted)+len(w.rejected) > 0
}

func (w *batchWrite) queueHolds(b *pgx.Batch) {
	holds := make(map[int64]*big.Int)
	for _, i := range w.accepted {
		r := w.reqs[i]
		h, ok := holds[r.p.AccountID]
		if !ok {
			h = new(big.Int)
			holds[r.p.AccountID] = h
		}
		h.Add(h, r.hold)
	}
	ids := make([]int64, 0, len(holds))
	for id := range holds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	amounts := make([]string, len(ids))
	for k, id := range ids {
		amounts[k] = holds[id].String()
	}
	b.Queue(sqlHoldFunds, ids, amounts, w.now)
}

func (w *batchWrite) queueNonces(b *pgx.Batch) {
	next := make(map[common.Address]int64)
	for _, i := range w.accepted {
		from := w.reqs[i].p.From
		next[from] = max(next[from], int64(w.ds[i].nonce)+1)
	}
	var (
		senders [][]byte
		nexts   []int64
	)
	for s, n := range next {
		senders = append(senders, s.Bytes())
		nexts = append(nexts, n)
	}
	b.Queue(sqlTakeNonces, senders, nexts)
}

func (w *batchWrite) queueInserts(b *pgx.Batch, ids map[slot]int64) {
	n := len(w.accepted)
	var (
		accts            = make([]int64, n)
		senders, recips  = make([][]byte, n), make([][]byte, n)
		tokens           = make([][]byte, n)
		amounts, fees    = make([]string, n), make([]string, n)
		nonces           = make([]int64, n)
		hashes, raws     = make([][]byte, n), make([][]byte, n)
		keys             = make([]*string, n)
		reqHashes        = make([][]byte, n)
		nexts, created   = make([]time.Time, n), make([]time.Time, n)
		gas              = make([]int64, n)
		tipCaps, feeCaps = make([]*string, n), make([]*string, n)
	)
	for k, i := range w.accepted {
		r, d := w.reqs[i], w.ds[i]
		accts[k] = r.p.AccountID
		senders[k], recips[k], tokens[k] = r.p.From.Bytes(), r.p.To.Bytes(), nullToken(r.p.Token)
		amounts[k], fees[k] = r.amount, r.fee
		nonces[k] = int64(d.nonce)
		if !r.reserved() {
			hashes[k], raws[k] = d.signed.Hash.Bytes(), d.signed.Raw
		}
		keys[k] = nullString(r.p.IdempotencyKey)
		reqHashes[k] = r.p.RequestHash[:]
		nexts[k], created[k] = r.next, r.now
		gas[k], tipCaps[k], feeCaps[k] = r.quote.gasLimit, r.quote.tipCap, r.quote.feeCap
	}
	b.Queue(sqlInsertSubmitted, accts, senders, recips, amounts, fees, nonces, hashes, raws, keys,
		reqHashes, nexts, created, gas, tipCaps, feeCaps, consolidate.EventSubmitted, tokens).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				id     int64
				sender []byte
				nonce  int64
			)
			if err := rows.Scan(&id, &sender, &nonce); err != nil {
				return &localError{err}
			}
			ids[slot{common.BytesToAddress(sender), uint64(nonce)}] = id
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) != n {
			return &localError{errors.New("stored transactions do not match the batch")}
		}
		return nil
	})
}
