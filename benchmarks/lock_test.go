package benchmarks

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/redis"
	"github.com/go-redsync/redsync/v4"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	goredis "github.com/redis/go-redis/v9"
)

// lockTTL is the Service's default LockTTL.
const lockTTL = 30 * time.Second

// lockParallelism goroutines per GOMAXPROCS run the parallel lock
// benchmarks (16 on 2 cores), each on a key of its own, so nobody waits
// for a lock and the figures are the cost of a free acquire and release.
const lockParallelism = 8

// BenchmarkLock compares one acquire and release of a free key: Lock and
// Unlock of a redis.Locker lease (SET NX PX, then a token-checked Lua
// DEL), of a one-node Redlock (consolidate's Locker over redsync), and
// Lock and Unlock of a redsync Mutex on one pool, with one try as
// consolidate's lockers use.
func BenchmarkLock(b *testing.B) {
	lockers := []struct {
		name string
		new  func(*goredis.Client) func(ctx context.Context, key string) error
	}{
		{"consolidate", func(c *goredis.Client) func(context.Context, string) error {
			return lockerOp(redis.NewLocker(c, nil))
		}},
		{"consolidate-redlock-1node", func(c *goredis.Client) func(context.Context, string) error {
			return lockerOp(redis.NewRedlock([]goredis.UniversalClient{c}, nil))
		}},
		{"redsync", func(c *goredis.Client) func(context.Context, string) error {
			rs := redsync.New(redsyncgoredis.NewPool(c))
			return func(ctx context.Context, key string) error {
				m := rs.NewMutex("lock:"+key, redsync.WithExpiry(lockTTL), redsync.WithTries(1))
				if err := m.LockContext(ctx); err != nil {
					return err
				}
				_, err := m.UnlockContext(ctx)
				return err
			}
		}},
	}
	for _, l := range lockers {
		b.Run("sequential/"+l.name, func(b *testing.B) {
			op := l.new(client(b))
			ctx := context.Background()
			for b.Loop() {
				if err := op(ctx, "account"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run("parallel/"+l.name, func(b *testing.B) {
			op := l.new(client(b))
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(lockParallelism)
			b.RunParallel(func(pb *testing.PB) {
				key := "account-" + strconv.FormatInt(next.Add(1), 10)
				for pb.Next() {
					if err := op(ctx, key); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

func lockerOp(l consolidate.Locker) func(context.Context, string) error {
	return func(ctx context.Context, key string) error {
		lease, err := l.Lock(ctx, key, lockTTL)
		if err != nil {
			return err
		}
		return lease.Unlock(ctx)
	}
}
