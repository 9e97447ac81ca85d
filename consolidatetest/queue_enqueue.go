package consolidatetest

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"testing"

	"github.com/go-consolidate/consolidate"
)

func testQueueBinaryAndEmptyBodies(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	q := open(t)
	bin := []byte{0, 255, '\n', 0, '\r'}
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "bin", Body: bin},
		consolidate.Message{Queue: "work", ID: "empty"})
	ds := claim(t, q, "work", 10, queueLease)
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	if len(ds) != 2 || !bytes.Equal(ds[0].Body, bin) || len(ds[1].Body) != 0 {
		t.Fatalf("Claim = %+v, want the binary body and an empty one", ds)
	}
}

func testQueueDedupeByID(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "same", Body: []byte("first")})
	enqueue(t, q, consolidate.Message{Queue: "work", ID: "same", Body: []byte("second")})
	ds := claim(t, q, "work", 10, queueLease)
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
	if ds := claim(t, q, "work", 10, queueLease); len(ds) != 1 || string(ds[0].Body) != "third" {
		t.Fatalf("Claim after re-use = %+v", ds)
	}
}

func testQueueAtomicMultiQueue(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	q := open(t)
	enqueue(t, q,
		consolidate.Message{Queue: "notifications", ID: "evt-1", Body: []byte("e")},
		consolidate.Message{Queue: "audit", ID: "evt-1", Body: []byte("e")},
	)
	for _, name := range []string{"notifications", "audit"} {
		ds := claim(t, q, name, 10, queueLease)
		if len(ds) != 1 || ds[0].ID != "evt-1" {
			t.Fatalf("Claim(%s) = %+v", name, ds)
		}
	}
}

func testQueueBadInput(t *testing.T, open func(*testing.T) consolidate.Queue) {
	t.Parallel()
	ctx := t.Context()
	q := open(t)
	if _, err := q.Claim(ctx, "work", 0, queueLease); err == nil {
		t.Error("Claim with max 0 succeeded")
	}
	if _, err := q.Claim(ctx, "work", 1, 0); err == nil {
		t.Error("Claim with a zero lease succeeded")
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
}
