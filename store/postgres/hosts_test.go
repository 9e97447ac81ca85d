package postgres_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestHosts runs the server and three client processes on hosts of their
// own (network namespaces on a bridge), the clients submitting at once
// against shared accounts over TCP: one hot account that runs dry, and
// keys that every host submits. Afterwards every success is stored as
// returned, each key made one transfer, no failure stored anything, the
// hot account is spent exactly and not beyond, invariants hold, and the
// wallet's nonces are gap-free.
//
// In "partition", one client host's link goes down mid-load: its Submits
// fail, the other hosts carry on, and once the link is back the same
// process submits again, with nothing half-written in between.
func TestHosts(t *testing.T) {
	requireNetns(t)
	pgtest.Binary(t)
	t.Parallel()
	for _, partition := range []bool{false, true} {
		name := map[bool]string{false: "shared", true: "partition"}[partition]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testHosts(t, partition)
		})
	}
}

// client is a client process on a host, as the test sees it.
type client struct {
	host   *host
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
	done   chan error

	mu      sync.Mutex
	results []result
	ok      atomic.Int64
	errs    atomic.Int64 // failed or unknown
}

func testHosts(t *testing.T, partition bool) {
	nw := newNetwork(t, 3)
	srv := pgtest.Start(t, &pgtest.Options{
		Listen: nw.server,
		Trust:  []string{nw.subnet},
		Settings: map[string]string{
			"fsync": "off",
			// Notice a client host that went silent within seconds, so its
			// sessions end and their locks go.
			"tcp_keepalives_idle":     "1",
			"tcp_keepalives_interval": "1",
			"tcp_keepalives_count":    "2",
			"tcp_user_timeout":        "3000",
		},
	})
	dsn := srv.CreateDatabase(t)
	s := open(t, dsn, nil)
	const hotTransfers = 20
	accts := fund(t, s, 6, 1_000_000*hold)
	hot := fund(t, s, 1, hotTransfers*hold)[0]
	shared := fund(t, s, 1, 1_000_000*hold)[0]

	clients := make([]*client, len(nw.hosts))
	for i, h := range nw.hosts {
		clients[i] = startClient(t, h, clientConfig{
			DSN: dsn, Host: i, Accounts: append([]int64{hot}, accts...), Shared: shared, Workers: 4,
		})
	}
	okAtLeast := func(n int64, cs ...*client) func() bool {
		return func() bool {
			for _, c := range cs {
				if c.ok.Load() < n {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, "every host's first 50 transfers", okAtLeast(50, clients...))
	if partition {
		cut, others := clients[0], clients[1:]
		errsBefore, othersBefore := cut.errs.Load(), others[0].ok.Load()
		nw.cut(cut.host)
		waitFor(t, "Submits of the cut-off host to fail, and the others' to go on", func() bool {
			return cut.errs.Load() >= errsBefore+4 && okAtLeast(othersBefore+100, others...)()
		})
		okCut := cut.ok.Load()
		t.Logf("host 0 cut off: %d Submits failed, %d succeeded meanwhile on the other hosts",
			cut.errs.Load()-errsBefore, others[0].ok.Load()+others[1].ok.Load()-2*othersBefore)
		nw.restore(cut.host)
		waitFor(t, "the cut-off host to submit again", okAtLeast(okCut+50, cut))
	} else {
		waitFor(t, "200 transfers per host", okAtLeast(200, clients...))
	}
	var results []result
	for _, c := range clients {
		results = append(results, c.stop(t)...)
	}

	c := connect(t, dsn)
	n := auditResults(t, s, c, results)
	t.Logf("%d Submits over %d hosts: %d ok, %d refused for funds, %d failed, %d unknown (%d found stored, %d stored by the retry); errors: %s",
		len(results), len(clients), n.ok, n.funds, n.failed, n.unknown, n.foundStored, n.storedNow, errorSample(results))
	if partition && n.failed+n.unknown == 0 {
		t.Error("no Submit failed while a host was cut off")
	}
	// The hot account ran dry: exactly its funds were spent, never more.
	if n.funds == 0 {
		t.Error("no Submit was refused for funds: the hot account never ran dry")
	}
	wantSpent(t, s, c, hot, hotTransfers)
	storetest.CheckInvariants(t, s, append(accts, hot, shared)...)
	wantGapFree(t, c)
}

// startClient runs the test binary again inside h's namespace as a client
// process, and collects its results.
func startClient(t *testing.T, h *host, cfg clientConfig) *client {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{host: h, done: make(chan error, 1)}
	c.cmd = h.command(exe, "-test.run=^$")
	c.cmd.Env = append(os.Environ(), clientEnv+"="+string(raw))
	c.cmd.Stderr = &c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r result
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("client on %s: %q: %v", h.ns, sc.Bytes(), err)
				continue
			}
			switch r.Kind {
			case "ready":
				continue
			case "ok":
				c.ok.Add(1)
			case "failed", "unknown":
				c.errs.Add(1)
			}
			c.mu.Lock()
			c.results = append(c.results, r)
			c.mu.Unlock()
		}
		c.done <- c.cmd.Wait()
	}()
	return c
}

// stop closes the client's standard input, which it takes as the end of
// the run, and returns its results once it has exited.
func (c *client) stop(t *testing.T) []result {
	t.Helper()
	c.stdin.Close()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("client on %s: %v\n%s", c.host.ns, err, c.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("client on %s did not stop\n%s", c.host.ns, c.stderr.String())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.results
}

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
