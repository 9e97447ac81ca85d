package consolidate_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

var eventQueues = []string{"notifications", "audit"}

// eventOutage fails every Enqueue that carries an event while down is set,
// as a queue outage or a crash right after the store commit would leave
// things: the events exist only in the outbox. Reconcile tasks pass.
type eventOutage struct {
	consolidate.Queue
	down atomic.Bool
}

func (q *eventOutage) Enqueue(ctx context.Context, msgs ...consolidate.Message) error {
	for _, m := range msgs {
		if m.Queue != "reconcile" && q.down.Load() {
			return errors.New("connection refused")
		}
	}
	return q.Queue.Enqueue(ctx, msgs...)
}

// runService runs svc's background loop until the returned stop is called
// or the test ends.
func runService(t *testing.T, svc *consolidate.Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// drain claims every message of queue and acks it.
func drain(t *testing.T, q consolidate.Queue, queue string) []consolidate.Delivery {
	t.Helper()
	ds, err := take(t.Context(), q, queue)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// take is drain for goroutines other than the test's own.
func take(ctx context.Context, q consolidate.Queue, queue string) ([]consolidate.Delivery, error) {
	var out []consolidate.Delivery
	for {
		ds, err := q.Claim(ctx, queue, 100, time.Minute)
		if err != nil || len(ds) == 0 {
			return out, err
		}
		for _, d := range ds {
			if err := q.Ack(ctx, d); err != nil {
				return out, err
			}
		}
		out = append(out, ds...)
	}
}

// unsent returns the outbox events not yet published.
func (e *env) unsent() []consolidate.Event {
	e.t.Helper()
	evs, err := e.store.Events(e.t.Context(), 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func (e *env) waitOutboxEmpty() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.unsent()) > 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d events still unpublished", len(e.unsent()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkPublished checks that every queue received exactly the events of
// txs, two each (submitted and final), once each, with the event ID as the
// message ID and the same body in every queue.
func checkPublished(t *testing.T, q consolidate.Queue, txs []consolidate.Transaction) {
	t.Helper()
	bodies := map[string]string{} // event ID → body, across queues
	for _, queue := range eventQueues {
		perTx := map[int64]map[string]int{}
		for _, d := range drain(t, q, queue) {
			var ev consolidate.EventMessage
			if err := json.Unmarshal(d.Body, &ev); err != nil || ev.ID != d.ID {
				t.Fatalf("%s: message %s with body %q", queue, d.ID, d.Body)
			}
			if b, ok := bodies[d.ID]; ok && b != string(d.Body) {
				t.Errorf("%s: event %s differs between queues", queue, d.ID)
			}
			bodies[d.ID] = string(d.Body)
			if perTx[ev.TransactionID] == nil {
				perTx[ev.TransactionID] = map[string]int{}
			}
			perTx[ev.TransactionID][ev.Type]++
		}
		if len(perTx) != len(txs) {
			t.Errorf("%s: events for %d transactions, want %d", queue, len(perTx), len(txs))
		}
		for _, tx := range txs {
			final := consolidate.EventSuccessful
			if tx.Status == consolidate.StatusFailed {
				final = consolidate.EventFailed
			}
			got := perTx[tx.ID]
			if len(got) != 2 || got[consolidate.EventSubmitted] != 1 || got[final] != 1 {
				t.Errorf("%s: transaction %d (%s) has events %v, want one %s and one %s", queue, tx.ID, tx.Status, got, consolidate.EventSubmitted, final)
			}
		}
	}
}

// A crash (or queue outage) between the store commit and the publish loses
// no event: they wait in the outbox, and the next relay, here in a fresh
// Service as after a restart, publishes each exactly once.
func TestEventsSurviveCrashBeforePublish(t *testing.T) {
	t.Parallel()
	var outage *eventOutage
	e := newEnv(t, &envOptions{
		cfg: consolidate.Config{EventQueues: eventQueues, RelayInterval: 5 * time.Millisecond},
		wrapQueue: func(q consolidate.Queue) consolidate.Queue {
			outage = &eventOutage{Queue: q}
			outage.down.Store(true)
			return outage
		},
	})
	reverter := e.reverter()
	acct := e.funded(wei(1e18))
	e.sim.AutoMine(t.Context(), 10*time.Millisecond)
	stop := runService(t, e.svc)
	txs := []consolidate.Transaction{e.submit(acct.ID, alice, wei(1)), e.submit(acct.ID, reverter, wei(2))}
	for i, tx := range txs {
		txs[i] = e.waitFinal(tx.ID, 10*time.Second)
	}
	// The relay has tried and failed for a while; the process dies.
	time.Sleep(50 * time.Millisecond)
	stop()

	if n := len(e.unsent()); n != 4 {
		t.Fatalf("outbox holds %d events, want 4", n)
	}
	for _, queue := range eventQueues {
		st, err := queueStats(t.Context(), outage.Queue, queue)
		if err != nil {
			t.Fatal(err)
		}
		if st != (consolidate.QueueStats{}) {
			t.Fatalf("%s received something while publishing failed: %+v", queue, st)
		}
	}

	// A new process on the same store and queue, publishing again.
	outage.down.Store(false)
	restarted, err := consolidate.New(e.store, e.chain, &e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	runService(t, restarted)
	e.waitOutboxEmpty()
	checkPublished(t, outage.Queue, txs)
}

// failMarkSent fails MarkSent while fail is above zero, after running
// before: a relay that dies after its Enqueue and before recording it.
type failMarkSent struct {
	consolidate.Store
	fail   atomic.Int32
	before func()
}

func (s *failMarkSent) MarkSent(ctx context.Context, ids []int64) error {
	if s.fail.Add(-1) >= 0 {
		if s.before != nil {
			s.before()
		}
		return errors.New("database is locked")
	}
	return s.Store.MarkSent(ctx, ids)
}

// A relay that dies after publishing and before recording the publish
// publishes again: with the same message IDs, so a copy still waiting is
// not duplicated and a consumer that already took the first copy drops
// the second by its ID.
func TestRelayCrashAfterPublishRepublishesSameIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &envOptions{cfg: consolidate.Config{EventQueues: eventQueues, RelayInterval: 5 * time.Millisecond}})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1))
	want := consolidate.EventID(e.unsent()[0].ID)

	// First publish: a consumer of "notifications" takes and acks the
	// event, then the relay dies before MarkSent. Second publish: MarkSent
	// fails again while the first copy in "audit" is still waiting.
	// Third: recorded.
	store := &failMarkSent{Store: e.store}
	store.fail.Store(2)
	var (
		mu       sync.Mutex
		consumed []consolidate.Delivery
		takeErr  error
		first    = true
	)
	store.before = func() {
		mu.Lock()
		defer mu.Unlock()
		if first {
			var ds []consolidate.Delivery
			ds, takeErr = take(context.Background(), e.queue, "notifications")
			consumed = append(consumed, ds...)
			first = false
		}
	}
	relay, err := consolidate.New(store, e.chain, &e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	runService(t, relay)
	e.waitOutboxEmpty()
	if left := store.fail.Load(); left > 0 {
		t.Fatalf("MarkSent failed %d times, want 2", 2-left)
	}

	mu.Lock()
	if takeErr != nil {
		t.Fatal(takeErr)
	}
	consumed = append(consumed, drain(t, e.queue, "notifications")...)
	mu.Unlock()
	audit := drain(t, e.queue, "audit")
	if len(audit) != 1 || audit[0].ID != want {
		t.Fatalf("audit got %v, want %s once: the waiting copy was duplicated", ids(audit), want)
	}
	// The consumer saw the event twice, under one ID; deduplicating on it
	// leaves one.
	seen := map[string]int{}
	for _, d := range consumed {
		var ev consolidate.EventMessage
		if err := json.Unmarshal(d.Body, &ev); err != nil || ev.ID != d.ID || ev.TransactionID != tx.ID {
			t.Fatalf("message %s with body %q", d.ID, d.Body)
		}
		seen[d.ID]++
	}
	if len(consumed) != 2 || len(seen) != 1 || seen[want] != 2 {
		t.Fatalf("notifications delivered %v, want %s twice (published, acked, published again)", ids(consumed), want)
	}
}

func ids(ds []consolidate.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// Every event reaches every event queue once per publish, on the in-process
// queue and on Redis.
func TestEventsOncePerQueue(t *testing.T) {
	t.Parallel()
	for name, queue := range map[string]func(t *testing.T) consolidate.Queue{
		"memory": func(*testing.T) consolidate.Queue { return consolidate.NewMemoryQueue() },
		"redis": func(t *testing.T) consolidate.Queue {
			return redis.NewQueue(redistest.Start(t).Client(t), &redis.QueueOptions{Prefix: redistest.NewPrefix()})
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			q := queue(t)
			e := newEnv(t, &envOptions{cfg: consolidate.Config{Queue: q, EventQueues: eventQueues, RelayInterval: 5 * time.Millisecond}})
			reverter := e.reverter()
			acct := e.funded(wei(1e18))
			e.sim.AutoMine(t.Context(), 10*time.Millisecond)
			e.runWorker()
			var txs []consolidate.Transaction
			for i := range 8 {
				to := alice
				if i%3 == 2 {
					to = reverter
				}
				txs = append(txs, e.submit(acct.ID, to, wei(int64(1000+i))))
			}
			for i, tx := range txs {
				txs[i] = e.waitFinal(tx.ID, 20*time.Second)
			}
			e.waitOutboxEmpty()
			checkPublished(t, q, txs)
		})
	}
}
