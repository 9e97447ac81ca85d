package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

const (
	alice   = "0x1111111111111111111111111111111111111111"
	deposit = "1000000000000000000"
)

// submitted is a transfer request the load sent, and what became of it.
type submitted struct {
	account int64
	key     string
	body    string
	failing bool // sent to the reverting contract: must end FAILED
}

// TestServerEndToEnd builds the server, runs it against a real redis-server
// (lock, cache, queue) on a SQLite file, loads it with transfers until some
// are SUCCESSFUL and some FAILED, sends SIGTERM in the middle of the load,
// restarts it on the same ledger, and checks that every accepted transfer
// is final, with the balances to match.
//
// The server's in-process chain lives in its memory and does not survive a
// restart. So the server, on that chain, finishes its pending transfers
// before it exits on SIGTERM (see drain), and this test holds it to that:
// everything it accepted must be final when the restarted server, on the
// same ledger file, is asked. Requests whose answer was lost in the
// shutdown (the client saw a transport error) are neither counted as
// accepted nor as refused: the test repeats them after the restart with
// the same idempotency key, which returns the original transfer if the
// first server had accepted it, or creates it on the new chain if not;
// either way it must end final. Transfers submitted after the restart show
// that the new server keeps reconciling on the same ledger.
func TestServerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server; skipped with -short")
	}
	started := time.Now()
	srv := redistest.Start(t)
	dir := t.TempDir()
	bin := buildServer(t, dir)
	t.Logf("built the server in %v", time.Since(started).Round(time.Millisecond))
	args := []string{
		"-addr", "127.0.0.1:0",
		"-db", filepath.Join(dir, "ledger.db"),
		"-redis", "redis://" + srv.Addr,
		"-block-time", "100ms",
		"-events", "webhooks,audit",
		"-shutdown-timeout", "30s",
	}

	first := startServer(t, bin, args...)
	c := api{url: first.url, client: &http.Client{Timeout: 10 * time.Second}}
	var accounts []int64
	for range 3 {
		var a account
		if st, err := c.operator().call("POST", "/accounts", `{"deposit_in_wei": "`+deposit+`"}`, &a); err != nil || st != 201 {
			t.Fatalf("create account: %d %v", st, err)
		}
		accounts = append(accounts, a.ID)
	}

	// Two senders per account, so some submits meet a held account lock
	// (409) as well.
	var (
		mu       sync.Mutex
		accepted = map[int64]submitted{}
		lost     []submitted // transport error: outcome unknown to the client
		locked   int
	)
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	for _, acct := range accounts {
		for sender := range 2 {
			load.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stopLoad:
						return
					default:
					}
					s := submitted{account: acct, key: fmt.Sprintf("a%d-s%d-%d", acct, sender, i), failing: i%4 == 3}
					to := alice
					if s.failing {
						to = first.reverter
					}
					s.body = fmt.Sprintf(`{"user_account_id": %d, "to_public_address": "%s", "transaction_amount_in_wei": "%d", "idempotency_key": "%s"}`, acct, to, 1000+i, s.key)
					var tx transaction
					st, err := c.call("POST", "/transactions", s.body, &tx)
					mu.Lock()
					switch {
					case err != nil:
						// The server is going away; one request per
						// sender may have been cut off.
						lost = append(lost, s)
						mu.Unlock()
						return
					case st == 201:
						accepted[tx.ID] = s
					case st == 409:
						locked++
					default:
						t.Errorf("POST /transactions: %d", st)
					}
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
	}
	stop := func() {
		select {
		case <-stopLoad:
		default:
			close(stopLoad)
		}
		load.Wait()
	}
	defer stop()

	// Load until both outcomes have happened, then stop the server under
	// the load.
	waitFor(t, 30*time.Second, "a SUCCESSFUL and a FAILED transfer", func() bool {
		mu.Lock()
		ids := make([]int64, 0, len(accepted))
		for id := range accepted {
			ids = append(ids, id)
		}
		mu.Unlock()
		seen := map[string]bool{}
		for _, id := range ids {
			var tx transaction
			if st, err := c.call("GET", fmt.Sprintf("/transactions/%d", id), "", &tx); err == nil && st == 200 {
				seen[tx.Status] = true
			}
		}
		return seen["SUCCESSFUL"] && seen["FAILED"]
	})
	t.Logf("SIGTERM under load after %v", time.Since(started).Round(time.Millisecond))
	termAt := time.Now()
	first.terminate()
	first.wait(40 * time.Second)
	stop()
	t.Logf("first server exited %v after SIGTERM; %d transfers accepted, %d refused as locked, %d answers lost",
		time.Since(termAt).Round(time.Millisecond), len(accepted), locked, len(lost))
	if m := drainRE.FindStringSubmatch(first.logText()); m != nil {
		t.Logf("the first server waited for %s pending transfers before exiting", m[1])
	}
	if strings.Contains(first.logText(), "still pending") {
		t.Fatalf("the first server exited with transfers pending")
	}
	if len(accepted) == 0 {
		t.Fatal("no transfer accepted")
	}

	second := startServer(t, bin, args...)
	c.url = second.url
	var lastBefore int64
	for id, s := range accepted {
		lastBefore = max(lastBefore, id)
		tx := get(t, c, id)
		if want := wantStatus(s); tx.Status != want {
			t.Errorf("transfer %d (%s) is %s after the restart, want %s", id, s.key, tx.Status, want)
		}
	}
	// Repeat the requests whose answers were lost. The first server either
	// accepted them (the key returns the original, final transfer) or never
	// saw them (the key creates it now, on the new chain).
	var fresh []int64
	for _, s := range lost {
		if s.failing {
			s.body = strings.Replace(s.body, first.reverter, second.reverter, 1)
		}
		var tx transaction
		st, err := c.call("POST", "/transactions", s.body, &tx)
		if err != nil || st != 201 {
			t.Fatalf("repeat %s: %d %v", s.key, st, err)
		}
		accepted[tx.ID] = s
		if tx.ID > lastBefore {
			fresh = append(fresh, tx.ID)
		} else if want := wantStatus(s); get(t, c, tx.ID).Status != want {
			t.Errorf("transfer %d (%s), accepted before the restart, is not %s", tx.ID, s.key, want)
		}
	}
	// New transfers on the restarted server, of both outcomes.
	for i, to := range []string{alice, second.reverter} {
		s := submitted{account: accounts[0], key: fmt.Sprintf("after-restart-%d", i), failing: to != alice}
		s.body = fmt.Sprintf(`{"user_account_id": %d, "to_public_address": "%s", "transaction_amount_in_wei": "7", "idempotency_key": "%s"}`, s.account, to, s.key)
		var tx transaction
		if st, err := c.call("POST", "/transactions", s.body, &tx); err != nil || st != 201 {
			t.Fatalf("submit after the restart: %d %v", st, err)
		}
		accepted[tx.ID] = s
		fresh = append(fresh, tx.ID)
	}
	for _, id := range fresh {
		waitFor(t, 20*time.Second, fmt.Sprintf("transfer %d final", id), func() bool {
			return get(t, c, id).Status == wantStatus(accepted[id])
		})
	}

	total := 0
	for _, acct := range accounts {
		total += checkLedger(t, c, acct, accepted)
	}
	if total != len(accepted) {
		t.Errorf("the ledger holds %d transfers, %d were accepted", total, len(accepted))
	}
	checkEvents(t, srv, total)

	second.terminate()
	second.wait(40 * time.Second)
	t.Logf("end to end in %v", time.Since(started).Round(time.Millisecond))
}

var drainRE = regexp.MustCompile(`waiting for pending transfers.*"pending":(\d+)`)

func wantStatus(s submitted) string {
	if s.failing {
		return "FAILED"
	}
	return "SUCCESSFUL"
}

func get(t *testing.T, c api, id int64) transaction {
	t.Helper()
	var tx transaction
	if st, err := c.call("GET", fmt.Sprintf("/transactions/%d", id), "", &tx); err != nil || st != 200 {
		t.Fatalf("GET /transactions/%d: %d %v", id, st, err)
	}
	return tx
}

// checkLedger lists an account's transfers and checks that each is one the
// test was told about, that none is pending, and that the balances are the
// deposit less what the transfers cost: amount and fee for a success, the
// fee alone for a revert. It returns how many transfers the account has.
func checkLedger(t *testing.T, c api, acct int64, accepted map[int64]submitted) int {
	t.Helper()
	want, _ := new(big.Int).SetString(deposit, 10)
	n := 0
	path := fmt.Sprintf("/accounts/%d/transactions?limit=100", acct)
	for {
		var page struct {
			Transactions []transaction `json:"transactions"`
			NextBefore   *int64        `json:"next_before"`
		}
		if st, err := c.call("GET", path, "", &page); err != nil || st != 200 {
			t.Fatalf("GET %s: %d %v", path, st, err)
		}
		for _, tx := range page.Transactions {
			n++
			s, ok := accepted[tx.ID]
			if !ok || s.account != acct {
				t.Errorf("account %d has transfer %d (%s) that no client was told about", acct, tx.ID, tx.IdempotencyKey)
			}
			if tx.Status != wantStatus(s) {
				t.Errorf("transfer %d is %s, want %s", tx.ID, tx.Status, wantStatus(s))
			}
			fee, _ := new(big.Int).SetString(tx.FeeTotal, 10)
			amount, _ := new(big.Int).SetString(tx.Amount, 10)
			want.Sub(want, fee)
			if tx.Status == "SUCCESSFUL" {
				want.Sub(want, amount)
			}
		}
		if page.NextBefore == nil {
			break
		}
		path = fmt.Sprintf("/accounts/%d/transactions?limit=100&before=%d", acct, *page.NextBefore)
	}
	var a account
	if st, err := c.call("GET", fmt.Sprintf("/accounts/%d", acct), "", &a); err != nil || st != 200 {
		t.Fatalf("GET /accounts/%d: %d %v", acct, st, err)
	}
	if a.Available != want.String() || a.Current != want.String() {
		t.Errorf("account %d: available %s, current %s, want both %s", acct, a.Available, a.Current, want)
	}
	return n
}

// checkEvents waits until each event queue holds two events per transfer,
// submitted and final, and checks each was published exactly once: none
// lost across the restart, none twice.
func checkEvents(t *testing.T, srv *redistest.Server, transfers int) {
	t.Helper()
	q := redis.NewQueue(srv.Client(t), nil)
	for _, name := range []string{"webhooks", "audit"} {
		waitFor(t, 15*time.Second, fmt.Sprintf("%d events in %s", 2*transfers, name), func() bool {
			st, err := q.Stats(context.Background(), name)
			return err == nil && st.Ready+st.Delayed >= 2*transfers
		})
		ds := claimAll(t, q, name)
		seen := map[string]bool{}
		perTx := map[int64][]string{}
		for _, d := range ds {
			var ev consolidate.EventMessage
			if err := json.Unmarshal(d.Body, &ev); err != nil || ev.ID != d.ID || seen[d.ID] {
				t.Errorf("%s: message %s (seen before: %v) has body %q", name, d.ID, seen[d.ID], d.Body)
			}
			seen[d.ID] = true
			perTx[ev.TransactionID] = append(perTx[ev.TransactionID], ev.Type)
		}
		if len(ds) != 2*transfers || len(perTx) != transfers {
			t.Errorf("%s: %d events for %d transfers (%d with events)", name, len(ds), transfers, len(perTx))
		}
		for id, types := range perTx {
			// Claim order within one publish is not promised, only the set.
			if len(types) != 2 || !slices.Contains(types, consolidate.EventSubmitted) ||
				!slices.Contains(types, consolidate.EventSuccessful) && !slices.Contains(types, consolidate.EventFailed) {
				t.Errorf("%s: transfer %d has events %v", name, id, types)
			}
		}
	}
}

func claimAll(t *testing.T, q consolidate.Queue, name string) []consolidate.Delivery {
	t.Helper()
	var out []consolidate.Delivery
	for {
		ds, err := q.Claim(context.Background(), name, 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return out
		}
		out = append(out, ds...)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
