package redis_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/consolidatetest"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

// The conformance suites against three kinds of Redis: miniredis (fast, in
// process), a real redis-server, and a real three-node Redis Cluster, which
// proves that no script touches keys of two slots. Every subtest gets its
// own key prefix, so one server serves all of a suite's parallel subtests.

// miniredisClient starts a miniredis whose TTLs follow the wall clock, as a
// real server's do, and returns a client of it.
func miniredisClient(t *testing.T) *goredis.Client {
	m := miniredis.RunT(t)
	m.ClockTTL(true)
	c := goredis.NewClient(&goredis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

// runSuites runs the three conformance suites against client.
func runSuites(t *testing.T, client goredis.UniversalClient) {
	t.Run("Locker", func(t *testing.T) {
		t.Parallel()
		consolidatetest.RunLocker(t, func(t *testing.T) consolidate.Locker {
			return redis.NewLocker(client, &redis.LockerOptions{Prefix: redistest.NewPrefix()})
		})
	})
	t.Run("Cache", func(t *testing.T) {
		t.Parallel()
		consolidatetest.RunCache(t, func(t *testing.T) consolidate.Cache {
			return redis.NewCache(client, &redis.CacheOptions{Prefix: redistest.NewPrefix()})
		})
	})
	t.Run("Queue", func(t *testing.T) {
		t.Parallel()
		consolidatetest.RunQueue(t, func(t *testing.T) consolidate.Queue {
			// A namespace per subtest spreads the suite over the slots (and
			// so the nodes) of a cluster.
			p := redistest.NewPrefix()
			return redis.NewQueue(client, &redis.QueueOptions{Prefix: p, Namespace: "ns-" + p[:len(p)-1]})
		})
	})
}

func TestMiniredis(t *testing.T) {
	t.Parallel()
	runSuites(t, miniredisClient(t))
}

func TestRedisServer(t *testing.T) {
	t.Parallel()
	runSuites(t, redistest.Start(t).Client(t))
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(t)
	// Runs once the parallel subtests are done, before the nodes stop: the
	// suites' keys must have landed on more than one node, or the test
	// proved nothing about slots.
	t.Cleanup(func() {
		var used atomic.Int64 // ForEachMaster calls concurrently
		_ = client.ForEachMaster(context.Background(), func(ctx context.Context, node *goredis.Client) error {
			if node.DBSize(ctx).Val() > 0 {
				used.Add(1)
			}
			return nil
		})
		if used.Load() < 2 {
			t.Errorf("the suites used %d of 3 cluster nodes, want at least 2", used.Load())
		}
	})
	runSuites(t, client)
}

func TestRedlockConformance(t *testing.T) {
	t.Parallel()
	clients := make([]goredis.UniversalClient, 3)
	for i := range clients {
		clients[i] = redistest.Start(t).Client(t)
	}
	consolidatetest.RunLocker(t, func(t *testing.T) consolidate.Locker {
		return redis.NewRedlock(clients, &redis.RedlockOptions{Prefix: redistest.NewPrefix()})
	})
}
