package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// connect opens a plain connection to dsn, for looking behind a Store's
// back.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestOpenDatabaseDown(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: connection refused at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dsn := fmt.Sprintf("postgres://app:secret@127.0.0.1:%d/ledger?sslmode=disable", port)
	s, err := postgres.Open(ctx, dsn, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with no server")
	}
	msg := err.Error()
	if !strings.Contains(msg, fmt.Sprintf("connect to 127.0.0.1:%d/ledger", port)) {
		t.Errorf("Open error %q does not name the server", msg)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("Open error %q shows the password", msg)
	}
	if ctx.Err() != nil {
		t.Errorf("Open took until its context ended for a refused connection")
	}
	if _, err := postgres.Open(ctx, "postgres://[::1", nil); err == nil || !strings.Contains(err.Error(), "DSN") {
		t.Errorf("Open(malformed DSN) error = %v, want a DSN error", err)
	}
	if _, err := postgres.Open(ctx, dsn, &postgres.Options{MaxBatch: -1}); !errors.Is(err, consolidate.ErrInvalidConfig) {
		t.Errorf("Open(MaxBatch -1) error = %v, want ErrInvalidConfig", err)
	}
}

// TestMigrateConcurrent opens one new database from many Stores at once,
// as processes starting together do: each migration is applied once, and
// every Store works.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Shared(t, nil).CreateDatabase(t)
	const n = 8
	stores := make([]*postgres.Store, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn, nil)
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s == nil {
			t.FailNow()
		}
		defer s.Close()
		if _, err := s.CreateAccount(t.Context(), consolidate.NewAccount{}); err != nil {
			t.Errorf("CreateAccount: %v", err)
		}
	}
	c := connect(t, dsn)
	var rows, maxVersion int
	if err := c.QueryRow(t.Context(), `SELECT count(*), max(version) FROM schema_version`).Scan(&rows, &maxVersion); err != nil {
		t.Fatal(err)
	}
	if rows != maxVersion || rows == 0 {
		t.Errorf("schema_version has %d rows for version %d: a migration was applied twice or not at all", rows, maxVersion)
	}

	// A database from a newer version of the package is not touched.
	if _, err := c.Exec(t.Context(), `INSERT INTO schema_version (version) VALUES ($1)`, maxVersion+1); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(t.Context(), dsn, nil); err == nil {
		s.Close()
		t.Error("Open accepted a database with a newer schema")
	}
}

// TestConstraints writes behind the Store's back what it must never
// write: the database itself refuses it.
func TestConstraints(t *testing.T) {
	t.Parallel()
	dsn := database(t, nil)
	s := open(t, dsn, nil)
	a, err := s.CreateAccount(t.Context(), consolidate.NewAccount{})
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, dsn)
	const max = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
	for _, tc := range []struct{ name, sql string }{
		{"available < 0", `UPDATE accounts SET available = -1 WHERE id = $1`},
		{"available > current", `UPDATE accounts SET available = 2, current = 1 WHERE id = $1`},
		{"current > 2^256-1", `UPDATE accounts SET current = ` + max + ` + 1 WHERE id = $1`},
		{"amount 0", `INSERT INTO transactions (account_id, sender, recipient, amount, fee_total, nonce, hash, raw,
			status, version, created_at, updated_at) VALUES ($1, '\x0000000000000000000000000000000000000001',
			'\x0000000000000000000000000000000000000002', 0, 0, 0, '\x` + strings.Repeat("ab", 32) + `', '\x01',
			'PENDING', 1, now(), now())`},
		{"negative credit", `INSERT INTO credits (account_id, reference, amount, created_at) VALUES ($1, 'x', -5, now())`},
	} {
		_, err := c.Exec(t.Context(), tc.sql, a.ID)
		if err == nil {
			t.Errorf("%s: the database accepted it", tc.name)
		} else if !strings.Contains(err.Error(), "23514") {
			t.Errorf("%s: error %v, want a check violation (SQLSTATE 23514)", tc.name, err)
		}
	}
	// The largest uint256 itself fits, exactly.
	if _, err := c.Exec(t.Context(), `UPDATE accounts SET available = `+max+`, current = `+max+` WHERE id = $1`, a.ID); err != nil {
		t.Fatalf("storing 2^256-1: %v", err)
	}
	got, err := s.Account(t.Context(), a.ID)
	if err != nil || got.Available.String() != max || got.Current.String() != max {
		t.Errorf("Account = %v, %v; want both balances %s", got, err, max)
	}
}

// TestPendingIndex checks that the sweeper's query reads the partial
// index of PENDING transactions, so its cost stays with the work in
// flight however long the history grows.
func TestPendingIndex(t *testing.T) {
	t.Parallel()
	dsn := database(t, nil)
	open(t, dsn, nil)
	c := connect(t, dsn)
	var def string
	if err := c.QueryRow(t.Context(), `SELECT indexdef FROM pg_indexes WHERE indexname = 'transactions_due'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "WHERE (status = 'PENDING'::text)") {
		t.Errorf("transactions_due = %q, want an index of PENDING rows only", def)
	}
	// With a table this small the planner would scan it; ask what it
	// does when scanning is not an option, as with a long history.
	if _, err := c.Exec(t.Context(), `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for query, index := range map[string]string{
		`SELECT id FROM transactions WHERE status = 'PENDING' AND id > 0 AND next_check_at <= now() ORDER BY id LIMIT 10`:            "transactions_due",
		`SELECT id FROM transactions WHERE status = 'PENDING' AND parked AND id > 0 AND next_check_at <= now() ORDER BY id LIMIT 10`: "transactions_parked",
	} {
		var plan strings.Builder
		rows, err := c.Query(t.Context(), "EXPLAIN "+query)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		if !strings.Contains(plan.String(), index) {
			t.Errorf("plan of %q does not use %s:\n%s", query, index, plan.String())
		}
	}
}
