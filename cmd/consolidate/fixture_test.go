package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// fixture is a ledger, and a Service on it over an in-process chain that
// mines only when told to: the workers the CLI inspects.
type fixture struct {
	t     *testing.T
	path  string // the SQLite file, "" on PostgreSQL
	args  []string
	sim   *chaintest.Chain
	store consolidate.Store
	svc   *consolidate.Service
	queue consolidate.Queue
	env   map[string]string
}

type fixtureOptions struct {
	store    consolidate.Store // defaults to a new SQLite file
	args     []string          // the ledger flags for a store given
	queue    consolidate.Queue
	serveIPC bool
	checks   int // the check budget; defaults to the library's
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, args: o.args, store: o.store, env: map[string]string{}}
	if f.store == nil {
		f.path = filepath.Join(t.TempDir(), "ledger.db")
		st, err := sqlite.Open(f.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		f.store, f.args = st, []string{"-db", f.path}
	}
	t.Cleanup(func() { f.store.Close() })
	f.sim = chaintest.NewT(t, &chaintest.Options{ServeIPC: o.serveIPC})
	ch, err := f.sim.NewChain(nil)
	if err != nil {
		t.Fatal(err)
	}
	f.queue = o.queue
	if f.queue == nil {
		f.queue = consolidate.NewMemoryQueue()
	}
	f.svc, err = consolidate.New(f.store, ch, &consolidate.Config{
		Queue:               f.queue,
		Backoff:             consolidate.Backoff{Base: 5 * time.Millisecond, Max: 5 * time.Millisecond, Checks: o.checks},
		PollInterval:        5 * time.Millisecond,
		ParkedCheckInterval: time.Hour,
		VoidDelay:           time.Hour,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// funded creates an account credited with wei.
func (f *fixture) funded(wei int64) consolidate.Account {
	f.t.Helper()
	a, err := f.svc.CreateAccount(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	if a, err = f.svc.Credit(f.t.Context(), a.ID, big.NewInt(wei), "deposit"); err != nil {
		f.t.Fatal(err)
	}
	return a
}

var payee = common.HexToAddress("0x1111111111111111111111111111111111111111")

func (f *fixture) submit(account int64, wei int64) consolidate.Transaction {
	f.t.Helper()
	tx, err := f.svc.Submit(f.t.Context(), consolidate.SubmitRequest{AccountID: account, To: payee, Amount: big.NewInt(wei)})
	if err != nil {
		f.t.Fatal(err)
	}
	return tx
}

// settle mines a block and reconciles tx, which is then final.
func (f *fixture) settle(tx consolidate.Transaction) consolidate.Transaction {
	f.t.Helper()
	f.sim.Commit()
	got, err := f.svc.Reconcile(f.t.Context(), tx.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if !got.Status.Final() {
		f.t.Fatalf("transfer %d is %s after a block, want final", tx.ID, got.Status)
	}
	return got
}

// result is what one run of the command line did.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command line with the fixture's ledger flags first.
func (f *fixture) cli(args ...string) result {
	f.t.Helper()
	return runCLI(f.t, f.env, append(append([]string{}, f.args...), args...)...)
}

// cliOK runs the command line and fails the test unless it exits 0.
func (f *fixture) cliOK(args ...string) string {
	f.t.Helper()
	r := f.cli(args...)
	if r.code != exitOK {
		f.t.Fatalf("consolidate %s: exit %d, stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// cliJSON runs the command line with -json and decodes its output.
func cliJSON[T any](f *fixture, args ...string) T {
	f.t.Helper()
	out := f.cliOK(append(args, "-json")...)
	var v T
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		f.t.Fatalf("consolidate %s -json: %v in:\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runEnv(t.Context(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}
