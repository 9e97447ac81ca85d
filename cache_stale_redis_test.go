package consolidate_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

// failingWrites fails Fill and Delete on purpose while set, as a cache
// that times out for one process; Get still answers.
type failingWrites struct {
	consolidate.Cache
	fills, deletes atomic.Bool
}

func (c *failingWrites) Fill(ctx context.Context, key string, e consolidate.CacheEntry, ttl time.Duration) (bool, error) {
	if c.fills.Load() {
		return false, context.DeadlineExceeded
	}
	return c.Cache.Fill(ctx, key, e, ttl)
}

func (c *failingWrites) Delete(ctx context.Context, key string) error {
	if c.deletes.Load() {
		return context.DeadlineExceeded
	}
	return c.Cache.Delete(ctx, key)
}

// fail makes fills fail, and deletes too if deletes is set; heal ends it.
func (c *failingWrites) fail(deletes bool) { c.fills.Store(true); c.deletes.Store(deletes) }
func (c *failingWrites) heal()             { c.fills.Store(false); c.deletes.Store(false) }

// writeFaults are the ways A's cache writes fail in these tests: a fill
// that times out, then a delete that works; or both failing.
var writeFaults = []struct {
	name    string
	deletes bool
}{{"fills fail", false}, {"fills and deletes fail", true}}

const cacheTimeout = 100 * time.Millisecond

// twoProcesses is process A (the env's Service), whose cache writes fail
// on purpose, and process B, another Service on the same store, chain
// and redis-server, whose store reads can be held up.
type twoProcesses struct {
	*env
	cacheA *failingWrites
	storeB *stallingStore
	b      *consolidate.Service
}

func newTwoProcesses(t *testing.T, ttl time.Duration) *twoProcesses {
	client := redistest.Start(t).Client(t)
	prefix := redistest.NewPrefix()
	cacheA := &failingWrites{Cache: redis.NewCache(client, &redis.CacheOptions{Prefix: prefix})}
	cfg := consolidate.Config{Cache: cacheA, CacheTTL: ttl, NegativeCacheTTL: ttl, CacheJitter: -1, CacheTimeout: cacheTimeout}
	e := newEnv(t, &envOptions{cfg: cfg})
	storeB := newStallingStore()
	storeB.Store = e.store
	cfgB := cfg
	cfgB.Cache = redis.NewCache(client, &redis.CacheOptions{Prefix: prefix})
	cfgB.Queue = consolidate.NewMemoryQueue()
	b, err := consolidate.New(storeB, e.chain, &cfgB)
	if err != nil {
		t.Fatal(err)
	}
	return &twoProcesses{env: e, cacheA: cacheA, storeB: storeB, b: b}
}

// staleGet starts a Get of id in process B whose store read is held up
// once it has read; release lets it fill what it read.
func (p *twoProcesses) staleGet(id int64) (release func()) {
	p.storeB.armed.Store(true)
	done := make(chan struct{})
	go func() { defer close(done); p.b.Get(context.Background(), id) }()
	<-p.storeB.read
	return func() { close(p.storeB.release); <-done }
}

// until polls B's Get of id until ok accepts it, and returns how long that
// took; it fails the test after limit.
func (p *twoProcesses) until(id int64, limit time.Duration, ok func(consolidate.Transaction, error) bool) time.Duration {
	p.t.Helper()
	start := time.Now()
	for {
		tx, err := p.b.Get(p.t.Context(), id)
		if ok(tx, err) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			p.t.Fatalf("process B's Get(%d) after %v: %s, %v", id, limit, tx.Status, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Process A settles a transfer while its cache writes fail; process B
// fills the PENDING copy it read before A's commit. Once A's cache works
// again, B sees the settled status within about a second, not after a
// whole CacheTTL.
func TestStaleFillAcrossProcessesIsRepaired(t *testing.T) {
	t.Parallel()
	for _, fault := range writeFaults {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			p := newTwoProcesses(t, time.Minute)
			acct := p.funded(wei(1e18))
			tx := p.submit(acct.ID, alice, wei(1))
			p.sim.Commit()
			p.cfg.Cache.Delete(t.Context(), "tx:1")

			release := p.staleGet(tx.ID) // B has read PENDING
			p.cacheA.fail(fault.deletes)
			settled := p.reconcile(tx.ID)
			if settled.Status != consolidate.StatusSuccessful {
				t.Fatalf("settled %s", settled.Status)
			}
			release() // B fills PENDING
			if got, err := p.b.Get(t.Context(), tx.ID); err != nil || got.Status != consolidate.StatusPending {
				t.Fatalf("while A's cache fails, B's Get: %s, %v; want the PENDING copy B filled", got.Status, err)
			}
			p.cacheA.heal()
			took := p.until(tx.ID, 5*time.Second, func(got consolidate.Transaction, err error) bool {
				return err == nil && got.Status == settled.Status
			})
			t.Logf("B saw the settled status %v after A's cache came back", took)
		})
	}
}

// The same for a negative entry: B's Get read "not found" before A's
// Submit committed and filled that afterwards.
func TestStaleNegativeEntryAcrossProcessesIsRepaired(t *testing.T) {
	t.Parallel()
	for _, fault := range writeFaults {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			p := newTwoProcesses(t, time.Minute)
			acct := p.funded(wei(1e18))
			first := p.submit(acct.ID, alice, wei(1))

			release := p.staleGet(first.ID + 1) // B has read "not found"
			p.cacheA.fail(fault.deletes)
			tx := p.submit(acct.ID, alice, wei(2))
			if tx.ID != first.ID+1 {
				t.Fatalf("transaction ID %d, want %d", tx.ID, first.ID+1)
			}
			release() // B fills a negative entry
			if _, err := p.b.Get(t.Context(), tx.ID); !errors.Is(err, consolidate.ErrNotFound) {
				t.Fatalf("while A's cache fails, B's Get: %v; want the negative entry B filled", err)
			}
			p.cacheA.heal()
			p.until(tx.ID, 5*time.Second, func(got consolidate.Transaction, err error) bool {
				return err == nil && got.ID == tx.ID
			})
		})
	}
}

// If A's cache never works again, the older copy B filled expires: B sees
// the settled status within the bound the Cache docs state, the longest
// TTL plus a second plus CacheTimeout.
func TestStaleFillAcrossProcessesExpiresWithinTheBound(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	p := newTwoProcesses(t, ttl)
	acct := p.funded(wei(1e18))
	tx := p.submit(acct.ID, alice, wei(1))
	p.sim.Commit()
	p.cfg.Cache.Delete(t.Context(), "tx:1")

	release := p.staleGet(tx.ID)
	p.cacheA.fail(true)
	settled := p.reconcile(tx.ID)
	committed := time.Now()
	release()
	bound := ttl + time.Second + cacheTimeout
	// Polling and scheduling add a little to the bound; a copy that lived
	// a whole second longer would not fit.
	p.until(tx.ID, bound+500*time.Millisecond-time.Since(committed), func(got consolidate.Transaction, err error) bool {
		return err == nil && got.Status == settled.Status
	})
}
