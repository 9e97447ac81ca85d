package consolidatetest

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

func testQueueDeadLetters(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "d1", Body: []byte("one")},
		consolidate.Message{Queue: "work", ID: "d2", Body: []byte("two")})
	for _, d := range claim(t, q, "work", 2, queueLease) {
		if err := q.Bury(ctx, d, "budget spent "+d.ID); err != nil {
			t.Fatalf("Bury: %v", err)
		}
	}
	if s := stats(t, q, "work"); s != (consolidate.QueueStats{Dead: 2}) {
		t.Fatalf("Stats = %+v, want 2 dead", s)
	}
	dead, err := inspect(t, q).DeadLetters(ctx, "work", 10)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	sort.Slice(dead, func(i, j int) bool { return dead[i].ID < dead[j].ID })
	if len(dead) != 2 || dead[0].ID != "d1" || string(dead[0].Body) != "one" || dead[0].Reason != "budget spent d1" || dead[0].Attempt != 1 || dead[0].At.IsZero() {
		t.Fatalf("DeadLetters = %+v", dead)
	}
	if ds := claim(t, q, "work", 10, queueLease); len(ds) != 0 {
		t.Fatalf("claimed a dead letter: %+v", ds)
	}
	// A dead ID is still taken: enqueueing it again changes nothing.
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "d1"})
	if s := stats(t, q, "work"); s.Dead != 2 || s.Ready != 0 {
		t.Fatalf("Stats after re-enqueue of a dead ID = %+v", s)
	}
	if err := inspect(t, q).Requeue(ctx, "work", "d1"); err != nil {
		t.Fatalf("Requeue: %v", err)
	}
	if err := inspect(t, q).Requeue(ctx, "work", "nope"); !errors.Is(err, consolidate.ErrNotFound) {
		t.Fatalf("Requeue of a missing dead letter: got %v, want ErrNotFound", err)
	}
	ds := claim(t, q, "work", 10, queueLease)
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
}

func testQueueDeadLetterOrderAndLimit(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "a"},
		consolidate.Message{Queue: "work", ID: "b"},
		consolidate.Message{Queue: "work", ID: "c"})
	ds := claim(t, q, "work", 3, queueLease)
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	for _, d := range ds {
		// Backends may keep burial times in milliseconds.
		time.Sleep(5 * time.Millisecond)
		if err := q.Bury(ctx, d, "reason "+d.ID); err != nil {
			t.Fatalf("Bury: %v", err)
		}
	}
	dead, err := inspect(t, q).DeadLetters(ctx, "work", 2)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	if len(dead) != 2 || dead[0].ID != "a" || dead[1].ID != "b" {
		t.Fatalf("DeadLetters(limit 2) = %+v, want a, b (oldest first)", dead)
	}
	if err := inspect(t, q).Requeue(ctx, "work", "a"); err != nil {
		t.Fatalf("Requeue: %v", err)
	}
	d := claim(t, q, "work", 1, queueLease)
	if len(d) != 1 || d[0].ID != "a" || d[0].Attempt != 1 {
		t.Fatalf("claim after Requeue = %+v", d)
	}
	time.Sleep(5 * time.Millisecond)
	if err := q.Bury(ctx, d[0], "again"); err != nil {
		t.Fatalf("Bury: %v", err)
	}
	dead, err = inspect(t, q).DeadLetters(ctx, "work", 0)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	if len(dead) != 3 || dead[0].ID != "b" || dead[1].ID != "c" || dead[2].ID != "a" || dead[2].Reason != "again" || dead[2].Attempt != 1 {
		t.Fatalf("DeadLetters(no limit) = %+v, want b, c, then a buried again", dead)
	}
}

func testQueueDeleteInFlight(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "x", Body: []byte("old")})
	d := claim(t, q, "work", 1, queueLease)
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
	d = claim(t, q, "work", 1, queueLease)
	if len(d) != 1 || string(d[0].Body) != "new" || d[0].Attempt != 1 {
		t.Fatalf("claim of a re-enqueued ID = %+v, want the new body on attempt 1", d)
	}
}
