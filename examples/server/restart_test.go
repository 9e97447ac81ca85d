package main

import (
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerRestartAsREADME starts the server as the README shows, with no
// ledger flag, three times: killed with a transfer pending, then stopped
// with SIGTERM, then once more. Every start must answer the README's
// requests as on a fresh ledger, with no transfer of an earlier run left
// PENDING and no funds held, and a graceful stop must remove its ledger.
func TestServerRestartAsREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server; skipped with -short")
	}
	t.Parallel()
	bin := buildServer(t, t.TempDir())
	work, tmp := t.TempDir(), t.TempDir()
	start := func(extra ...string) *process {
		cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, extra...)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "CONSOLIDATE_DB=")
		return startCmd(t, cmd)
	}

	// No blocks in the first run: its transfer is surely pending at the kill.
	p := start("-block-time", "1h")
	tx := readmeRequests(t, p)
	if tx.Status != "PENDING" {
		t.Fatalf("transfer answered %s, want PENDING", tx.Status)
	}
	p.kill()
	killedLedgers := ledgers(t, tmp)

	for run := range 2 {
		p = start()
		tx = readmeRequests(t, p)
		c := api{url: p.url, client: &http.Client{Timeout: 10 * time.Second}}
		waitFor(t, 30*time.Second, "the README's transfer SUCCESSFUL", func() bool { return get(t, c, tx.ID).Status == "SUCCESSFUL" })
		var page struct {
			Transactions []transaction `json:"transactions"`
		}
		if st, err := c.call("GET", "/accounts/1/transactions?limit=100", "", &page); err != nil || st != 200 {
			t.Fatalf("run %d: GET /accounts/1/transactions: %d %v", run, st, err)
		}
		for _, other := range page.Transactions {
			if other.Status == "PENDING" {
				t.Errorf("run %d: transfer %d is still PENDING", run, other.ID)
			}
		}
		if len(page.Transactions) != 1 {
			t.Errorf("run %d: account 1 has %d transfers, want the README's one", run, len(page.Transactions))
		}
		var a account
		if st, err := c.call("GET", "/accounts/1", "", &a); err != nil || st != 200 {
			t.Fatalf("run %d: GET /accounts/1: %d %v", run, st, err)
		}
		want, _ := new(big.Int).SetString(deposit, 10)
		fee, _ := new(big.Int).SetString(tx.FeeTotal, 10)
		want.Sub(want, fee).Sub(want, big.NewInt(1000))
		if a.Available != want.String() || a.Current != want.String() {
			t.Errorf("run %d: account 1 available %s, current %s, want both %s", run, a.Available, a.Current, want)
		}
		p.terminate()
		p.wait(30 * time.Second)
		if left := ledgers(t, tmp); len(left) != len(killedLedgers) {
			t.Errorf("run %d: temporary ledgers after a graceful stop: %v, want only the killed run's %v", run, left, killedLedgers)
		}
	}
	if files, err := os.ReadDir(work); err != nil || len(files) > 0 {
		t.Errorf("the server wrote to its working directory: %v %v", files, err)
	}
}

// readmeRequests sends the README's requests: create account 1 with one
// ether, transfer 1000 wei from it under the key order-42, read it back.
// It returns the transfer as first answered.
func readmeRequests(t *testing.T, p *process) transaction {
	t.Helper()
	c := api{url: p.url, client: &http.Client{Timeout: 10 * time.Second}}
	var a account
	if st, err := c.call("POST", "/accounts", `{"deposit_in_wei":"`+deposit+`"}`, nil); err != nil || st != 401 {
		t.Fatalf("POST /accounts without the operator token: %d %v, want 401", st, err)
	}
	if st, err := c.operator().call("POST", "/accounts", `{"deposit_in_wei":"`+deposit+`"}`, &a); err != nil || st != 201 {
		t.Fatalf("POST /accounts: %d %v", st, err)
	}
	if a.ID != 1 || a.Available != deposit || a.Current != deposit {
		t.Fatalf("POST /accounts on a fresh ledger: %+v, want account 1 with both balances %s", a, deposit)
	}
	body := `{"user_account_id":1,"to_public_address":"` + alice + `","transaction_amount_in_wei":"1000"}`
	req, err := http.NewRequest("POST", p.url+"/transactions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "order-42")
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST /transactions: %d %s", resp.StatusCode, raw)
	}
	tx := get(t, c, 1)
	if tx.AccountID != 1 || tx.Amount != "1000" {
		t.Fatalf("GET /transactions/1 on a fresh ledger: %+v (POST answered %s)", tx, raw)
	}
	return tx
}

// ledgers lists the temporary ledger directories under dir.
func ledgers(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "consolidate-server-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
