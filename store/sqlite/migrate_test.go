package sqlite

import (
	"bytes"
	"database/sql"
	"math/big"
	"path/filepath"
	"slices"
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
	path := filepath.Join(t.TempDir(), "v1.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, Options{BusyTimeout: time.Second}, false))
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(ctx, db, ms[:1]); err != nil {
		t.Fatal(err)
	}
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
	var seqs []int64
	rows, err := s.r.QueryContext(ctx, `SELECT seq FROM attempts WHERE transaction_id = 2 ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
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
	path := filepath.Join(t.TempDir(), "v2.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, Options{BusyTimeout: time.Second}, false))
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(ctx, db, ms[:2]); err != nil {
		t.Fatal(err)
	}
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
