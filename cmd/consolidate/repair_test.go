package main

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

// park runs the workers until tx, never mined, spends its check budget
// and is parked, then stops them.
func (f *fixture) park(tx consolidate.Transaction) {
	f.t.Helper()
	ctx, stop := context.WithCancel(f.t.Context())
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil && ctx.Err() == nil {
			f.t.Errorf("Run: %v", err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		parked, err := f.svc.List(f.t.Context(), consolidate.Filter{Parked: true, Limit: 10})
		if err != nil {
			f.t.Fatal(err)
		}
		if len(parked) == 1 && parked[0].ID == tx.ID {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("transfer %d was never parked", tx.ID)
}

func TestRequeueLedgerOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{checks: 2})
	tx := f.submit(f.funded(1e18).ID, 1000)
	id := strconv.FormatInt(tx.ID, 10)
	f.park(tx)

	dl := cliJSON[deadLetters](f, "dead-letters")
	if len(dl.Parked) != 1 || dl.Parked[0].ID != tx.ID || dl.Parked[0].Checks == 0 || dl.Queue != nil {
		t.Fatalf("dead-letters -json = %+v, want transfer %d with its checks counted, and no queue view", dl, tx.ID)
	}
	if v := cliJSON[transferView](f, "transfer", id); v.Parked == nil || !*v.Parked {
		t.Fatalf("transfer -json of a parked transfer = %+v, want parked", v)
	}
	if s := cliJSON[statsView](f, "stats"); s.Pending != 1 || s.Parked != 1 {
		t.Fatalf("stats -json = %+v, want 1 pending, 1 parked", s)
	}

	r := cliJSON[requeued](f, "requeue", id, "-ledger-only")
	if r.ID != tx.ID || !r.WasParked || r.Queue != "ledger-only" {
		t.Fatalf("requeue -json = %+v", r)
	}
	v := cliJSON[transferView](f, "transfer", id)
	if v.Status != "PENDING" || v.Parked == nil || *v.Parked || v.Checks != 0 || v.NextCheckAt == "" {
		t.Fatalf("requeued transfer = %+v, want PENDING, not parked, a fresh budget and a next check", v)
	}
	// Due now, the workers' sweeper finds it; once mined it settles.
	due, err := f.store.Due(t.Context(), time.Now(), 0, 10)
	if err != nil || len(due) != 1 || due[0] != tx.ID {
		t.Fatalf("Due = %v, %v; want [%d]", due, err, tx.ID)
	}
	if got := f.settle(tx); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("requeued transfer ended %s", got.Status)
	}
	if r := f.cli("requeue", id, "-ledger-only"); r.code != exitError {
		t.Fatalf("requeue of a final transfer: exit %d, want 1; stderr %q", r.code, r.stderr)
	}
}

func TestRequeueThroughTheWorkersRedisQueue(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	prefix := redistest.NewPrefix()
	q := redis.NewQueue(srv.Client(t), &redis.QueueOptions{Prefix: prefix})
	f := newFixture(t, fixtureOptions{checks: 2, queue: q})
	f.args = append(f.args, "-redis", "redis://"+srv.Addr, "-redis-prefix", prefix)
	tx := f.submit(f.funded(1e18).ID, 1000)
	id := strconv.FormatInt(tx.ID, 10)
	f.park(tx)

	dl := cliJSON[deadLetters](f, "dead-letters")
	if len(dl.Parked) != 1 || len(dl.Queue) != 1 || dl.Queue[0].Transfer != tx.ID || dl.Queue[0].Reason == "" {
		t.Fatalf("dead-letters -json = %+v, want transfer %d parked and its dead letter", dl, tx.ID)
	}
	s := cliJSON[statsView](f, "stats")
	if s.Queue == nil || s.Queue.Dead != 1 || s.Parked != 1 {
		t.Fatalf("stats -json = %+v, want one dead letter and one parked", s)
	}

	if r := cliJSON[requeued](f, "requeue", id); !r.WasParked || r.Queue != "redis" {
		t.Fatalf("requeue -json = %+v", r)
	}
	st, err := q.Stats(t.Context(), "reconcile")
	if err != nil {
		t.Fatal(err)
	}
	if st.Dead != 0 || st.Ready+st.Delayed != 1 {
		t.Fatalf("queue after requeue = %+v, want no dead letter and one task", st)
	}
	if v := cliJSON[transferView](f, "transfer", id); *v.Parked || v.Checks != 0 {
		t.Fatalf("requeued transfer = %+v, want not parked with a fresh budget", v)
	}
}

// chainArgs writes the wallet's key to a file and returns the flags that
// reach the fixture's node with it.
func (f *fixture) chainArgs() []string {
	f.t.Helper()
	keyFile := filepath.Join(f.t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("0x"+hex.EncodeToString(crypto.FromECDSA(f.sim.Key()))+"\n"), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return []string{"-rpc", f.sim.Endpoint(), "-key-file", keyFile}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{serveIPC: true})
	tx := f.submit(f.funded(1e18).ID, 1000)
	id := strconv.FormatInt(tx.ID, 10)
	chainArgs := f.chainArgs()

	// The wrong network is caught before anything is signed.
	if r := f.cli(append([]string{"cancel", id, "-chain-id", "1"}, chainArgs...)...); r.code != exitError || !strings.Contains(r.stderr, "on chain 1337, not -chain-id 1") {
		t.Fatalf("cancel on the wrong chain: exit %d, want 1; stderr %q", r.code, r.stderr)
	}
	other := filepath.Join(t.TempDir(), "other")
	k, _ := crypto.GenerateKey()
	if err := os.WriteFile(other, []byte(hex.EncodeToString(crypto.FromECDSA(k))), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := f.cli("cancel", id, "-chain-id", "1337", "-rpc", f.sim.Endpoint(), "-key-file", other); r.code != exitError || !strings.Contains(r.stderr, "only that wallet can cancel it") {
		t.Fatalf("cancel with another wallet's key: exit %d, want 1; stderr %q", r.code, r.stderr)
	}

	c := cliJSON[cancelled](f, append([]string{"cancel", id, "-chain-id", "1337"}, chainArgs...)...)
	if c.ID != tx.ID || !c.Attempt.Cancel || c.Attempt.Hash == tx.Hash.Hex() {
		t.Fatalf("cancel -json = %+v, want a new cancel attempt", c)
	}
	if got := f.settle(tx); got.Status != consolidate.StatusFailed || got.Hash.Hex() != c.Attempt.Hash {
		t.Fatalf("cancelled transfer ended %s with %s, want FAILED by the cancel %s", got.Status, got.Hash.Hex(), c.Attempt.Hash)
	}
	a := cliJSON[accountView](f, "account", strconv.FormatInt(tx.AccountID, 10))
	if a.Available != "1000000000000000000" || a.Current != a.Available {
		t.Fatalf("account after the cancel = %+v, want a full refund", a)
	}
	if r := f.cli(append([]string{"cancel", id, "-chain-id", "1337"}, chainArgs...)...); r.code != exitError {
		t.Fatalf("cancel of a final transfer: exit %d, want 1", r.code)
	}
}

func TestCancelParked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{serveIPC: true, checks: 2})
	tx := f.submit(f.funded(1e18).ID, 1000)
	id := strconv.FormatInt(tx.ID, 10)
	f.park(tx)
	args := append([]string{"cancel", id, "-chain-id", "1337"}, f.chainArgs()...)
	// Cancel puts the transfer back to work, which takes the queue.
	if r := f.cli(args...); r.code != exitUsage || !strings.Contains(r.stderr, "-ledger-only") {
		t.Fatalf("cancel of a parked transfer without the queue: exit %d, stderr %q; want 2", r.code, r.stderr)
	}
	if n := len(f.attempts(tx.ID)); n != 1 {
		t.Fatalf("a refused cancel recorded attempts: %d, want 1", n)
	}
	c := cliJSON[cancelled](f, append(args, "-ledger-only")...)
	if !c.WasParked || !c.Attempt.Cancel {
		t.Fatalf("cancel -json = %+v, want a cancel of a parked transfer", c)
	}
	if v := cliJSON[transferView](f, "transfer", id); *v.Parked || len(v.Attempts) != 2 {
		t.Fatalf("cancelled transfer = %+v, want back at work with two attempts", v)
	}
}

func TestStatsWithTheNode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{serveIPC: true})
	f.settle(f.submit(f.funded(1e18).ID, 1000))
	f.sim.Mine(12) // final for chain.Dial's default 12 confirmations
	s := cliJSON[statsView](f, append([]string{"stats"}, f.chainArgs()...)...)
	if len(s.Wallets) != 1 || s.Wallets[0].Finalized == nil || *s.Wallets[0].Finalized != 1 || s.Wallets[0].Balance == "" {
		t.Fatalf("stats -rpc wallets = %+v, want the node's finalized nonce 1 and a balance", s.Wallets)
	}
	if text := f.cliOK(append([]string{"stats"}, f.chainArgs()...)...); !strings.Contains(text, "FINALIZED NONCE") {
		t.Fatalf("stats table:\n%s", text)
	}
}

func (f *fixture) attempts(id int64) []consolidate.Attempt {
	f.t.Helper()
	as, err := f.store.Attempts(f.t.Context(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return as
}
