package consolidatetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

func testQueueEnqueueClaimAck(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	if ds := claim(t, q, "work", 10, queueLease); len(ds) != 0 {
		t.Fatalf("Claim on an empty queue = %d deliveries", len(ds))
	}
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "a", Body: []byte("body-a")})
	ds := claim(t, q, "work", 10, queueLease)
	if len(ds) != 1 || ds[0].ID != "a" || string(ds[0].Body) != "body-a" || ds[0].Attempt != 1 || ds[0].Token == "" || ds[0].Queue != "work" {
		t.Fatalf("Claim = %+v", ds)
	}
	if s := stats(t, q, "work"); s != (consolidate.QueueStats{InFlight: 1}) {
		t.Fatalf("Stats = %+v, want one in flight", s)
	}
	if more := claim(t, q, "work", 10, queueLease); len(more) != 0 {
		t.Fatalf("claimed an in-flight message again: %+v", more)
	}
	if err := q.Ack(ctx, ds[0]); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := q.Ack(ctx, ds[0]); !errors.Is(err, consolidate.ErrLeaseLost) {
		t.Fatalf("second Ack: got %v, want ErrLeaseLost", err)
	}
	if s := stats(t, q, "work"); s != (consolidate.QueueStats{}) {
		t.Fatalf("Stats after Ack = %+v, want empty", s)
	}
}

func testQueueDelay(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	q := open(t)
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "later", Delay: 300 * time.Millisecond},
		consolidate.Message{Queue: "work", ID: "now"})
	if s := stats(t, q, "work"); s.Ready != 1 || s.Delayed != 1 {
		t.Fatalf("Stats = %+v, want 1 ready 1 delayed", s)
	}
	ds := claim(t, q, "work", 10, queueLease)
	if len(ds) != 1 || ds[0].ID != "now" {
		t.Fatalf("Claim before the delay = %+v, want only now", ds)
	}
	time.Sleep(400 * time.Millisecond)
	ds = claim(t, q, "work", 10, queueLease)
	if len(ds) != 1 || ds[0].ID != "later" {
		t.Fatalf("Claim after the delay = %+v, want later", ds)
	}
}

func testQueueDueOrder(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	q := open(t)
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "b", Delay: 20 * time.Millisecond},
		consolidate.Message{Queue: "work", ID: "a"})
	time.Sleep(60 * time.Millisecond)
	ds := claim(t, q, "work", 1, queueLease)
	if len(ds) != 1 || ds[0].ID != "a" {
		t.Fatalf("first claim = %+v, want the earliest due (a)", ds)
	}
}

func testQueueLeaseExpiryRedelivers(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "x", Body: []byte("b")})
	first := claim(t, q, "work", 1, 150*time.Millisecond)
	if len(first) != 1 {
		t.Fatalf("claim = %d", len(first))
	}
	time.Sleep(300 * time.Millisecond)
	second := claim(t, q, "work", 1, queueLease)
	if len(second) != 1 || second[0].ID != "x" || second[0].Attempt != 2 || string(second[0].Body) != "b" {
		t.Fatalf("claim after queueLease expiry = %+v, want x on attempt 2", second)
	}
	if second[0].Token == first[0].Token {
		t.Fatal("token did not change with the new claim")
	}
	// The worker whose queueLease ran out may not ack, retry or bury.
	if err := q.Ack(ctx, first[0]); !errors.Is(err, consolidate.ErrLeaseLost) {
		t.Fatalf("stale Ack: got %v, want ErrLeaseLost", err)
	}
	if err := q.Retry(ctx, first[0], 0); !errors.Is(err, consolidate.ErrLeaseLost) {
		t.Fatalf("stale Retry: got %v, want ErrLeaseLost", err)
	}
	if err := q.Bury(ctx, first[0], "stale"); !errors.Is(err, consolidate.ErrLeaseLost) {
		t.Fatalf("stale Bury: got %v, want ErrLeaseLost", err)
	}
	if err := q.Ack(ctx, second[0]); err != nil {
		t.Fatalf("Ack by the current holder: %v", err)
	}
}

func testQueueRetry(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "r"})
	d := claim(t, q, "work", 1, queueLease)[0]
	// A claim that comes back with the message is wrong only if the delay
	// has not passed yet: on a loaded machine the steps below can take
	// longer than the delay itself.
	const delay = 500 * time.Millisecond
	retried := time.Now()
	if err := q.Retry(ctx, d, delay); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if s := stats(t, q, "work"); (s.Delayed != 1 || s.InFlight != 0) && time.Since(retried) < delay {
		t.Fatalf("Stats after Retry = %+v, want 1 delayed", s)
	}
	if ds := claim(t, q, "work", 1, queueLease); len(ds) != 0 && time.Since(retried) < delay {
		t.Fatalf("claimed before the retry delay: %+v", ds)
	}
	time.Sleep(time.Until(retried.Add(delay + 100*time.Millisecond)))
	ds := claim(t, q, "work", 1, queueLease)
	if len(ds) != 1 || ds[0].Attempt != 2 {
		t.Fatalf("claim after retry = %+v, want attempt 2", ds)
	}
	if err := q.Retry(ctx, ds[0], -time.Second); err == nil {
		t.Fatal("Retry with a negative delay succeeded")
	}
}

func testQueueConcurrentClaimersNeverShare(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	const n = 200
	msgs := make([]consolidate.Message, n)
	for i := range msgs {
		msgs[i] = consolidate.Message{Queue: "work", ID: fmt.Sprintf("m%d", i)}
	}
	enqueue(t, q, msgs...)
	var mu sync.Mutex
	seen := make(map[string]int)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := q.Claim(ctx, "work", 7, queueLease)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d distinct messages, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("message %s claimed %d times", id, c)
		}
	}
}
