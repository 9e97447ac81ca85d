package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runInProcess runs the server in this process with the environment env
// and returns its URL and its log; it stops when the test ends.
func runInProcess(t *testing.T, env map[string]string) (string, *logBuffer) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	c, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-block-time", "50ms"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func() {}, c, getenv, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(logs.String()); m != nil {
			return "http://" + m[1], logs
		}
		select {
		case err := <-done:
			t.Fatalf("run ended during start-up: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving after 20s:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The operator API is mounted with a token only; /metrics serves the
// Service's and the store's metrics as Prometheus text; logs are JSON.
func TestServerOperatorMetricsAndLogs(t *testing.T) {
	t.Parallel()
	client := &http.Client{Timeout: 10 * time.Second}
	t.Run("without a token", func(t *testing.T) {
		t.Parallel()
		url, _ := runInProcess(t, nil)
		c := api{url: url, client: client}
		for _, path := range []string{"/accounts", "/accounts/1/deposits"} {
			if st, err := c.operator().call("POST", path, `{"deposit_in_wei":"1"}`, nil); err != nil || st != 404 {
				t.Errorf("POST %s: %d %v, want 404: not mounted", path, st, err)
			}
		}
		if st, err := c.operator().call("GET", "/operator/overview", "", nil); err != nil || st != 404 {
			t.Errorf("GET /operator/overview: %d %v, want 404: not mounted", st, err)
		}
	})
	t.Run("with a token", func(t *testing.T) {
		t.Parallel()
		url, logs := runInProcess(t, map[string]string{operatorTokenEnv: operatorToken})
		c := api{url: url, client: client}
		if st, err := c.call("POST", "/accounts", `{"deposit_in_wei":"`+deposit+`"}`, nil); err != nil || st != 401 {
			t.Fatalf("POST /accounts without the token: %d %v, want 401", st, err)
		}
		var a account
		if st, err := c.operator().call("POST", "/accounts", `{"deposit_in_wei":"`+deposit+`"}`, &a); err != nil || st != 201 {
			t.Fatalf("POST /accounts: %d %v", st, err)
		}
		var tx transaction
		body := `{"user_account_id":1,"to_public_address":"` + alice + `","transaction_amount_in_wei":"1000"}`
		if st, err := c.call("POST", "/transactions", body, &tx); err != nil || st != 201 {
			t.Fatalf("POST /transactions: %d %v", st, err)
		}
		waitFor(t, 20*time.Second, "the transfer SUCCESSFUL", func() bool { return get(t, c, tx.ID).Status == "SUCCESSFUL" })
		var o map[string]any
		if st, err := c.operator().call("GET", "/operator/overview", "", &o); err != nil || st != 200 || o["pending"] != float64(0) {
			t.Fatalf("GET /operator/overview: %d %v %v", st, err, o)
		}

		resp, err := client.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, name := range []string{
			`consolidate_submits_total{`, `consolidate_transfers_pending`, `consolidate_reconcile_checks_total{`,
			`consolidate_sqlite_commit_writes_bucket{`, `go_goroutines`,
		} {
			if !strings.Contains(string(text), name) {
				t.Errorf("/metrics has no %s", name)
			}
		}

		for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(line), &v); err != nil || v["msg"] == nil || v["level"] == nil {
				t.Fatalf("log line is not JSON with msg and level: %q", line)
			}
		}
	})
}
