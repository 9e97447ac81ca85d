package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestFailover kills a primary with SIGKILL under a load of Submits from
// two Stores and promotes its synchronous standby; the Stores, on a DSN
// naming both servers with target_session_attrs=read-write, carry on
// against the new primary without a restart. There, every Submit that
// returned success is stored as returned, each key made one transfer,
// Submits whose outcome was unknown are resolved by a retry with their
// key, nothing is stored that no Submit returned, the hot account is
// spent exactly, invariants hold and the wallet's nonces are gap-free.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary and a standby; skipped under -short")
	}
	t.Parallel()
	// Every commit waits until the standby has flushed it: what a Submit
	// reports stored survives the loss of the primary.
	primary := pgtest.Start(t, &pgtest.Options{Settings: map[string]string{"synchronous_standby_names": "*"}})
	standby := primary.StartStandby(t, nil)
	waitFor(t, "the standby to be synchronous", func() bool {
		n, err := primary.Synchronous(t.Context())
		return err == nil && n == 1
	})
	u, err := url.Parse(primary.CreateDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	database := u.Path[1:]
	u.Host = fmt.Sprintf("%s:%d,%s:%d", primary.Host, primary.Port, standby.Host, standby.Port)
	q := u.Query()
	q.Set("target_session_attrs", "read-write")
	u.RawQuery = q.Encode()
	dsn := u.String()

	stores := []*postgres.Store{open(t, dsn, nil), open(t, dsn, nil)}
	const hotTransfers = 20
	accts := fund(t, stores[0], 6, 1_000_000*hold)
	hot := fund(t, stores[0], 1, hotTransfers*hold)[0]
	shared := fund(t, stores[0], 1, 1_000_000*hold)[0]

	var (
		mu      sync.Mutex
		results []result
		ok      atomic.Int64
		errs    atomic.Int64
		wg      sync.WaitGroup
	)
	report := func(r result) {
		switch r.Kind {
		case "ok":
			ok.Add(1)
		case "failed", "unknown":
			errs.Add(1)
		}
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for i, s := range stores {
		wg.Go(func() {
			submitLoops(ctx, s, clientConfig{Host: i, Accounts: append([]int64{hot}, accts...), Shared: shared, Workers: 4}, report)
		})
	}
	waitFor(t, "200 transfers on the primary", func() bool { return ok.Load() >= 200 })
	primary.Kill()
	okAtKill, errsAtKill := ok.Load(), errs.Load()
	waitFor(t, "Submits to fail with the primary gone", func() bool { return errs.Load() >= errsAtKill+4 })
	standby.Promote(t)
	waitFor(t, "200 transfers on the promoted standby", func() bool { return ok.Load() >= okAtKill+200 })
	cancel()
	wg.Wait()

	c := connect(t, standby.DSN(database))
	n := auditResults(t, stores[1], c, results)
	t.Logf("%d Submits, %d succeeded before the kill: %d ok, %d refused for funds, %d failed, %d unknown (%d found stored, %d stored by the retry); errors: %s",
		len(results), okAtKill, n.ok, n.funds, n.failed, n.unknown, n.foundStored, n.storedNow, errorSample(results))
	if n.funds == 0 {
		t.Error("no Submit was refused for funds: the hot account never ran dry")
	}
	wantSpent(t, stores[1], c, hot, hotTransfers)
	storetest.CheckInvariants(t, stores[0], append(accts, hot, shared)...)
	wantGapFree(t, c)
}
