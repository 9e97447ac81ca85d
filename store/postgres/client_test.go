package postgres_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
)

// clientEnv carries a client's configuration to the test binary run
// again as a client process on another host.
const clientEnv = "CONSOLIDATE_PGTEST_CLIENT"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(clientEnv); cfg != "" {
		os.Exit(runClient(cfg))
	}
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// clientConfig is what one client process does: Workers loops of
// Submits over Accounts, each under a key of its own, and one loop over
// the keys shared-0, shared-1, … on Shared, which every host submits.
type clientConfig struct {
	DSN      string
	Host     int
	Accounts []int64
	Shared   int64
	Workers  int
}

// result is what one Submit returned, as a client reports it.
type result struct {
	Host    int    `json:"host"`
	Account int64  `json:"account"`
	Key     string `json:"key"`
	Kind    string `json:"kind"` // ok, funds, unknown or failed
	ID      int64  `json:"id,omitempty"`
	Hash    string `json:"hash,omitempty"`
	Nonce   uint64 `json:"nonce,omitempty"`
	Err     string `json:"err,omitempty"`
}

// submitTimeout bounds each Submit of a client, so that one cut off
// from the server gives up and reports an error.
const submitTimeout = 2 * time.Second

// submitOnce runs one Submit and reports it.
func submitOnce(s *postgres.Store, host int, account int64, key string) result {
	ctx, cancel := context.WithTimeout(context.Background(), submitTimeout)
	defer cancel()
	tx, _, err := s.Submit(ctx, transfer(account, key), sign)
	r := result{Host: host, Account: account, Key: key}
	switch {
	case err == nil:
		r.Kind, r.ID, r.Hash, r.Nonce = "ok", tx.ID, tx.Hash.Hex(), tx.Nonce
	case errors.Is(err, consolidate.ErrInsufficientFunds):
		r.Kind = "funds"
	case errors.Is(err, postgres.ErrOutcomeUnknown):
		r.Kind, r.Err = "unknown", err.Error()
	default:
		r.Kind, r.Err = "failed", err.Error()
	}
	return r
}

// runClient is a client process: it submits until its standard input
// closes, writing each result to standard output as a JSON line.
func runClient(raw string) int {
	var cfg clientConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	// A short idle-in-transaction timeout frees the rows a batch of a
	// host cut off mid-transaction had locked, for the other hosts.
	s, err := postgres.Open(ctx, cfg.DSN, &postgres.Options{MaxConns: 8, IdleInTransactionTimeout: time.Second})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	defer s.Close()

	var mu sync.Mutex
	out := json.NewEncoder(os.Stdout)
	report := func(r result) {
		mu.Lock()
		defer mu.Unlock()
		_ = out.Encode(r)
	}
	report(result{Host: cfg.Host, Kind: "ready"})

	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		cancel()
	}()
	submitLoops(ctx, s, cfg, report)
	return 0
}

// submitLoops runs cfg's loops of Submits on s until ctx ends, reporting
// each result.
func submitLoops(ctx context.Context, s *postgres.Store, cfg clientConfig, report func(result)) {
	var wg sync.WaitGroup
	loop := func(next func(i int) (int64, string)) {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				account, key := next(i)
				r := submitOnce(s, cfg.Host, account, key)
				report(r)
				if r.Kind == "failed" || r.Kind == "unknown" {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	for w := range cfg.Workers {
		loop(func(i int) (int64, string) {
			return cfg.Accounts[(w+i)%len(cfg.Accounts)], fmt.Sprintf("h%d-w%d-%d", cfg.Host, w, i)
		})
	}
	loop(func(i int) (int64, string) { return cfg.Shared, fmt.Sprintf("shared-%d", i) })
	wg.Wait()
}
