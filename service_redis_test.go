package consolidate_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

// The whole Service on one redis-server: lock, cache and queue (reconcile
// tasks and events) all in Redis.
func TestRedisServiceEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client := redistest.Start(t).Client(t)
	prefix := redistest.NewPrefix()
	cache := redis.NewCache(client, &redis.CacheOptions{Prefix: prefix})
	queue := redis.NewQueue(client, &redis.QueueOptions{Prefix: prefix})
	e := newEnv(t, &envOptions{cfg: consolidate.Config{
		Locker:        redis.NewLocker(client, &redis.LockerOptions{Prefix: prefix}),
		Cache:         cache,
		Queue:         queue,
		EventQueues:   []string{"notifications", "audit"},
		RelayInterval: 10 * time.Millisecond,
	}})
	reverter := e.reverter()
	credit := wei(1e18)
	acct := e.funded(credit)
	e.sim.AutoMine(ctx, 20*time.Millisecond)
	e.runWorker()

	txs := e.submitMix(acct.ID, 6, 6, reverter, wei(1e15))
	final, want := e.waitOutcomes(credit, txs, reverter)
	for _, got := range final {
		tx := got
		// Get is served from Redis with the final version.
		entry, ok, err := cache.Get(ctx, fmt.Sprintf("tx:%d", tx.ID))
		if err != nil || !ok || entry.Version != got.Version {
			t.Fatalf("cache entry for tx %d: version %d (%v, %v), want %d", tx.ID, entry.Version, ok, err, got.Version)
		}
	}
	e.balances(acct.ID, want, want)
	e.invariants(acct.ID)

	// Two events per transfer (submitted, final) reach both queues.
	deadline := time.Now().Add(10 * time.Second)
	for _, q := range []string{"notifications", "audit"} {
		seen := 0
		for seen < 2*len(txs) && time.Now().Before(deadline) {
			ds, err := queue.Claim(ctx, q, 100, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if err := queue.Ack(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			seen += len(ds)
			time.Sleep(10 * time.Millisecond)
		}
		if seen != 2*len(txs) {
			t.Fatalf("%s received %d events, want %d", q, seen, 2*len(txs))
		}
	}
	if s, err := queueStats(ctx, queue, "reconcile"); err != nil || s.Dead != 0 {
		t.Fatalf("reconcile queue stats = %+v, %v", s, err)
	}
}
