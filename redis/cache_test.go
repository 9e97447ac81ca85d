package redis_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

// 1000 concurrent fills and reads of a few keys: a reader that filled
// version v (or was refused because something at least as new was there)
// must never read an older version afterwards, and each key must end at
// the highest version anyone filled.
func TestRedisCacheFillRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redis.NewCache(redistest.Start(t).Client(t), &redis.CacheOptions{Prefix: redistest.NewPrefix()})

	const goroutines, keys = 1000, 5
	var mu sync.Mutex
	highest := make(map[string]int64)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "tx:" + strconv.Itoa(i%keys)
			e := consolidate.CacheEntry{Version: rand.Int64N(200) + 1}
			if rand.IntN(10) == 0 {
				e = consolidate.CacheEntry{Negative: true}
			} else {
				e.Value = []byte(fmt.Sprintf("v%d", e.Version))
			}
			mu.Lock()
			highest[key] = max(highest[key], e.Version)
			mu.Unlock()
			if _, err := c.Fill(ctx, key, e, time.Minute); err != nil {
				t.Error(err)
				return
			}
			got, ok, err := c.Get(ctx, key)
			switch {
			case err != nil:
				t.Error(err)
			case !ok:
				t.Errorf("%s: miss after a fill", key)
			case got.Version < e.Version:
				t.Errorf("%s: read v%d after filling v%d: an older version replaced a newer one", key, got.Version, e.Version)
			case got.Negative != (got.Version == 0) || (!got.Negative && string(got.Value) != fmt.Sprintf("v%d", got.Version)):
				t.Errorf("%s: torn entry %+v", key, got)
			}
		}()
	}
	wg.Wait()
	for key, v := range highest {
		got, ok, err := c.Get(ctx, key)
		if err != nil || !ok || got.Version != v {
			t.Errorf("%s ended at v%d (%v, %v), want the highest filled v%d", key, got.Version, ok, err, v)
		}
	}
}

// Versions are compared exactly over the whole int64 range, not as Lua's
// doubles, which cannot tell 2^53 from 2^53+1.
func TestMiniredisCacheVersionRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redis.NewCache(miniredisClient(t), nil)
	ascending := []int64{math.MinInt64, -1 << 53, -10, -9, -1, 0, 1, 9, 10, 1 << 53, 1<<53 + 1, math.MaxInt64 - 1, math.MaxInt64}
	for i, v := range ascending {
		stored, err := c.Fill(ctx, "k", consolidate.CacheEntry{Version: v, Value: []byte("x")}, time.Minute)
		if err != nil || !stored {
			t.Fatalf("Fill v%d over v%d = %v, %v; want stored", v, ascending[max(i-1, 0)], stored, err)
		}
		for _, older := range ascending[:i+1] {
			if stored, _ := c.Fill(ctx, "k", consolidate.CacheEntry{Version: older}, time.Minute); stored {
				t.Fatalf("Fill v%d replaced v%d", older, v)
			}
		}
		if e, _, _ := c.Get(ctx, "k"); e.Version != v {
			t.Fatalf("Get = v%d, want v%d", e.Version, v)
		}
	}
}

func TestMiniredisCacheKeyLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := miniredisClient(t)
	c := redis.NewCache(client, &redis.CacheOptions{Prefix: "app:"})
	if _, err := c.Fill(ctx, "tx:1", consolidate.CacheEntry{Version: 7, Value: []byte("row")}, time.Minute+500*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fill(ctx, "tx:2", consolidate.CacheEntry{Negative: true}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if h := client.HGetAll(ctx, "app:cache:tx:1").Val(); len(h) != 3 || h["v"] != "7" || h["n"] != "0" || h["d"] != "row" {
		t.Errorf("entry hash = %q", h)
	}
	if pttl := client.PTTL(ctx, "app:cache:tx:1").Val(); pttl < 59*time.Second || pttl > time.Minute+time.Millisecond {
		t.Errorf("PTTL = %v, want about a minute", pttl)
	}
	if h := client.HGetAll(ctx, "app:cache:tx:2").Val(); len(h) != 3 || h["v"] != "0" || h["n"] != "1" || h["d"] != "" {
		t.Errorf("negative entry hash = %q", h)
	}
	// An entry someone else wrote under our prefix is an error, not a
	// wrong answer.
	client.HSet(ctx, "app:cache:tx:3", "v", "seven")
	if _, _, err := c.Get(ctx, "tx:3"); err == nil {
		t.Error("Get of a malformed entry succeeded")
	}
}

func TestRedisCacheServerDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	c := redis.NewCache(client, nil)
	srv.Stop()
	if _, ok, err := c.Get(ctx, "k"); err == nil || ok {
		t.Errorf("Get with the server down = %v, %v", ok, err)
	}
	if _, err := c.Fill(ctx, "k", consolidate.CacheEntry{Version: 1}, time.Minute); err == nil {
		t.Error("Fill with the server down succeeded")
	}
	if err := c.Delete(ctx, "k"); err == nil {
		t.Error("Delete with the server down succeeded")
	}
	nilCache := redis.NewCache(nil, nil)
	if _, _, err := nilCache.Get(ctx, "k"); err == nil {
		t.Error("Get with a nil client succeeded")
	}
}
