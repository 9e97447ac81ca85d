package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
)

// TestServerPostgres runs the server on a PostgreSQL ledger: a transfer is
// accepted, reconciled to SUCCESSFUL and its hold released, and the server
// shuts down cleanly.
func TestServerPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server; skipped with -short")
	}
	t.Parallel()
	db := pgtest.Start(t, nil)
	bin := buildServer(t, t.TempDir())
	p := startServer(t, bin, "-addr", "127.0.0.1:0", "-postgres", db.CreateDatabase(t), "-block-time", "100ms")
	c := api{url: p.url, client: &http.Client{Timeout: 10 * time.Second}}
	var a account
	if st, err := c.operator().call("POST", "/accounts", `{"deposit_in_wei": "`+deposit+`"}`, &a); err != nil || st != 201 {
		t.Fatalf("create account: %d %v", st, err)
	}
	var tx transaction
	body := fmt.Sprintf(`{"user_account_id": %d, "to_public_address": "%s", "transaction_amount_in_wei": "1000", "idempotency_key": "pg-1"}`, a.ID, alice)
	if st, err := c.call("POST", "/transactions", body, &tx); err != nil || st != 201 {
		t.Fatalf("POST /transactions: %d %v", st, err)
	}
	waitFor(t, 30*time.Second, "SUCCESSFUL transfer", func() bool { return get(t, c, tx.ID).Status == "SUCCESSFUL" })
	if st, err := c.call("GET", fmt.Sprintf("/accounts/%d", a.ID), "", &a); err != nil || st != 200 {
		t.Fatalf("GET account: %d %v", st, err)
	}
	if a.Available != a.Current {
		t.Errorf("after the transfer settled: available %s, current %s; want them equal", a.Available, a.Current)
	}
	p.terminate()
	p.wait(30 * time.Second)
}
