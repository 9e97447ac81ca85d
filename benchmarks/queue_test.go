package benchmarks

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/redis"
	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"
)

// The shape of every queue benchmark: producers goroutines enqueue one
// task per call while workers goroutines claim and ack, all through one
// client (one connection pool) of the shared server. One op is one task
// enqueued, claimed and acked; the clock stops when the last one is acked.
const (
	producers  = 8
	workers    = 8
	payloadLen = 64
	benchQueue = "bench"
	lease      = 30 * time.Second
	idleSleep  = time.Millisecond // both sides poll an empty queue this often
)

var payload = make([]byte, payloadLen)

// BenchmarkQueue compares redis.Queue with asynq. claim=1 leases one task
// per Claim, as asynq's processor dequeues one per call; claim=16 lets
// each Claim lease up to 16, which redis.Queue offers and asynq does not.
// Acks are one call per task on both.
func BenchmarkQueue(b *testing.B) {
	b.Run("consolidate/claim=1", func(b *testing.B) { benchRedisQueue(b, 1) })
	b.Run("consolidate/claim=16", func(b *testing.B) { benchRedisQueue(b, 16) })
	b.Run("asynq", benchAsynq)
}

// produce enqueues n tasks from producers goroutines, numbered 0..n-1.
func produce(b *testing.B, n int, enqueue func(i int) error) *sync.WaitGroup {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := enqueue(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	return &wg
}

func report(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
}

func benchRedisQueue(b *testing.B, claim int) {
	ctx := context.Background()
	q := redis.NewQueue(client(b), nil)
	var acked atomic.Int64
	n := int64(b.N)

	b.ResetTimer()
	start := time.Now()
	prod := produce(b, b.N, func(i int) error {
		return q.Enqueue(ctx, consolidate.Message{Queue: benchQueue, ID: strconv.Itoa(i), Body: payload})
	})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for acked.Load() < n {
				ds, err := q.Claim(ctx, benchQueue, claim, lease)
				if err != nil {
					b.Error(err)
					return
				}
				if len(ds) == 0 {
					time.Sleep(idleSleep)
					continue
				}
				for _, d := range ds {
					if err := q.Ack(ctx, d); err != nil {
						b.Error(err)
						return
					}
				}
				acked.Add(int64(len(ds)))
			}
		})
	}
	prod.Wait()
	wg.Wait()
	b.StopTimer()
	report(b, start)
}

func benchAsynq(b *testing.B) {
	ctx := context.Background()
	rdb := client(b)
	cl := asynq.NewClientFromRedisClient(rdb)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:       workers,
		Queues:            map[string]int{benchQueue: 1},
		TaskCheckInterval: idleSleep,
		Logger:            quietLogger{},
		LogLevel:          asynq.FatalLevel,
	})
	var handled atomic.Int64
	if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		handled.Add(1)
		return nil
	})); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	n := int64(b.N)

	b.ResetTimer()
	start := time.Now()
	prod := produce(b, b.N, func(i int) error {
		_, err := cl.EnqueueContext(ctx, asynq.NewTask("bench", payload), asynq.Queue(benchQueue))
		return err
	})
	prod.Wait()
	for handled.Load() < n {
		time.Sleep(100 * time.Microsecond)
	}
	// The handler returns before the task is acked (removed from the
	// active list); wait for the acks too.
	waitEmpty(b, rdb, "asynq:{"+benchQueue+"}:active")
	b.StopTimer()
	report(b, start)
}

func waitEmpty(b *testing.B, rdb *goredis.Client, key string) {
	for {
		n, err := rdb.LLen(context.Background(), key).Result()
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// quietLogger drops asynq's log lines, which would otherwise interleave
// with the benchmark output.
type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}
