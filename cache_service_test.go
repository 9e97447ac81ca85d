package consolidate_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

// slowStore counts transaction reads and makes each take a while, so that
// concurrent misses overlap.
type slowStore struct {
	consolidate.Store
	reads atomic.Int64
	delay time.Duration
}

func (s *slowStore) Transaction(ctx context.Context, id int64) (consolidate.Transaction, error) {
	s.reads.Add(1)
	time.Sleep(s.delay)
	return s.Store.Transaction(ctx, id)
}

func redisCache(t *testing.T) *redis.Cache {
	client := redistest.Start(t).Client(t)
	return redis.NewCache(client, &redis.CacheOptions{Prefix: redistest.NewPrefix()})
}

// A thousand Gets of a cold key cost one store read in this process.
func TestRedisCacheColdKeyOneStoreRead(t *testing.T) {
	t.Parallel()
	cache := redisCache(t)
	slow := &slowStore{delay: 50 * time.Millisecond}
	e := newEnv(t, &envOptions{
		// A thousand Gets queue for the client's pool; on a loaded machine
		// some would wait past the default 100 ms, count as a cache miss
		// and read the store, as they should. This test is about the
		// flight, so the cache is given all the time it needs.
		cfg:       consolidate.Config{Cache: cache, CacheTimeout: time.Minute},
		wrapStore: func(s consolidate.Store) consolidate.Store { slow.Store = s; return slow },
	})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1))
	if err := cache.Delete(t.Context(), "tx:1"); err != nil { // cold
		t.Fatal(err)
	}
	slow.reads.Store(0)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 1000 {
		wg.Go(func() {
			<-start
			got, err := e.svc.Get(t.Context(), tx.ID)
			if err != nil || got.ID != tx.ID || got.Status != consolidate.StatusPending {
				t.Errorf("Get = %d %s %v", got.ID, got.Status, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := slow.reads.Load(); n != 1 {
		t.Fatalf("%d store reads for 1000 concurrent Gets, want 1", n)
	}
	// And now it is warm: no read at all.
	if _, err := e.svc.Get(t.Context(), tx.ID); err != nil {
		t.Fatal(err)
	}
	if n := slow.reads.Load(); n != 1 {
		t.Fatalf("a warm Get read the store (%d reads)", n)
	}
}

// Gets racing Settle never see a status older than the last completed
// Settle, even with entries expiring and refilled all the time by readers
// that may have read the row before the settle.
func TestRedisCacheGetNeverOlderThanLastSettle(t *testing.T) {
	t.Parallel()
	cache := redisCache(t)
	slow := &slowStore{delay: time.Millisecond}
	e := newEnv(t, &envOptions{
		cfg: consolidate.Config{
			Cache:            cache,
			CacheTTL:         5 * time.Millisecond,
			NegativeCacheTTL: 5 * time.Millisecond,
		},
		wrapStore: func(s consolidate.Store) consolidate.Store { slow.Store = s; return slow },
	})
	acct := e.funded(wei(1e18))
	const transfers = 10
	for range transfers {
		tx := e.submit(acct.ID, alice, wei(1))
		var settled atomic.Bool
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var violations atomic.Int64
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					// A Get that starts after Settle returned must see it.
					after := settled.Load()
					got, err := e.svc.Get(context.Background(), tx.ID)
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					if after && got.Status != consolidate.StatusSuccessful {
						violations.Add(1)
					}
				}
			})
		}
		time.Sleep(5 * time.Millisecond)
		e.sim.Commit()
		got := e.reconcile(tx.ID)
		if got.Status != consolidate.StatusSuccessful {
			t.Fatalf("settled %s", got.Status)
		}
		settled.Store(true)
		time.Sleep(20 * time.Millisecond)
		close(stop)
		wg.Wait()
		if n := violations.Load(); n > 0 {
			t.Fatalf("tx %d: %d Gets after Settle returned an older status", tx.ID, n)
		}
	}
	e.invariants(acct.ID)
}

// A negative entry is replaced as soon as the row appears.
func TestRedisCacheNegativeEntryReplacedByRow(t *testing.T) {
	t.Parallel()
	cache := redisCache(t)
	e := newEnv(t, &envOptions{cfg: consolidate.Config{Cache: cache, NegativeCacheTTL: time.Hour}})
	acct := e.funded(wei(1e18))
	if _, err := e.svc.Get(t.Context(), 1); !errors.Is(err, consolidate.ErrNotFound) {
		t.Fatalf("Get before the row exists: %v", err)
	}
	if entry, ok, err := cache.Get(t.Context(), "tx:1"); err != nil || !ok || !entry.Negative {
		t.Fatalf("no negative entry: %+v %v %v", entry, ok, err)
	}
	tx := e.submit(acct.ID, alice, wei(1))
	got, err := e.svc.Get(t.Context(), tx.ID)
	if err != nil || got.ID != tx.ID {
		t.Fatalf("Get after the row appeared: %v (negative entry lives an hour)", err)
	}
}

// Redis down: Get still answers from the store.
func TestRedisCacheOutageFallsBackToStore(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cache := redis.NewCache(srv.Client(t), &redis.CacheOptions{Prefix: redistest.NewPrefix()})
	e := newEnv(t, &envOptions{cfg: consolidate.Config{Cache: cache}})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1))
	srv.Stop()
	got, err := e.svc.Get(t.Context(), tx.ID)
	if err != nil || got.ID != tx.ID {
		t.Fatalf("Get with Redis down: %v", err)
	}
	if _, err := e.svc.Get(t.Context(), 999); !errors.Is(err, consolidate.ErrNotFound) {
		t.Fatalf("Get of a missing row with Redis down: %v", err)
	}
}
