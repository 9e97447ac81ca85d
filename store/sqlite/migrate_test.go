package sqlite

import (
	"bytes"
	"database/sql"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// TestMigrateAttempts upgrades a file written with schema version 1, when
// transactions had no attempts table: each gets its original attempt, with
// the quote not known, and works like any other afterwards.
func TestMigrateAttempts(t *testing.T) {
	ctx := t.Context()
	db, path, _ := atVersion(t, 1)
	created := time.Unix(1_700_000_000, 0)
	amount := func(n int64) []byte { b, _ := encodeAmount(big.NewInt(n)); return b }
	if _, err := db.ExecContext(ctx, `INSERT INTO accounts (id, available, current, created_at, updated_at)
		VALUES (1, ?, ?, 0, 0)`, amount(1000), amount(2020)); err != nil {
		t.Fatal(err)
	}
	old := []struct {
		id     int64
		status consolidate.Status
		hash   common.Hash
		raw    []byte
	}{
		{1, consolidate.StatusSuccessful, common.HexToHash("0x01"), []byte("raw 1")},
		{2, consolidate.StatusPending, common.HexToHash("0x02"), []byte("raw 2")},
	}
	for _, o := range old {
		if _, err := db.ExecContext(ctx, `INSERT INTO transactions
			(id, account_id, sender, recipient, amount, fee_total, nonce, hash, raw, status, version, created_at, updated_at)
			VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
			o.id, common.HexToAddress("0x0a").Bytes(), common.HexToAddress("0x0b").Bytes(), amount(1000), amount(10),
			o.id-1, o.hash.Bytes(), o.raw, string(o.status), created.UnixNano(), created.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open of a version 1 file: %v", err)
	}
	defer s.Close()
	for _, o := range old {
		as, err := s.Attempts(ctx, o.id)
		if err != nil {
			t.Fatalf("Attempts(%d): %v", o.id, err)
		}
		want := consolidate.Attempt{SignedTx: consolidate.SignedTx{Hash: o.hash, Raw: o.raw}, CreatedAt: created}
		if len(as) != 1 || !sameAttempt(as[0], want) {
			t.Errorf("Attempts(%d) = %+v, want the original alone, quote not known: %+v", o.id, as, want)
		}
	}

	// The backfilled attempt is a first attempt like any other.
	bump := consolidate.Attempt{
		SignedTx:  consolidate.SignedTx{Hash: common.HexToHash("0x2b"), Raw: []byte("raw 2, bumped")},
		Quote:     consolidate.Quote{GasLimit: 21_000, GasTipCap: big.NewInt(2), GasFeeCap: big.NewInt(40)},
		CreatedAt: created.Add(time.Minute),
	}
	if err := s.AddAttempt(ctx, 2, bump); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	if err := s.AddAttempt(ctx, 2, consolidate.Attempt{SignedTx: consolidate.SignedTx{Hash: old[0].hash, Raw: old[0].raw}}); err == nil {
		t.Error("AddAttempt accepted another transaction's backfilled hash")
	}
	seqs := queryColumn[int64](t, s.r.DB, `SELECT seq FROM attempts WHERE transaction_id = 2 ORDER BY seq`)
	if !slices.Equal(seqs, []int64{1, 2}) {
		t.Errorf("seqs = %v, want [1 2]", seqs)
	}
	tx, err := s.Settle(ctx, 2, consolidate.Settlement{Outcome: consolidate.OutcomeSuccess, Hash: bump.Hash, At: created.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if tx.Hash != bump.Hash || !bytes.Equal(tx.Raw, bump.Raw) {
		t.Errorf("settled with hash %s, raw %q; want the bump's %s, %q", tx.Hash, tx.Raw, bump.Hash, bump.Raw)
	}
}

// sameAttempt compares attempts field by field; nil caps equal only nil.
func sameAttempt(a, b consolidate.Attempt) bool {
	eq := func(x, y *big.Int) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return x.Cmp(y) == 0
	}
	return a.Hash == b.Hash && bytes.Equal(a.Raw, b.Raw) && a.Cancel == b.Cancel &&
		a.Quote.GasLimit == b.Quote.GasLimit && eq(a.Quote.GasTipCap, b.Quote.GasTipCap) &&
		eq(a.Quote.GasFeeCap, b.Quote.GasFeeCap) && a.CreatedAt.Equal(b.CreatedAt)
}

// TestMigrateParked upgrades a file written with schema version 2, when a
// parked transaction had no next check: it is parked and due at once,
// while one on the regular schedule keeps its next check.
func TestMigrateParked(t *testing.T) {
	ctx := t.Context()
	db, path, _ := atVersion(t, 2)
	created := time.Unix(1_700_000_000, 0)
	next := created.Add(time.Hour)
	amount := func(n int64) []byte { b, _ := encodeAmount(big.NewInt(n)); return b }
	if _, err := db.ExecContext(ctx, `INSERT INTO accounts (id, available, current, created_at, updated_at)
		VALUES (1, ?, ?, 0, 0)`, amount(0), amount(2020)); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		id   int64
		next any
	}{{1, nil}, {2, next.UnixNano()}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO transactions
			(id, account_id, sender, recipient, amount, fee_total, nonce, hash, raw, status, version, next_check_at, created_at, updated_at)
			VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, 'PENDING', 1, ?, ?, ?)`,
			o.id, common.HexToAddress("0x0a").Bytes(), common.HexToAddress("0x0b").Bytes(), amount(1000), amount(10),
			o.id-1, common.BigToHash(big.NewInt(o.id)).Bytes(), []byte("raw"), o.next, created.UnixNano(), created.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open of a version 2 file: %v", err)
	}
	defer s.Close()
	if got, err := s.Parked(ctx, created, 0, 10); err != nil || !slices.Equal(got, []int64{1}) {
		t.Errorf("Parked = %v, %v; want [1], due at once", got, err)
	}
	if got, err := s.Due(ctx, next, 0, 10); err != nil || !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("Due = %v, %v; want [1 2]", got, err)
	}
	// Parking it again moves its check without a second dead-letter event.
	if err := s.Park(ctx, 1, next); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.Events(ctx, 10); err != nil || len(evs) != 0 {
		t.Errorf("events after parking a transaction parked before the upgrade: %+v, %v", evs, err)
	}
}

// TestMigrateReservations upgrades a file written with schema version 4,
// with rows in every table, to the schema where a reserved transaction
// has no hash and no bytes: every row, ID, index, foreign key and the
// AUTOINCREMENT sequences come through unchanged, and reservations can
// be stored and signed afterwards.
func TestMigrateReservations(t *testing.T) {
	ctx := t.Context()
	db, path, ms := seededVersion4(t)
	created, hash := v4Created, hashBytes
	sender, recipient := v4Sender.Bytes(), v4Recipient.Bytes()
	before := schemaDump(t, db)
	if err := apply(ctx, db, ms[:5]); err != nil {
		t.Fatal(err)
	}
	after := schemaDump(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open of a version 5 file: %v", err)
	}
	defer s.Close()
	// What changes: the columns hash and raw may be NULL, the CREATE
	// statement says so (checked by what it refuses, below), and the
	// upgrade is recorded.
	before["schema transactions"] = strings.NewReplacer("hash BLOB 1 ", "hash BLOB 0 ", "raw BLOB 1 ", "raw BLOB 0 ").
		Replace(before["schema transactions"])
	sameExcept(t, before, after, "table transactions", "rows schema_version")
	for _, q := range []string{`PRAGMA integrity_check`, `PRAGMA foreign_key_check`} {
		if got := dumpRows(t, s.r.DB, q); got != "[ok]\n" && got != "" {
			t.Errorf("%s: %s", q, got)
		}
	}
	var version int
	if err := s.r.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&version); err != nil || version != ms[len(ms)-1].Version {
		t.Errorf("schema version %d, %v; want %d", version, err, ms[len(ms)-1].Version)
	}
	var notNull int
	if err := s.r.QueryRowContext(ctx, `SELECT sum("notnull") FROM pragma_table_info('transactions') WHERE name IN ('hash', 'raw')`).Scan(&notNull); err != nil || notNull != 0 {
		t.Errorf("hash and raw: %d NOT NULL, %v; want neither", notNull, err)
	}
	// The hot paths still read the indexes they were written for.
	for q, index := range map[string]string{
		sqlDue:                "transactions_due",
		sqlParked:             "transactions_parked",
		sqlSelectTransactions: "transactions_account",
		sqlSelectEvents:       "events_unsent",
	} {
		if plan := dumpRows(t, s.r.DB, "EXPLAIN QUERY PLAN "+q, 0, 0, 0); !strings.Contains(plan, "INDEX "+index) {
			t.Errorf("plan of\n%s\ndoes not use %s: %s", q, index, plan)
		}
	}
	checkQueryPlans(t, s)

	// The old rows read as before.
	if got, err := s.Due(ctx, time.Unix(0, created), 0, 10); err != nil || !slices.Equal(got, []int64{5, 7}) {
		t.Errorf("Due = %v, %v; want [5 7]", got, err)
	}
	if got, err := s.Parked(ctx, time.Unix(0, created), 0, 10); err != nil || !slices.Equal(got, []int64{5}) {
		t.Errorf("Parked = %v, %v; want [5]", got, err)
	}
	old, err := s.Transaction(ctx, 2)
	if err != nil || old.Hash != common.BytesToHash(hash(2)) || string(old.Raw) != "\x02" || old.BlockHash != common.BytesToHash(hash(99)) {
		t.Errorf("Transaction(2) = %+v, %v", old, err)
	}
	// Accounts and transfers from before tokens hold and move ether.
	if a, err := s.Account(ctx, 1); err != nil || old.Token != (common.Address{}) || a.Token != (common.Address{}) {
		t.Errorf("after the tokens upgrade: account 1 holds %s (%v), transaction 2 moves %s; want ether", a.Token, err, old.Token)
	}

	// A reservation takes the next ID after the sequence, not after the
	// largest ID, and the sender's next nonce.
	p := consolidate.SubmitParams{
		AccountID: 1, From: common.BytesToAddress(sender), To: common.BytesToAddress(recipient),
		Amount: big.NewInt(1000), FeeTotal: big.NewInt(10), IdempotencyKey: "reserve", RequestHash: [32]byte{1},
		Now: time.Unix(0, created),
	}
	r, created2, err := s.Submit(ctx, p, nil)
	if err != nil || !created2 {
		t.Fatalf("Submit(reserve): %v, created %v", err, created2)
	}
	if r.ID != 10 || r.Nonce != 4 || r.Hash != (common.Hash{}) || r.Raw != nil {
		t.Errorf("reservation: ID %d, nonce %d, hash %s, raw %x; want ID 10, nonce 4, no signature", r.ID, r.Nonce, r.Hash, r.Raw)
	}
	var hashNull, rawNull bool
	if err := s.r.QueryRowContext(ctx, `SELECT hash IS NULL, raw IS NULL FROM transactions WHERE id = ?`, r.ID).Scan(&hashNull, &rawNull); err != nil || !hashNull || !rawNull {
		t.Errorf("reservation stored with hash NULL %v, raw NULL %v, %v; want both NULL", hashNull, rawNull, err)
	}
	sig := consolidate.Attempt{SignedTx: consolidate.SignedTx{Hash: common.BytesToHash(hash(10)), Raw: []byte{10}}, CreatedAt: time.Unix(0, created)}
	if err := s.AddAttempt(ctx, r.ID, sig); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	if got, err := s.Transaction(ctx, r.ID); err != nil || got.Hash != sig.Hash || string(got.Raw) != string(sig.Raw) || got.Version != r.Version+1 {
		t.Errorf("signed reservation: %+v, %v", got, err)
	}
	// A hash is 32 bytes and comes with its bytes, or neither is set.
	for _, q := range []string{
		`UPDATE transactions SET raw = NULL WHERE id = 7`,
		`UPDATE transactions SET hash = NULL WHERE id = 7`,
		`UPDATE transactions SET hash = x'07' WHERE id = 7`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: no error, want a CHECK constraint failure", q)
		}
	}
}

// TestMigrateTransactionsHash upgrades a file at schema version 6, whose
// transactions.hash had a UNIQUE index of its own: the table is copied
// into one without it, and nothing else changes, not a row, an ID, the
// sequence, another constraint or index, or the tables that refer to
// transactions. Foreign keys are on again afterwards.
func TestMigrateTransactionsHash(t *testing.T) {
	ctx := t.Context()
	db, path, ms := seededVersion4(t)
	if err := apply(ctx, db, ms[:6]); err != nil {
		t.Fatal(err)
	}
	// A reservation and a token transfer, so no copied column is all one
	// value.
	if _, err := db.ExecContext(ctx, `UPDATE transactions SET hash = NULL, raw = NULL WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE transactions SET token = ? WHERE id = 7`, common.HexToAddress("0x70").Bytes()); err != nil {
		t.Fatal(err)
	}
	before := schemaDump(t, db)
	if err := apply(ctx, db, ms[:7]); err != nil {
		t.Fatal(err)
	}
	after := schemaDump(t, db)
	uniques := dumpRows(t, db, `SELECT group_concat(c.name) FROM pragma_index_list('transactions') l
		JOIN pragma_index_info(l.name) c WHERE l."unique" GROUP BY l.name ORDER BY 1`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// What changes: the CREATE statement, the index on hash, and the
	// upgrade is recorded.
	sameExcept(t, before, after, "table transactions", "indexes transactions", "index sqlite_autoindex_transactions_2", "rows schema_version")
	if uniques != "[sender,nonce]\n" {
		t.Errorf("UNIQUE indexes of transactions after the upgrade:\n%swant (sender, nonce) alone", uniques)
	}

	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open of a version 7 file: %v", err)
	}
	defer s.Close()
	var fks int
	if err := s.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fks); err != nil || fks != 1 {
		t.Errorf("foreign keys on the writer after migrating: %d, %v; want on", fks, err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO attempts (transaction_id, seq, hash, raw, gas_limit, cancel, created_at)
		VALUES (99, 1, ?, x'99', 0, 0, 0)`, hashBytes(990)); err == nil {
		t.Error("an attempt of no transaction was stored: foreign keys are off")
	}
	for _, q := range []string{`PRAGMA integrity_check`, `PRAGMA foreign_key_check`} {
		if got := dumpRows(t, s.r.DB, q); got != "[ok]\n" && got != "" {
			t.Errorf("%s: %s", q, got)
		}
	}
	checkQueryPlans(t, s)

	// A transfer signed with another transfer's hash is still refused,
	// by the attempts' index, and leaves nothing behind; the next takes
	// the ID after the sequence and the nonce after the last.
	p := consolidate.SubmitParams{
		AccountID: 1, From: v4Sender, To: v4Recipient, Amount: big.NewInt(1), FeeTotal: big.NewInt(0),
		Now: time.Unix(0, v4Created),
	}
	taken := func(uint64) (consolidate.SignedTx, error) {
		return consolidate.SignedTx{Hash: common.BytesToHash(hashBytes(2)), Raw: []byte{2}}, nil
	}
	if got, _, err := s.Submit(ctx, p, taken); err == nil {
		t.Errorf("Submit signed with transaction 2's hash stored %+v", got)
	}
	fresh := func(uint64) (consolidate.SignedTx, error) {
		return consolidate.SignedTx{Hash: common.BytesToHash(hashBytes(10)), Raw: []byte{10}}, nil
	}
	got, _, err := s.Submit(ctx, p, fresh)
	if err != nil || got.ID != 10 || got.Nonce != 4 {
		t.Errorf("Submit after the refused one: ID %d, nonce %d, %v; want ID 10, nonce 4", got.ID, got.Nonce, err)
	}
	if a, err := s.Account(ctx, 1); err != nil || a.Available.Cmp(big.NewInt(5000-2020-1)) != 0 {
		t.Errorf("account 1 after one refused and one stored Submit: %+v, %v; want 2979 available", a, err)
	}
	old, err := s.Transaction(ctx, 7)
	if err != nil || old.Hash != common.BytesToHash(hashBytes(7)) || old.Token != common.HexToAddress("0x70") {
		t.Errorf("Transaction(7) = %+v, %v", old, err)
	}
}

// TestMigrationsCheckForeignKeys: a migration that leaves a row pointing
// at nothing fails, and nothing of it is applied.
func TestMigrationsCheckForeignKeys(t *testing.T) {
	ctx := t.Context()
	db, _, ms := seededVersion4(t)
	last := ms[len(ms)-1].Version
	broken := append(slices.Clone(ms), migration{Version: last + 1, Name: "broken.sql", SQL: `DELETE FROM accounts WHERE id = 1`})
	if err := apply(ctx, db, broken); err == nil || !strings.Contains(err.Error(), "missing row of accounts") {
		t.Fatalf("a migration orphaning account 1's rows: %v, want a foreign key failure", err)
	}
	var version int
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&version); err != nil || version != 4 {
		t.Errorf("schema version after the failed migrations: %d, %v; want 4, as before", version, err)
	}
	var fks int
	if err := db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fks); err != nil || fks != 1 {
		t.Errorf("foreign keys after a failed migration: %d, %v; want on", fks, err)
	}
}

// seededVersion4 creates a database file at schema version 4 filled by
// seedVersion4, and returns it open (closed when the test ends, if the
// test has not), its path and the migrations.
func seededVersion4(t *testing.T) (*sql.DB, string, []migration) {
	t.Helper()
	db, path, ms := atVersion(t, 4)
	seedVersion4(t, db)
	return db, path, ms
}

// atVersion creates a database file with the first n migrations applied,
// and returns it open (closed when the test ends, if the test has not),
// its path and all the migrations.
func atVersion(t *testing.T, n int) (*sql.DB, string, []migration) {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", n))
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, Options{BusyTimeout: time.Second}, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := apply(t.Context(), db, ms[:n]); err != nil {
		t.Fatal(err)
	}
	return db, path, ms
}

// sameExcept reports each part of a schemaDump that an upgrade changed,
// added or removed, other than those named in changed.
func sameExcept(t *testing.T, before, after map[string]string, changed ...string) {
	t.Helper()
	for name, want := range before {
		if slices.Contains(changed, name) {
			continue
		}
		if got, ok := after[name]; !ok || got != want {
			t.Errorf("%s after the upgrade:\n%s\nwant:\n%s", name, got, want)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s appeared in the upgrade: %s", name, after[name])
		}
	}
}

// The rows seedVersion4 writes: created when, sent from and to.
var (
	v4Created             = time.Unix(1_700_000_000, 0).UnixNano()
	v4Sender, v4Recipient = common.HexToAddress("0x0a"), common.HexToAddress("0x0b")
)

func amountBytes(n int64) []byte { b, _ := encodeAmount(big.NewInt(n)); return b }

func hashBytes(n int64) []byte { return common.BigToHash(big.NewInt(n)).Bytes() }

// seedVersion4 fills a database at schema version 4 with rows of every
// table: two accounts, a credit, an account key, four transactions
// (settled, failed, parked, pending) with gaps in their IDs and the
// sequence past them, attempts (one transaction has two), idempotency
// keys and events.
func seedVersion4(t *testing.T, db *sql.DB) {
	t.Helper()
	created, amount, hash := v4Created, amountBytes, hashBytes
	sender, recipient := v4Sender.Bytes(), v4Recipient.Bytes()
	// Account 1 holds transaction 5 (pending, parked) and 7 (pending):
	// available = current − 2 × 1010. Transactions 2 and 3 were settled;
	// IDs 4 and 6 were never used, and the sequence is at 9.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (id, available, current, created_at, updated_at) VALUES (1, ?, ?, 1, 2), (3, ?, ?, 3, 4)`,
			[]any{amount(5000 - 2020), amount(5000), amount(0), amount(0)}},
		{`UPDATE sqlite_sequence SET seq = 8 WHERE name = 'accounts'`, nil},
		{`INSERT INTO credits (account_id, reference, amount, created_at) VALUES (1, 'dep', ?, 5)`, []any{amount(5000)}},
		{`INSERT INTO account_keys (key, account_id) VALUES ('key-3', 3)`, nil},
		{`INSERT INTO nonces (sender, next) VALUES (?, 4)`, []any{sender}},
		{`INSERT INTO transactions
			(id, account_id, sender, recipient, amount, fee_total, fee_blockchain, nonce, hash, raw, status, version,
			 idempotency_key, block_number, block_hash, checks, next_check_at, created_at, updated_at, parked)
			VALUES (2, 1, ?1, ?2, ?3, ?4, ?5, 0, ?6, x'02', 'SUCCESSFUL', 2, 'idem-2', 100, ?9, 3, NULL, ?10, ?10, 0),
			       (3, 1, ?1, ?2, ?3, ?4, NULL, 1, ?7, x'03', 'FAILED', 2, NULL, 0, NULL, 0, NULL, ?10, ?10, 0),
			       (5, 1, ?1, ?2, ?3, ?4, NULL, 2, ?8, x'05', 'PENDING', 1, NULL, 0, NULL, 9, ?10, ?10, ?10, 1),
			       (7, 1, ?1, ?2, ?3, ?4, NULL, 3, ?11, x'07', 'PENDING', 1, NULL, 0, NULL, 0, ?10, ?10, ?10, 0)`,
			[]any{sender, recipient, amount(1000), amount(10), amount(7), hash(2), hash(3), hash(5), hash(99), created, hash(7)}},
		{`UPDATE sqlite_sequence SET seq = 9 WHERE name = 'transactions'`, nil},
		{`INSERT INTO attempts (transaction_id, seq, hash, raw, gas_limit, gas_tip_cap, gas_fee_cap, cancel, created_at)
			VALUES (2, 1, ?1, x'02', 21000, ?4, ?4, 0, 1), (3, 1, ?2, x'03', 0, NULL, NULL, 0, 1),
			       (5, 1, ?3, x'05', 21000, ?4, ?4, 0, 1), (5, 2, ?5, x'0505', 21000, ?4, ?4, 1, 2),
			       (7, 1, ?6, x'07', 21000, ?4, ?4, 0, 1)`,
			[]any{hash(2), hash(3), hash(5), amount(2), hash(55), hash(7)}},
		{`INSERT INTO idempotency (account_id, key, request_hash, transaction_id, error_code, created_at)
			VALUES (1, 'idem-2', ?1, 2, NULL, 1), (1, 'idem-poor', ?1, NULL, 'insufficient_funds', 2)`, []any{hash(1)}},
		{`INSERT INTO events (id, type, transaction_id, account_id, status, created_at, sent_at)
			VALUES (1, 'transaction.submitted', 2, 1, 'PENDING', 1, 2), (2, 'transaction.successful', 2, 1, 'SUCCESSFUL', 3, NULL),
			       (4, 'transaction.dead_lettered', 5, 1, 'PENDING', 4, NULL)`, nil},
	} {
		if _, err := db.ExecContext(t.Context(), q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
}

// schemaDump describes a database's schema and contents: each table's
// CREATE statement, foreign keys and rows, each index, and the
// AUTOINCREMENT sequences, keyed by what they describe.
func schemaDump(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	d := map[string]string{}
	rows, err := db.QueryContext(t.Context(), `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var typ, name, table, text string
		if err := rows.Scan(&typ, &name, &table, &text); err != nil {
			t.Fatal(err)
		}
		d[typ+" "+name] = table + ": " + text
		if typ == "table" {
			tables = append(tables, name)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range tables {
		// Each row's columns in table order, the rows in key order.
		d["schema "+name] = dumpRows(t, db, `SELECT * FROM pragma_table_info(?)`, name)
		d["foreign keys "+name] = dumpRows(t, db, `SELECT * FROM pragma_foreign_key_list(?)`, name)
		d["indexes "+name] = dumpRows(t, db, `SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name`, name)
		d["rows "+name] = dumpRows(t, db, `SELECT * FROM "`+name+`" ORDER BY 1, 2`)
	}
	return d
}

// dumpRows formats the rows of a query, one per line.
func dumpRows(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
