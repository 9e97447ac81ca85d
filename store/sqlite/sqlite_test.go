package sqlite_test

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"github.com/go-consolidate/consolidate/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) consolidate.Store {
		return open(t, filepath.Join(t.TempDir(), "consolidate.db"))
	})
}

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) consolidate.Store { return open(t, sqlite.Memory) })
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consolidate.db")
	s := open(t, path)
	a, err := s.CreateAccount(t.Context(), consolidate.NewAccount{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credit(t.Context(), a.ID, big.NewInt(1000), "dep"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // reopening applies no migration twice
		s = open(t, path)
		got, err := s.Account(t.Context(), a.ID)
		if err != nil || got.Current.Int64() != 1000 {
			t.Fatalf("after reopen: %+v, %v; want current 1000", got, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, max int
	if err := db.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&rows, &max); err != nil {
		t.Fatal(err)
	}
	if rows != max {
		t.Errorf("schema_version has %d rows for version %d: a migration was recorded twice", rows, max)
	}
	if _, err := s.Account(t.Context(), a.ID); !errors.Is(err, consolidate.ErrClosed) {
		t.Errorf("Account after Close: %v, want ErrClosed", err)
	}

	// A file from a newer version of the package is not touched.
	if _, err := db.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (?, 0)`, max+1); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(path, nil); err == nil {
		s.Close()
		t.Error("Open accepted a database with a newer schema")
	}
}

// rawDB opens a bare SQLite file with the settings Open uses (WAL, BEGIN
// IMMEDIATE, synchronous=FULL) and one table of 32-byte rows.
func rawDB(b *testing.B) *sql.DB {
	b.Helper()
	path := filepath.Join(b.TempDir(), "raw.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkRawCommit is the floor for any write: one single-row insert per
// transaction, committed with the settings Open uses (WAL, BEGIN
// IMMEDIATE, synchronous=FULL) on a file. Compare BenchmarkSubmit.
func BenchmarkRawCommit(b *testing.B) {
	db := rawDB(b)
	v := make([]byte, 32)
	for b.Loop() {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO t (v) VALUES (?)`, v); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawBatchedInsert is the ceiling of the same file: single-row
// INSERTs committed 256 to a transaction, as group commit does at best.
// One op is one row.
func BenchmarkRawBatchedInsert(b *testing.B) {
	db := rawDB(b)
	v := make([]byte, 32)
	inTransactions(b, db, 256, nil, func(tx *sql.Tx, _ int) {
		if _, err := tx.Exec(`INSERT INTO t (v) VALUES (?)`, v); err != nil {
			b.Fatal(err)
		}
	})
}

// inTransactions runs op once per benchmark iteration, size iterations to
// a transaction on db; begun, if set, runs at the start of each
// transaction. op gets the iteration's number, from 0.
func inTransactions(b *testing.B, db *sql.DB, size int, begun func(*sql.Tx), op func(tx *sql.Tx, n int)) {
	var (
		tx  *sql.Tx
		err error
	)
	n := 0
	for b.Loop() {
		if tx == nil {
			if tx, err = db.Begin(); err != nil {
				b.Fatal(err)
			}
			if begun != nil {
				begun(tx)
			}
		}
		op(tx, n)
		if n++; n%size == 0 {
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			tx = nil
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreSubmit is one durable Store.Submit: several reads and writes in one
// transaction, one commit.
func BenchmarkStoreSubmit(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "submit.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, err := s.CreateAccount(b.Context(), consolidate.NewAccount{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Credit(b.Context(), a.ID, new(big.Int).Lsh(big.NewInt(1), 200), "fund"); err != nil {
		b.Fatal(err)
	}
	p := consolidate.SubmitParams{
		AccountID: a.ID,
		From:      common.HexToAddress("0x01"),
		To:        common.HexToAddress("0x02"),
		Amount:    big.NewInt(1000),
		FeeTotal:  big.NewInt(10),
		Quote:     consolidate.Quote{GasLimit: 21_000, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(30e9)},
	}
	sign := func(nonce uint64) (consolidate.SignedTx, error) {
		h := common.Hash{0: 1} // never the zero hash, which Submit refuses
		binary.BigEndian.PutUint64(h[24:], nonce)
		return consolidate.SignedTx{Hash: h, Raw: h[:]}, nil
	}
	for b.Loop() {
		if _, _, err := s.Submit(b.Context(), p, sign); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawSubmitRows is the ceiling for Submit on this file: the rows
// one Submit writes (its account's balances, the sender's nonce, the
// transaction, its first attempt and its outbox event, with the sizes and
// indexes of the real schema) written by hand, 64 submits to a
// transaction, with the settings Open uses and none of the package's
// code: no queueing, no checks, no signing. One op is one submit's rows.
// Compare BenchmarkSubmitParallel/MaxBatch=256, which writes the same
// rows for 64 concurrent callers.
func BenchmarkRawSubmitRows(b *testing.B) { benchRawRows(b, 64, false) }

// BenchmarkRawTransferRows is the ceiling for a transfer's whole life in
// the store on this file, as examples/loadtest drives it with its default
// 1000 accounts: each op writes one submit's rows, as
// BenchmarkRawSubmitRows does, and settles the transfer submitted one
// transaction earlier the way Settle does (it reads the transaction with
// its account's balances, writes the balances, marks the transaction
// final and adds its outbox event). 64 ops, so 64 submits and 64 settles,
// go to a transaction: more than the load test's batches hold, so that
// this bounds its rate from above.
func BenchmarkRawTransferRows(b *testing.B) { benchRawRows(b, 1000, true) }

// benchRawRows writes the rows of one submit per op, for accounts accounts
// in turn, 64 ops to a transaction; with settle set, each op also settles
// the transfer submitted 64 ops before it.
func benchRawRows(b *testing.B, accounts int, settle bool) {
	const batch = 64
	path := filepath.Join(b.TempDir(), "rows.db")
	s, err := sqlite.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, accounts)
	for i := range ids {
		a, err := s.CreateAccount(b.Context(), consolidate.NewAccount{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = a.ID
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)

	word := func(v uint64) []byte { // a 32-byte amount, as stored
		w := make([]byte, 32)
		binary.BigEndian.PutUint64(w[24:], v)
		return w
	}
	sender, recipient := common.HexToAddress("0x01").Bytes(), common.HexToAddress("0x02").Bytes()
	amount, fee, balance := word(1000), word(10), word(1<<62)
	tip, feeCap, feeChain := word(1e9), word(30e9), word(21_000_000_000_000)
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return p
	}
	raw := random(114) // a signed EIP-1559 ether transfer's size
	blockHash := random(32)
	stmts := []string{
		`UPDATE accounts SET available = ?, current = ?, updated_at = ? WHERE id = ?`,
		`INSERT INTO nonces (sender, next) VALUES (?, 1)
			ON CONFLICT (sender) DO UPDATE SET next = next + 1 RETURNING next - 1`,
		`INSERT INTO transactions (account_id, sender, recipient, token, amount, fee_total, nonce, hash, raw,
			status, version, idempotency_key, next_check_at, created_at, updated_at)
			VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, 'PENDING', 1, NULL, ?, ?, ?)`,
		`INSERT INTO attempts (transaction_id, seq, hash, raw, gas_limit, gas_tip_cap, gas_fee_cap, cancel, created_at)
			VALUES (?, 1, ?, ?, 21000, ?, ?, 0, ?)`,
		`INSERT INTO events (type, transaction_id, account_id, status, created_at) VALUES (?, ?, ?, ?, ?)`,
		`SELECT t.id, t.account_id, t.sender, t.recipient, t.token, t.amount, t.fee_total, t.fee_blockchain,
			t.nonce, t.hash, t.raw, t.status, t.version, t.idempotency_key, t.block_number, t.block_hash,
			t.checks, t.next_check_at, t.created_at, t.updated_at, a.available, a.current
			FROM transactions t JOIN accounts a ON a.id = t.account_id WHERE t.id = ?`,
		`UPDATE transactions SET status = 'SUCCESSFUL', version = version + 1,
			hash = coalesce(?, hash), raw = coalesce(?, raw),
			fee_blockchain = ?, block_number = ?, block_hash = ?, next_check_at = NULL, updated_at = ?
			WHERE id = ? AND status = 'PENDING'`,
	}
	var st []*sql.Stmt
	prepare := func(tx *sql.Tx) {
		st = st[:0]
		for _, q := range stmts {
			p, err := tx.Prepare(q)
			if err != nil {
				b.Fatal(err)
			}
			st = append(st, p)
		}
	}
	// submitted holds the last batch's transactions, by op number.
	var submitted [batch]int64
	var row [22]any
	dest := make([]any, len(row))
	for i := range row {
		dest[i] = &row[i]
	}
	inTransactions(b, db, batch, prepare, func(tx *sql.Tx, n int) {
		now := time.Now().UnixNano()
		acct := ids[n%accounts]
		hash := random(32)
		var nonce int64
		_, err1 := st[0].Exec(balance, balance, now, acct)
		err2 := st[1].QueryRow(sender).Scan(&nonce)
		res, err3 := st[2].Exec(acct, sender, recipient, amount, fee, nonce, hash, raw, now, now, now)
		if err := errors.Join(err1, err2, err3); err != nil {
			b.Fatal(err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			b.Fatal(err)
		}
		_, err4 := st[3].Exec(id, hash, raw, tip, feeCap, now)
		_, err5 := st[4].Exec(consolidate.EventSubmitted, id, acct, "PENDING", now)
		if err := errors.Join(err4, err5); err != nil {
			b.Fatal(err)
		}
		if prev := submitted[n%batch]; settle && prev != 0 {
			if err := st[5].QueryRow(prev).Scan(dest...); err != nil {
				b.Fatal(err)
			}
			owner := row[1]
			_, err1 := st[0].Exec(balance, balance, now, owner)
			res, err2 := st[6].Exec(nil, nil, feeChain, 1, blockHash, now, prev)
			_, err3 := st[4].Exec(consolidate.EventSuccessful, prev, owner, "SUCCESSFUL", now)
			if err := errors.Join(err1, err2, err3); err != nil {
				b.Fatal(err)
			}
			if k, err := res.RowsAffected(); err != nil || k != 1 {
				b.Fatalf("settled %d rows (%v), want 1", k, err)
			}
		}
		submitted[n%batch] = id
	})
}

// BenchmarkBatchRead reads a reconcile pass's 64 transfers one by one and
// in one batch; see storetest.BenchBatchRead.
func BenchmarkBatchRead(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "read.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	storetest.BenchBatchRead(b, s)
}
