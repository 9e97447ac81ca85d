package consolidate_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
	goredis "github.com/redis/go-redis/v9"
)

// TestRedisOutage stops the redis-server that holds the lock, cache and
// queue while transfers are in flight, and brings up an empty one in its
// place. During the outage Submit fails fast with ErrLockUnavailable and
// Get reads the store, so a transfer settled then reads final at once;
// afterwards the sweeper re-creates every lost task
// and every transfer settles.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	first := redistest.Start(t)
	// The client dials whichever server is current, as a client behind a
	// stable DNS name or proxy would after a failover.
	var addr atomic.Value
	addr.Store(first.Addr)
	client := goredis.NewClient(&goredis.Options{
		Addr: first.Addr,
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr.Load().(string))
		},
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
		MaxRetries:   -1,
	})
	t.Cleanup(func() { client.Close() })
	prefix := redistest.NewPrefix()
	e := newEnv(t, &envOptions{cfg: consolidate.Config{
		Locker:        redis.NewLocker(client, &redis.LockerOptions{Prefix: prefix}),
		Cache:         redis.NewCache(client, &redis.CacheOptions{Prefix: prefix}),
		Queue:         redis.NewQueue(client, &redis.QueueOptions{Prefix: prefix}),
		Lease:         time.Second,
		SweepInterval: 100 * time.Millisecond,
		SweepGrace:    500 * time.Millisecond,
	}})
	credit := wei(1e18)
	acct := e.funded(credit)

	// Transfers submitted before the outage, with no block mined yet, so
	// their tasks are live in Redis when it goes away.
	var ids []int64
	submitted := map[int64]consolidate.Transaction{}
	for range 5 {
		tx := e.submit(acct.ID, alice, wei(1e15))
		ids = append(ids, tx.ID)
		submitted[tx.ID] = tx
		// Cached as PENDING: the entry must not outlive a settle.
		if _, err := e.svc.Get(ctx, tx.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.runWorker()
	first.Stop()

	for i := range 3 {
		start := time.Now()
		_, err := e.svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: bob, Amount: wei(1)})
		if !errors.Is(err, consolidate.ErrLockUnavailable) {
			t.Fatalf("Submit %d during the outage: %v, want ErrLockUnavailable", i, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Submit during the outage took %v", d)
		}
		if i == 1 {
			// Settle two during the outage: their commits cannot refresh
			// the cache, yet every later Get must see them final.
			e.sim.Commit()
			for _, id := range ids[:2] {
				if tx := e.reconcile(id); tx.Status != consolidate.StatusSuccessful {
					t.Fatalf("Reconcile(%d) during the outage: %s, want SUCCESSFUL", id, tx.Status)
				}
			}
		}
		for j, id := range ids {
			stored, err := e.store.Transaction(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := e.svc.Get(ctx, id)
			if err != nil {
				t.Fatalf("Get(%d) during the outage: %v", id, err)
			}
			want := consolidate.StatusPending
			if i >= 1 && j < 2 {
				want = consolidate.StatusSuccessful
			}
			// With nothing mined all are PENDING; after the block a worker
			// may settle the rest too, but Get is never older than the store.
			if (i == 0 || j < 2) && tx.Status != want {
				t.Fatalf("Get(%d) during the outage, pass %d: %s, want %s", id, i, tx.Status, want)
			}
			if tx.Version < stored.Version || (tx.Version == stored.Version && tx.Status != stored.Status) {
				t.Fatalf("Get(%d) during the outage: %s version %d, the store has %s version %d", id, tx.Status, tx.Version, stored.Status, stored.Version)
			}
			if orig := submitted[id]; tx.ID != id || tx.AccountID != acct.ID || tx.Amount.Cmp(orig.Amount) != 0 || tx.To != orig.To {
				t.Fatalf("Get(%d) during the outage: %+v, submitted %+v", id, tx, orig)
			}
		}
		time.Sleep(time.Second)
	}

	// An empty server takes over: every task is gone.
	second := redistest.Start(t)
	addr.Store(second.Addr)
	e.sim.AutoMine(ctx, 20*time.Millisecond)
	// The client's pool backs off after failed dials and retries in the
	// background, so the lock comes back within a second or so.
	deadline := time.Now().Add(10 * time.Second)
	for len(ids) < 8 {
		tx, err := e.svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: bob, Amount: wei(1e15)})
		switch {
		case err == nil:
			ids = append(ids, tx.ID)
		case errors.Is(err, consolidate.ErrLockUnavailable) && time.Now().Before(deadline):
			time.Sleep(50 * time.Millisecond)
		default:
			t.Fatalf("Submit after the restart: %v", err)
		}
	}
	spent := wei(0)
	for _, id := range ids {
		tx := e.waitFinal(id, 30*time.Second)
		if tx.Status != consolidate.StatusSuccessful {
			t.Fatalf("transaction %d is %s, want SUCCESSFUL", id, tx.Status)
		}
		spent = sum(spent, tx.Amount, tx.FeeTotal)
	}
	left := sub(credit, spent)
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}
