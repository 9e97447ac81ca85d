package redis_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

// A worker that claims a task and vanishes without acking must not lose it:
// another worker polling the queue gets it again within the lease plus one
// poll interval.
func TestRedisQueueCrashRecovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	opts := &redis.QueueOptions{Prefix: redistest.NewPrefix()}

	const lease, poll = 400 * time.Millisecond, 50 * time.Millisecond
	crashed := srv.Client(t)
	q := redis.NewQueue(crashed, opts)
	if err := q.Enqueue(ctx, consolidate.Message{Queue: "reconcile", ID: "tx-1", Body: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	// The lease starts on the server during Claim: not before asked,
	// and no later than claimed.
	asked := time.Now()
	first, err := q.Claim(ctx, "reconcile", 1, lease)
	if err != nil || len(first) != 1 {
		t.Fatalf("Claim = %v, %v", first, err)
	}
	claimed := time.Now()
	crashed.Close() // the worker's process is gone

	survivor := redis.NewQueue(srv.Client(t), opts)
	var again []consolidate.Delivery
	for len(again) == 0 {
		if time.Since(claimed) > lease+poll+time.Second {
			t.Fatalf("task not redelivered %v after the claim", time.Since(claimed))
		}
		time.Sleep(poll)
		again, err = survivor.Claim(ctx, "reconcile", 1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
	}
	if early := time.Since(asked); early < lease {
		t.Fatalf("redelivered %v after the claim was asked for, before the %v lease ran out", early, lease)
	}
	waited := time.Since(claimed)
	if waited > lease+poll+500*time.Millisecond {
		t.Errorf("redelivered after %v, want within lease %v + one poll %v", waited, lease, poll)
	}
	d := again[0]
	if d.ID != "tx-1" || d.Attempt != 2 || string(d.Body) != "1" || d.Token == first[0].Token {
		t.Fatalf("redelivery = %+v", d)
	}
	if err := survivor.Ack(ctx, first[0]); !errors.Is(err, consolidate.ErrLeaseLost) {
		t.Fatalf("Ack with the crashed worker's token: got %v, want ErrLeaseLost", err)
	}
	if err := survivor.Ack(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// Every time the queue records comes from the server's clock, so a
// client whose clock is off cannot make tasks due early or leases last
// longer. miniredis's clock is set by hand here, far from the client's.
func TestMiniredisQueueUsesServerTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := miniredis.RunT(t)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m.SetTime(t0)
	client := goredis.NewClient(&goredis.Options{Addr: m.Addr()})
	t.Cleanup(func() { client.Close() })
	q := redis.NewQueue(client, nil)

	if err := q.Enqueue(ctx, consolidate.Message{Queue: "w", ID: "a", Delay: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if ds, _ := q.Claim(ctx, "w", 1, time.Minute); len(ds) != 0 {
		t.Fatalf("claimed before the server's clock reached the due time: %+v", ds)
	}
	m.SetTime(t0.Add(10 * time.Second))
	ds, err := q.Claim(ctx, "w", 1, 30*time.Second)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Claim at the due time = %+v, %v", ds, err)
	}
	m.SetTime(t0.Add(39 * time.Second))
	if s, _ := q.Stats(ctx, "w"); s.InFlight != 1 {
		t.Fatalf("Stats inside the lease = %+v", s)
	}
	m.SetTime(t0.Add(40 * time.Second))
	if err := q.Bury(ctx, ds[0], "late"); !errors.Is(err, consolidate.ErrLeaseLost) {
		t.Fatalf("Bury when the server says the lease ran out: got %v, want ErrLeaseLost", err)
	}
	ds, err = q.Claim(ctx, "w", 1, 30*time.Second)
	if err != nil || len(ds) != 1 || ds[0].Attempt != 2 {
		t.Fatalf("Claim after the lease = %+v, %v", ds, err)
	}
	if err := q.Bury(ctx, ds[0], "spent"); err != nil {
		t.Fatal(err)
	}
	dead, err := q.DeadLetters(ctx, "w", 0)
	if err != nil || len(dead) != 1 || !dead[0].At.Equal(t0.Add(40*time.Second)) || dead[0].Attempt != 2 || dead[0].Reason != "spent" {
		t.Fatalf("DeadLetters = %+v, %v; want one buried at the server's %v", dead, err, t0.Add(40*time.Second))
	}
}

func TestMiniredisQueueKeyLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := miniredisClient(t)
	q := redis.NewQueue(client, &redis.QueueOptions{Prefix: "app:", Namespace: "payments"})
	err := q.Enqueue(ctx,
		consolidate.Message{Queue: "reconcile", ID: "tx-1", Body: []byte{0, 1}},
		consolidate.Message{Queue: "events", ID: "evt-1", Delay: time.Hour},
	)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := q.Claim(ctx, "reconcile", 1, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Claim = %+v, %v", ds, err)
	}
	keys, err := client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"app:{payments}:q:reconcile:inflight": true,
		"app:{payments}:q:reconcile:data":     true,
		"app:{payments}:q:events:waiting":     true,
		"app:{payments}:q:events:data":        true,
	}
	if len(keys) != len(want) {
		t.Fatalf("keys = %q, want %d keys", keys, len(want))
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
	}
	data := client.HGetAll(ctx, "app:{payments}:q:reconcile:data").Val()
	if data["b:tx-1"] != "\x00\x01" || data["a:tx-1"] != "1" || data["t:tx-1"] != ds[0].Token {
		t.Errorf("data hash = %q", data)
	}
	if err := q.Ack(ctx, ds[0]); err != nil {
		t.Fatal(err)
	}
	if n := client.Exists(ctx, "app:{payments}:q:reconcile:data", "app:{payments}:q:reconcile:inflight").Val(); n != 0 {
		t.Errorf("%d keys of the drained queue left behind", n)
	}
}

func TestRedisQueueBadOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := miniredisClient(t)
	msg := consolidate.Message{Queue: "w", ID: "a"}
	for name, q := range map[string]*redis.Queue{
		"brace in prefix":   redis.NewQueue(client, &redis.QueueOptions{Prefix: "x{}"}),
		"bad namespace":     redis.NewQueue(client, &redis.QueueOptions{Namespace: "a b"}),
		"brace namespace":   redis.NewQueue(client, &redis.QueueOptions{Namespace: "a}"}),
		"nil client":        redis.NewQueue(nil, nil),
		"nil client & opts": redis.NewQueue(nil, &redis.QueueOptions{}),
	} {
		if err := q.Enqueue(ctx, msg); err == nil {
			t.Errorf("%s: Enqueue succeeded", name)
		}
		if _, err := q.Claim(ctx, "w", 1, time.Second); err == nil {
			t.Errorf("%s: Claim succeeded", name)
		}
		if _, err := q.Stats(ctx, "w"); err == nil {
			t.Errorf("%s: Stats succeeded", name)
		}
		if _, err := q.DeadLetters(ctx, "w", 1); err == nil {
			t.Errorf("%s: DeadLetters succeeded", name)
		}
		if err := q.Ack(ctx, consolidate.Delivery{Queue: "w", ID: "a"}); err == nil {
			t.Errorf("%s: Ack succeeded", name)
		}
		if err := q.Requeue(ctx, "w", "a"); err == nil {
			t.Errorf("%s: Requeue succeeded", name)
		}
		if err := q.Delete(ctx, "w", "a"); err == nil {
			t.Errorf("%s: Delete succeeded", name)
		}
	}
	if keys := client.Keys(ctx, "*").Val(); len(keys) != 0 {
		t.Errorf("misconfigured queues wrote %q", keys)
	}
}

func TestRedisQueueServerDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	q := redis.NewQueue(client, nil)
	srv.Stop()
	if err := q.Enqueue(ctx, consolidate.Message{Queue: "w", ID: "a"}); err == nil {
		t.Error("Enqueue with the server down succeeded")
	}
	if ds, err := q.Claim(ctx, "w", 1, time.Second); err == nil || len(ds) != 0 {
		t.Errorf("Claim with the server down = %v, %v", ds, err)
	}
	if err := q.Ack(ctx, consolidate.Delivery{Queue: "w", ID: "a", Token: "t"}); err == nil || errors.Is(err, consolidate.ErrLeaseLost) {
		t.Errorf("Ack with the server down: got %v, want a connection error", err)
	}
}

// Limits at the edge of int reach Redis as integers it accepts.
func TestRedisQueueHugeLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := redis.NewQueue(redistest.Start(t).Client(t), nil)
	if err := q.Enqueue(ctx, consolidate.Message{Queue: "w", ID: "a", Delay: math.MaxInt64}); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, consolidate.Message{Queue: "w", ID: "b"}); err != nil {
		t.Fatal(err)
	}
	ds, err := q.Claim(ctx, "w", math.MaxInt, math.MaxInt64)
	if err != nil || len(ds) != 1 || ds[0].ID != "b" {
		t.Fatalf("Claim(max int, max lease) = %+v, %v", ds, err)
	}
	if err := q.Bury(ctx, ds[0], ""); err != nil {
		t.Fatal(err)
	}
	dead, err := q.DeadLetters(ctx, "w", math.MaxInt)
	if err != nil || len(dead) != 1 {
		t.Fatalf("DeadLetters(max int) = %+v, %v", dead, err)
	}
	if s, err := q.Stats(ctx, "w"); err != nil || s != (consolidate.QueueStats{Delayed: 1, Dead: 1}) {
		t.Fatalf("Stats = %+v, %v", s, err)
	}
}

// Calls made at once are combined into shared script runs; each must
// still get its own outcome: concurrent Claims never share a message,
// and among concurrent settles a stale token fails alone while the rest
// of its run takes effect.
func TestRedisQueueCombinedCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := redis.NewQueue(redistest.Start(t).Client(t), &redis.QueueOptions{Prefix: redistest.NewPrefix()})
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := consolidate.Message{Queue: "w", ID: fmt.Sprintf("m%d", i), Body: []byte{byte(i)}}
			if err := q.Enqueue(ctx, m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	claimed := make([][]consolidate.Delivery, n)
	for i := range n {
		wg.Go(func() {
			ds, err := q.Claim(ctx, "w", 1, time.Minute)
			if err != nil {
				t.Error(err)
			}
			claimed[i] = ds
		})
	}
	wg.Wait()
	seen := make(map[string]bool)
	var ds []consolidate.Delivery
	for _, c := range claimed {
		if len(c) != 1 {
			t.Fatalf("a Claim of one out of %d waiting got %d", n, len(c))
		}
		d := c[0]
		if seen[d.ID] || seen[d.Token] || d.Attempt != 1 || fmt.Sprintf("m%d", d.Body[0]) != d.ID {
			t.Fatalf("delivery %+v repeats an ID or token, or is not its message", d)
		}
		seen[d.ID], seen[d.Token] = true, true
		ds = append(ds, d)
	}

	errs := make([]error, n)
	for i, d := range ds {
		if i%2 == 1 {
			d.Token = "stale"
		}
		wg.Go(func() { errs[i] = q.Ack(ctx, d) })
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 1 && !errors.Is(err, consolidate.ErrLeaseLost) {
			t.Errorf("Ack %d with a stale token: got %v, want ErrLeaseLost", i, err)
		}
		if i%2 == 0 && err != nil {
			t.Errorf("Ack %d: %v", i, err)
		}
	}
	if s, err := q.Stats(ctx, "w"); err != nil || s != (consolidate.QueueStats{InFlight: n / 2}) {
		t.Fatalf("Stats = %+v, %v; want the %d stale Acks still in flight", s, err, n/2)
	}
}

// holdHook holds every command while on, handing the test a channel per
// held command that lets it through when closed, and counts the commands
// done.
type holdHook struct {
	on     atomic.Bool
	held   chan chan struct{}
	passed atomic.Int64
}

func newHoldHook() *holdHook { return &holdHook{held: make(chan chan struct{})} }

func (h *holdHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *holdHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if h.on.Load() {
			pass := make(chan struct{})
			h.held <- pass
			<-pass
		}
		defer h.passed.Add(1)
		return next(ctx, cmd)
	}
}

func (h *holdHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// abandonedClaimQueue is a real-server queue holding messages a and b,
// with a Claim of one of them held on its way to the server: the run the
// next Claim joins.
func abandonedClaimQueue(t *testing.T) (q *redis.Queue, hold *holdHook, first chan struct{}, led chan []consolidate.Delivery) {
	t.Helper()
	ctx := context.Background()
	client := redistest.Start(t).Client(t)
	q = redis.NewQueue(client, &redis.QueueOptions{Prefix: redistest.NewPrefix()})
	// A Claim of the empty queue loads the claim script, so that every
	// Claim below is one command (no second try after NOSCRIPT).
	if ds, err := q.Claim(ctx, "w", 1, time.Hour); err != nil || len(ds) != 0 {
		t.Fatalf("Claim of an empty queue: %v, %v", ds, err)
	}
	if err := q.Enqueue(ctx, consolidate.Message{Queue: "w", ID: "a"}, consolidate.Message{Queue: "w", ID: "b"}); err != nil {
		t.Fatal(err)
	}
	hold = newHoldHook()
	client.AddHook(hold)
	hold.on.Store(true)
	led = make(chan []consolidate.Delivery, 1)
	go func() {
		ds, err := q.Claim(ctx, "w", 1, time.Hour)
		if err != nil {
			t.Error(err)
		}
		led <- ds
	}()
	return q, hold, <-hold.held, led
}

// wantOneLeased waits for the queue to hold one message in flight and one
// ready, and fails if it does not within a few seconds.
func wantOneLeased(t *testing.T, q *redis.Queue) {
	t.Helper()
	var s consolidate.QueueStats
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if s, err = q.Stats(context.Background(), "w"); err == nil && s.InFlight == 1 && s.Ready == 1 {
			return
		}
	}
	t.Fatalf("Stats = %+v, %v; want one in flight and one ready", s, err)
}

// claimUntilCancelled runs a Claim on a context the test cancels, and
// reports what it returned.
func claimUntilCancelled(q *redis.Queue) (context.CancelFunc, chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := q.Claim(ctx, "w", 1, time.Hour)
		errs <- err
	}()
	return cancel, errs
}

// A Claim given up on while it waits to join a combined run is left out
// of the run: it leases nothing that nobody will ack.
func TestRedisQueueAbandonedClaimLeasesNothing(t *testing.T) {
	t.Parallel()
	q, hold, first, led := abandonedClaimQueue(t)
	cancel, errs := claimUntilCancelled(q)
	time.Sleep(50 * time.Millisecond) // let it queue behind the held run
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned Claim: %v, want context.Canceled", err)
	}
	hold.on.Store(false)
	close(first)
	if ds := <-led; len(ds) != 1 {
		t.Fatalf("first Claim got %d deliveries, want 1", len(ds))
	}
	time.Sleep(200 * time.Millisecond) // a run for the abandoned call would have started by now
	wantOneLeased(t, q)
}

// A Claim given up on while its run is on its way to the server leases a
// message there; it is put back in the ready set rather than left leased
// to nobody until the lease runs out.
func TestRedisQueueClaimAbandonedInFlightIsGivenBack(t *testing.T) {
	t.Parallel()
	q, hold, first, led := abandonedClaimQueue(t)
	cancel, errs := claimUntilCancelled(q)
	time.Sleep(50 * time.Millisecond) // let it queue behind the held run
	close(first)
	if ds := <-led; len(ds) != 1 {
		t.Fatalf("first Claim got %d deliveries, want 1", len(ds))
	}
	second := <-hold.held // the waiting Claim's own run
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned Claim: %v, want context.Canceled", err)
	}
	hold.on.Store(false)
	passed := hold.passed.Load()
	close(second)
	// Nothing else is under way: the next command done is its run.
	for hold.passed.Load() == passed {
		time.Sleep(time.Millisecond)
	}
	wantOneLeased(t, q)
}
