package consolidatetest

import (
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// queueLease is the lease the queue suite claims with when the lease's
// expiry is not what a test is about.
const queueLease = time.Minute

// RunQueue runs the Queue conformance suite, one parallel subtest per
// behaviour, each on a fresh queue from newQueue. The suite observes the
// queue through QueueInspector, which the queue must implement too.
func RunQueue(t *testing.T, newQueue func(t *testing.T) consolidate.Queue) {
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) consolidate.Queue)
	}{
		{"EnqueueClaimAck", testQueueEnqueueClaimAck},
		{"Delay", testQueueDelay},
		{"DueOrder", testQueueDueOrder},
		{"LeaseExpiryRedelivers", testQueueLeaseExpiryRedelivers},
		{"Retry", testQueueRetry},
		{"DeadLetters", testQueueDeadLetters},
		{"DeadLetterOrderAndLimit", testQueueDeadLetterOrderAndLimit},
		{"DeleteInFlight", testQueueDeleteInFlight},
		{"BinaryAndEmptyBodies", testQueueBinaryAndEmptyBodies},
		{"DedupeByID", testQueueDedupeByID},
		{"AtomicMultiQueue", testQueueAtomicMultiQueue},
		{"BadInput", testQueueBadInput},
		{"ConcurrentClaimersNeverShare", testQueueConcurrentClaimersNeverShare},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newQueue) })
	}
}

func claim(t *testing.T, q consolidate.Queue, queue string, max int, lease time.Duration) []consolidate.Delivery {
	t.Helper()
	ds, err := q.Claim(t.Context(), queue, max, lease)
	if err != nil {
		t.Fatalf("Claim(%s): %v", queue, err)
	}
	return ds
}

func enqueue(t *testing.T, q consolidate.Queue, msgs ...consolidate.Message) {
	t.Helper()
	if err := q.Enqueue(t.Context(), msgs...); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

// inspect returns q's QueueInspector, failing the test if it has none.
func inspect(t *testing.T, q consolidate.Queue) consolidate.QueueInspector {
	t.Helper()
	qi, ok := q.(consolidate.QueueInspector)
	if !ok {
		t.Fatalf("%T does not implement QueueInspector", q)
	}
	return qi
}

func stats(t *testing.T, q consolidate.Queue, queue string) consolidate.QueueStats {
	t.Helper()
	s, err := inspect(t, q).Stats(t.Context(), queue)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}
