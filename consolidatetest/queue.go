package consolidatetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// RunQueue runs the Queue conformance suite.
func RunQueue(t *testing.T, newQueue func(t *testing.T) consolidate.Queue) {
	ctx := context.Background()
	const lease = time.Minute

	claim := func(t *testing.T, q consolidate.Queue, queue string, max int, lease time.Duration) []consolidate.Delivery {
		t.Helper()
		ds, err := q.Claim(ctx, queue, max, lease)
		if err != nil {
			t.Fatalf("Claim(%s): %v", queue, err)
		}
		return ds
	}
	enqueue := func(t *testing.T, q consolidate.Queue, msgs ...consolidate.Message) {
		t.Helper()
		if err := q.Enqueue(ctx, msgs...); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	stats := func(t *testing.T, q consolidate.Queue, queue string) consolidate.QueueStats {
		t.Helper()
		s, err := q.Stats(ctx, queue)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		return s
	}

	t.Run("EnqueueClaimAck", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		if ds := claim(t, q, "work", 10, lease); len(ds) != 0 {
			t.Fatalf("Claim on an empty queue = %d deliveries", len(ds))
		}
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "a", Body: []byte("body-a")})
		ds := claim(t, q, "work", 10, lease)
		if len(ds) != 1 || ds[0].ID != "a" || string(ds[0].Body) != "body-a" || ds[0].Attempt != 1 || ds[0].Token == "" || ds[0].Queue != "work" {
			t.Fatalf("Claim = %+v", ds)
		}
		if s := stats(t, q, "work"); s != (consolidate.QueueStats{InFlight: 1}) {
			t.Fatalf("Stats = %+v, want one in flight", s)
		}
		if more := claim(t, q, "work", 10, lease); len(more) != 0 {
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
	})

	t.Run("Delay", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "later", Delay: 300 * time.Millisecond},
			consolidate.Message{Queue: "work", ID: "now"})
		if s := stats(t, q, "work"); s.Ready != 1 || s.Delayed != 1 {
			t.Fatalf("Stats = %+v, want 1 ready 1 delayed", s)
		}
		ds := claim(t, q, "work", 10, lease)
		if len(ds) != 1 || ds[0].ID != "now" {
			t.Fatalf("Claim before the delay = %+v, want only now", ds)
		}
		time.Sleep(400 * time.Millisecond)
		ds = claim(t, q, "work", 10, lease)
		if len(ds) != 1 || ds[0].ID != "later" {
			t.Fatalf("Claim after the delay = %+v, want later", ds)
		}
	})

	t.Run("DueOrder", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "b", Delay: 20 * time.Millisecond},
			consolidate.Message{Queue: "work", ID: "a"})
		time.Sleep(60 * time.Millisecond)
		ds := claim(t, q, "work", 1, lease)
		if len(ds) != 1 || ds[0].ID != "a" {
			t.Fatalf("first claim = %+v, want the earliest due (a)", ds)
		}
	})

	t.Run("LeaseExpiryRedelivers", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "x", Body: []byte("b")})
		first := claim(t, q, "work", 1, 150*time.Millisecond)
		if len(first) != 1 {
			t.Fatalf("claim = %d", len(first))
		}
		time.Sleep(300 * time.Millisecond)
		second := claim(t, q, "work", 1, lease)
		if len(second) != 1 || second[0].ID != "x" || second[0].Attempt != 2 || string(second[0].Body) != "b" {
			t.Fatalf("claim after lease expiry = %+v, want x on attempt 2", second)
		}
		if second[0].Token == first[0].Token {
			t.Fatal("token did not change with the new claim")
		}
		// The worker whose lease ran out may not ack, retry or bury.
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
	})

	t.Run("Retry", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "r"})
		d := claim(t, q, "work", 1, lease)[0]
		if err := q.Retry(ctx, d, 250*time.Millisecond); err != nil {
			t.Fatalf("Retry: %v", err)
		}
		if s := stats(t, q, "work"); s.Delayed != 1 || s.InFlight != 0 {
			t.Fatalf("Stats after Retry = %+v, want 1 delayed", s)
		}
		if ds := claim(t, q, "work", 1, lease); len(ds) != 0 {
			t.Fatalf("claimed before the retry delay: %+v", ds)
		}
		time.Sleep(350 * time.Millisecond)
		ds := claim(t, q, "work", 1, lease)
		if len(ds) != 1 || ds[0].Attempt != 2 {
			t.Fatalf("claim after retry = %+v, want attempt 2", ds)
		}
		if err := q.Retry(ctx, ds[0], -time.Second); err == nil {
			t.Fatal("Retry with a negative delay succeeded")
		}
	})

	t.Run("DeadLetters", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "d1", Body: []byte("one")},
			consolidate.Message{Queue: "work", ID: "d2", Body: []byte("two")})
		for _, d := range claim(t, q, "work", 2, lease) {
			if err := q.Bury(ctx, d, "budget spent "+d.ID); err != nil {
				t.Fatalf("Bury: %v", err)
			}
		}
		if s := stats(t, q, "work"); s != (consolidate.QueueStats{Dead: 2}) {
			t.Fatalf("Stats = %+v, want 2 dead", s)
		}
		dead, err := q.DeadLetters(ctx, "work", 10)
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		sort.Slice(dead, func(i, j int) bool { return dead[i].ID < dead[j].ID })
		if len(dead) != 2 || dead[0].ID != "d1" || string(dead[0].Body) != "one" || dead[0].Reason != "budget spent d1" || dead[0].Attempt != 1 || dead[0].At.IsZero() {
			t.Fatalf("DeadLetters = %+v", dead)
		}
		if ds := claim(t, q, "work", 10, lease); len(ds) != 0 {
			t.Fatalf("claimed a dead letter: %+v", ds)
		}
		// A dead ID is still taken: enqueueing it again changes nothing.
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "d1"})
		if s := stats(t, q, "work"); s.Dead != 2 || s.Ready != 0 {
			t.Fatalf("Stats after re-enqueue of a dead ID = %+v", s)
		}
		if err := q.Requeue(ctx, "work", "d1"); err != nil {
			t.Fatalf("Requeue: %v", err)
		}
		if err := q.Requeue(ctx, "work", "nope"); !errors.Is(err, consolidate.ErrNotFound) {
			t.Fatalf("Requeue of a missing dead letter: got %v, want ErrNotFound", err)
		}
		ds := claim(t, q, "work", 10, lease)
		if len(ds) != 1 || ds[0].ID != "d1" || string(ds[0].Body) != "one" || ds[0].Attempt != 1 {
			t.Fatalf("claim after Requeue = %+v, want d1 attempt 1", ds)
		}
		if err := q.Delete(ctx, "work", "d2"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if s := stats(t, q, "work"); s != (consolidate.QueueStats{InFlight: 1}) {
			t.Fatalf("Stats after Delete = %+v", s)
		}
		if err := q.Delete(ctx, "work", "missing"); err != nil {
			t.Fatalf("Delete of a missing message: %v", err)
		}
	})

	t.Run("DeadLetterOrderAndLimit", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "a"},
			consolidate.Message{Queue: "work", ID: "b"},
			consolidate.Message{Queue: "work", ID: "c"})
		ds := claim(t, q, "work", 3, lease)
		sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
		for _, d := range ds {
			// Backends may keep burial times in milliseconds.
			time.Sleep(5 * time.Millisecond)
			if err := q.Bury(ctx, d, "reason "+d.ID); err != nil {
				t.Fatalf("Bury: %v", err)
			}
		}
		dead, err := q.DeadLetters(ctx, "work", 2)
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		if len(dead) != 2 || dead[0].ID != "a" || dead[1].ID != "b" {
			t.Fatalf("DeadLetters(limit 2) = %+v, want a, b (oldest first)", dead)
		}
		if err := q.Requeue(ctx, "work", "a"); err != nil {
			t.Fatalf("Requeue: %v", err)
		}
		d := claim(t, q, "work", 1, lease)
		if len(d) != 1 || d[0].ID != "a" || d[0].Attempt != 1 {
			t.Fatalf("claim after Requeue = %+v", d)
		}
		time.Sleep(5 * time.Millisecond)
		if err := q.Bury(ctx, d[0], "again"); err != nil {
			t.Fatalf("Bury: %v", err)
		}
		dead, err = q.DeadLetters(ctx, "work", 0)
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		if len(dead) != 3 || dead[0].ID != "b" || dead[1].ID != "c" || dead[2].ID != "a" || dead[2].Reason != "again" || dead[2].Attempt != 1 {
			t.Fatalf("DeadLetters(no limit) = %+v, want b, c, then a buried again", dead)
		}
	})

	t.Run("DeleteInFlight", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "x", Body: []byte("old")})
		d := claim(t, q, "work", 1, lease)
		if len(d) != 1 {
			t.Fatalf("claim = %+v", d)
		}
		if err := q.Delete(ctx, "work", "x"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := q.Ack(ctx, d[0]); !errors.Is(err, consolidate.ErrLeaseLost) {
			t.Fatalf("Ack of a deleted delivery: got %v, want ErrLeaseLost", err)
		}
		if s := stats(t, q, "work"); s != (consolidate.QueueStats{}) {
			t.Fatalf("Stats after Delete = %+v, want empty", s)
		}
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "x", Body: []byte("new")})
		d = claim(t, q, "work", 1, lease)
		if len(d) != 1 || string(d[0].Body) != "new" || d[0].Attempt != 1 {
			t.Fatalf("claim of a re-enqueued ID = %+v, want the new body on attempt 1", d)
		}
	})

	t.Run("BinaryAndEmptyBodies", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		bin := []byte{0, 255, '\n', 0, '\r'}
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "bin", Body: bin},
			consolidate.Message{Queue: "work", ID: "empty"})
		ds := claim(t, q, "work", 10, lease)
		sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
		if len(ds) != 2 || !bytes.Equal(ds[0].Body, bin) || len(ds[1].Body) != 0 {
			t.Fatalf("Claim = %+v, want the binary body and an empty one", ds)
		}
	})

	t.Run("DedupeByID", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "same", Body: []byte("first")})
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "same", Body: []byte("second")})
		ds := claim(t, q, "work", 10, lease)
		if len(ds) != 1 || string(ds[0].Body) != "first" {
			t.Fatalf("Claim = %+v, want one delivery of the first body", ds)
		}
		// In flight: still deduplicated.
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "same"})
		if s := stats(t, q, "work"); s != (consolidate.QueueStats{InFlight: 1}) {
			t.Fatalf("Stats = %+v", s)
		}
		if err := q.Ack(ctx, ds[0]); err != nil {
			t.Fatal(err)
		}
		// Once acked, the ID may be used again.
		enqueue(t, q, consolidate.Message{Queue: "work", ID: "same", Body: []byte("third")})
		if ds := claim(t, q, "work", 10, lease); len(ds) != 1 || string(ds[0].Body) != "third" {
			t.Fatalf("Claim after re-use = %+v", ds)
		}
	})

	t.Run("AtomicMultiQueue", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		enqueue(t, q,
			consolidate.Message{Queue: "notifications", ID: "evt-1", Body: []byte("e")},
			consolidate.Message{Queue: "audit", ID: "evt-1", Body: []byte("e")},
		)
		for _, name := range []string{"notifications", "audit"} {
			ds := claim(t, q, name, 10, lease)
			if len(ds) != 1 || ds[0].ID != "evt-1" {
				t.Fatalf("Claim(%s) = %+v", name, ds)
			}
		}
		// One bad message in a batch adds nothing at all.
		err := q.Enqueue(ctx,
			consolidate.Message{Queue: "notifications", ID: "evt-2"},
			consolidate.Message{Queue: "audit", ID: ""},
		)
		if !errors.Is(err, consolidate.ErrInvalidMessage) {
			t.Fatalf("Enqueue with a bad message: got %v, want ErrInvalidMessage", err)
		}
		if s := stats(t, q, "notifications"); s.Ready != 0 {
			t.Fatalf("a rejected batch left %d ready messages", s.Ready)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
		bad := []consolidate.Message{
			{Queue: "", ID: "a"},
			{Queue: "work", ID: ""},
			{Queue: "wo rk", ID: "a"},
			{Queue: "work", ID: "a{b}"},
			{Queue: "work", ID: "a", Delay: -time.Second},
			{Queue: "work", ID: string(make([]byte, 1000))},
		}
		for _, m := range bad {
			if err := q.Enqueue(ctx, m); !errors.Is(err, consolidate.ErrInvalidMessage) {
				t.Errorf("Enqueue(%+v): got %v, want ErrInvalidMessage", m, err)
			}
		}
		if _, err := q.Claim(ctx, "work", 0, lease); err == nil {
			t.Error("Claim with max 0 succeeded")
		}
		if _, err := q.Claim(ctx, "work", 1, 0); err == nil {
			t.Error("Claim with zero lease succeeded")
		}
		forged := consolidate.Delivery{Queue: "work", ID: "a", Token: "forged"}
		if err := q.Ack(ctx, forged); !errors.Is(err, consolidate.ErrLeaseLost) {
			t.Errorf("Ack of an unknown delivery: got %v, want ErrLeaseLost", err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := q.Enqueue(cancelled, consolidate.Message{Queue: "work", ID: "c"}); err == nil {
			t.Error("Enqueue with a cancelled context succeeded")
		}
		if s := stats(t, q, "work"); s != (consolidate.QueueStats{}) {
			t.Errorf("bad input changed the queue: %+v", s)
		}
	})

	t.Run("ConcurrentClaimersNeverShare", func(t *testing.T) {
		t.Parallel()
		q := newQueue(t)
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
					ds, err := q.Claim(ctx, "work", 7, lease)
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
	})
}
