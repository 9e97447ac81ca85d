package redis_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

// redlockNodes starts n independent servers and returns them with a client
// of each. The clients neither retry commands nor dials, as docs/redis.md
// advises for Redlock: a dead node should cost one refused connection, not
// a back-off.
func redlockNodes(t *testing.T, n int) ([]*redistest.Server, []goredis.UniversalClient) {
	t.Helper()
	nodes := make([]*redistest.Server, n)
	clients := make([]goredis.UniversalClient, n)
	for i := range nodes {
		nodes[i] = redistest.Start(t)
		c := goredis.NewClient(&goredis.Options{Addr: nodes[i].Addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
		t.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	return nodes, clients
}

func TestRedlockSurvivesOneNodeRefusesWithTwoDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nodes, clients := redlockNodes(t, 3)
	l := redis.NewRedlock(clients, &redis.RedlockOptions{Prefix: redistest.NewPrefix()})

	held, err := l.Lock(ctx, "acct:1", 10*time.Second)
	if err != nil {
		t.Fatalf("Lock with all nodes up: %v", err)
	}
	nodes[0].Stop()

	// Two of three nodes still hold the lease: it is still exclusive.
	if _, err := l.Lock(ctx, "acct:1", 10*time.Second); !errors.Is(err, consolidate.ErrAccountLocked) {
		t.Fatalf("Lock of a held key with one node down: got %v, want ErrAccountLocked", err)
	}
	other, err := l.Lock(ctx, "acct:2", 10*time.Second)
	if err != nil {
		t.Fatalf("Lock with one node down: %v", err)
	}
	if err := held.Extend(ctx, 20*time.Second); err != nil {
		t.Fatalf("Extend with one node down: %v", err)
	}
	if err := held.Unlock(ctx); err != nil {
		t.Fatalf("Unlock with one node down: %v", err)
	}

	nodes[1].Stop()
	start := time.Now()
	_, err = l.Lock(ctx, "acct:3", 10*time.Second)
	if !errors.Is(err, consolidate.ErrLockUnavailable) || errors.Is(err, consolidate.ErrAccountLocked) {
		t.Fatalf("Lock with two of three nodes down: got %v, want only ErrLockUnavailable", err)
	}
	if !strings.Contains(err.Error(), "2 of 3 nodes unreachable") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error should say, on one line, how many nodes are unreachable: %q", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v; it should fail fast", d)
	}
	// A lease taken before the outage cannot be confirmed released.
	if err := other.Unlock(ctx); !errors.Is(err, consolidate.ErrLockUnavailable) {
		t.Fatalf("Unlock with two of three nodes down: got %v, want ErrLockUnavailable", err)
	}
}

func TestRedlockContention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, clients := redlockNodes(t, 3)
	l := redis.NewRedlock(clients, &redis.RedlockOptions{Prefix: redistest.NewPrefix()})

	// Every goroutine keeps trying until it has held the lock once, so the
	// lock changes hands at least 100 times under full contention.
	const goroutines = 100
	deadline := time.Now().Add(45 * time.Second)
	var holders, maxHolders, attempts atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				attempts.Add(1)
				lease, err := l.Lock(ctx, "hot", 10*time.Second)
				if errors.Is(err, consolidate.ErrAccountLocked) {
					time.Sleep(time.Duration(2+rand.IntN(10)) * time.Millisecond)
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				n := holders.Add(1)
				for m := maxHolders.Load(); n > m && !maxHolders.CompareAndSwap(m, n); m = maxHolders.Load() {
				}
				time.Sleep(500 * time.Microsecond)
				holders.Add(-1)
				if err := lease.Unlock(ctx); err != nil {
					errc <- err
				}
				return
			}
			errc <- errors.New("gave up: never acquired the lock")
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if maxHolders.Load() != 1 {
		t.Fatalf("%d holders at once, want 1", maxHolders.Load())
	}
	t.Logf("%d goroutines each held the lock once in %d attempts", goroutines, attempts.Load())
}

func TestRedlockRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, clients := redlockNodes(t, 3)
	prefix := redistest.NewPrefix()
	l := redis.NewRedlock(clients, &redis.RedlockOptions{Prefix: prefix})
	patient := redis.NewRedlock(clients, &redis.RedlockOptions{Prefix: prefix, Tries: 50, RetryDelay: 20 * time.Millisecond})

	lease, err := l.Lock(ctx, "k", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = lease.Unlock(ctx)
	}()
	second, err := patient.Lock(ctx, "k", 10*time.Second)
	if err != nil {
		t.Fatalf("Lock with retries while the holder releases: %v", err)
	}
	if err := second.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRedlockNoNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := redis.NewRedlock(nil, nil)
	if _, err := l.Lock(ctx, "k", time.Second); !errors.Is(err, consolidate.ErrLockUnavailable) {
		t.Fatalf("Lock with no nodes: got %v, want ErrLockUnavailable", err)
	}
	// Nil clients are nodes that are down, not nodes that do not count:
	// one live node of three is no quorum.
	_, clients := redlockNodes(t, 2)
	l = redis.NewRedlock([]goredis.UniversalClient{clients[0], nil, nil}, nil)
	if _, err := l.Lock(ctx, "k", time.Second); !errors.Is(err, consolidate.ErrLockUnavailable) {
		t.Fatalf("Lock with two nil clients of three: got %v, want ErrLockUnavailable", err)
	}
	l = redis.NewRedlock([]goredis.UniversalClient{clients[0], nil, clients[1]}, nil)
	lease, err := l.Lock(ctx, "k", time.Second)
	if err != nil {
		t.Fatalf("Lock with a quorum despite a nil client: %v", err)
	}
	if err := lease.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRedisLockerUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	l := redis.NewLocker(client, nil)
	lease, err := l.Lock(ctx, "acct:1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := l.Lock(ctx, "acct:2", time.Minute); !errors.Is(err, consolidate.ErrLockUnavailable) {
		t.Fatalf("Lock with the server down: got %v, want ErrLockUnavailable", err)
	}
	if err := lease.Unlock(ctx); !errors.Is(err, consolidate.ErrLockUnavailable) {
		t.Fatalf("Unlock with the server down: got %v, want ErrLockUnavailable", err)
	}
	if _, err := redis.NewLocker(nil, nil).Lock(ctx, "k", time.Minute); !errors.Is(err, consolidate.ErrLockUnavailable) {
		t.Fatalf("Lock with a nil client: got %v, want ErrLockUnavailable", err)
	}
}

func TestRedisLockerKeyLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := miniredisClient(t)
	lease, err := redis.NewLocker(client, nil).Lock(ctx, "acct:7", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	token, err := client.Get(ctx, "consolidate:lock:acct:7").Result()
	if err != nil || len(token) != 32 {
		t.Fatalf("lock key holds %q, %v; want a 128-bit hex token", token, err)
	}
	if pttl := client.PTTL(ctx, "consolidate:lock:acct:7").Val(); pttl < 59*time.Second || pttl > time.Minute {
		t.Fatalf("PTTL = %v, want about a minute", pttl)
	}
	_ = lease.Unlock(ctx)
}
