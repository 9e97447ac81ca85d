package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/redistest"
	"github.com/go-consolidate/consolidate/redis"
)

var secret = []byte("0123456789abcdef-test-secret")

// receiver is an httptest endpoint that fails its first failures requests
// with 500 and verifies every signature.
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	failures int

	mu       sync.Mutex
	requests int
	ok       map[string]int // event ID → 2xx answers given
}

func newReceiver(t *testing.T, failures int) *receiver {
	r := &receiver{t: t, failures: failures, ok: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := verify(secret, req.Header.Get(SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("delivery with a bad signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev consolidate.EventMessage
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(EventIDHeader) {
		r.t.Errorf("delivery %q with event id header %q", body, req.Header.Get(EventIDHeader))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if r.requests <= r.failures {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.ok[ev.ID]++
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) counts() (requests int, ok map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok = make(map[string]int, len(r.ok))
	for k, v := range r.ok {
		ok[k] = v
	}
	return r.requests, ok
}

func testDeliverer(url string, q consolidate.Queue, shared seenSet, attempts int) *deliverer {
	c := config{
		queue: "webhooks", url: url, secret: secret, attempts: attempts,
		backoff: 5 * time.Millisecond, backoffMax: 20 * time.Millisecond,
		timeout: 2 * time.Second, lease: 10 * time.Second, remember: time.Hour, workers: 2,
	}
	d := newDeliverer(c, q, shared, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d.poll = 5 * time.Millisecond
	return d
}

// start runs d until the test ends or the returned stop is called.
func start(t *testing.T, d *deliverer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

func event(id int64, typ string) consolidate.Message {
	body, _ := json.Marshal(consolidate.EventMessage{
		ID: consolidate.EventID(id), Type: typ, TransactionID: id, AccountID: 1,
		Status: consolidate.StatusSuccessful, CreatedAt: time.Now().UTC().Format(time.RFC3339Nano),
	})
	return consolidate.Message{Queue: "webhooks", ID: consolidate.EventID(id), Body: body}
}

func enqueue(t *testing.T, q consolidate.Queue, msgs ...consolidate.Message) {
	t.Helper()
	if err := q.Enqueue(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settledQueue waits until the queue holds nothing ready, delayed or in
// flight.
func settledQueue(t *testing.T, q consolidate.QueueInspector) consolidate.QueueStats {
	t.Helper()
	var st consolidate.QueueStats
	waitFor(t, "empty queue", func() bool {
		var err error
		st, err = q.Stats(t.Context(), "webhooks")
		return err == nil && st.Ready+st.Delayed+st.InFlight == 0
	})
	return st
}

func TestRetriesUntilDeliveredThenNeverAgain(t *testing.T) {
	t.Parallel()
	const failures = 3
	r := newReceiver(t, failures)
	q := consolidate.NewMemoryQueue()
	start(t, testDeliverer(r.srv.URL, q, nil, 10))

	enqueue(t, q, event(1, consolidate.EventSubmitted))
	waitFor(t, "delivery", func() bool { _, ok := r.counts(); return ok["evt_1"] == 1 })
	if st := settledQueue(t, q); st.Dead != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The Service publishes an event again, with the same ID, when it
	// crashed between publishing and recording the publish.
	enqueue(t, q, event(1, consolidate.EventSubmitted), event(2, consolidate.EventSuccessful))
	waitFor(t, "second event", func() bool { _, ok := r.counts(); return ok["evt_2"] == 1 })
	settledQueue(t, q)
	requests, ok := r.counts()
	if requests != failures+2 || ok["evt_1"] != 1 || ok["evt_2"] != 1 {
		t.Fatalf("%d requests, 2xx per event %v; want %d requests and one 2xx each", requests, ok, failures+2)
	}
}

func TestDeadLettersAfterBudget(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 1<<30) // always fails
	q := consolidate.NewMemoryQueue()
	start(t, testDeliverer(r.srv.URL, q, nil, 4))

	enqueue(t, q, event(7, consolidate.EventFailed))
	waitFor(t, "dead letter", func() bool {
		st, err := q.Stats(t.Context(), "webhooks")
		return err == nil && st.Dead == 1
	})
	dead, err := q.DeadLetters(t.Context(), "webhooks", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].ID != "evt_7" || dead[0].Attempt != 4 || !strings.Contains(dead[0].Reason, "500") {
		t.Fatalf("dead letters %+v", dead)
	}
	if requests, _ := r.counts(); requests != 4 {
		t.Fatalf("%d requests, want the budget of 4", requests)
	}
}

func TestRedirectsAndBadMessagesAreNotDelivered(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 0)
	redirect := httptest.NewServer(http.RedirectHandler(r.srv.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	q := consolidate.NewMemoryQueue()
	start(t, testDeliverer(redirect.URL, q, nil, 2))

	bad := consolidate.Message{Queue: "webhooks", ID: "evt_9", Body: []byte(`{"id": "evt_8"}`)}
	enqueue(t, q, event(3, consolidate.EventSubmitted), bad)
	waitFor(t, "two dead letters", func() bool {
		st, err := q.Stats(t.Context(), "webhooks")
		return err == nil && st.Dead == 2
	})
	if requests, _ := r.counts(); requests != 0 {
		t.Fatalf("a redirect was followed: the receiver got %d requests", requests)
	}
}

// Two consumers of one receiver on one Redis, as two processes would be:
// an event one delivered is dropped by the other when it comes again.
func TestSharedRecordAcrossConsumers(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	client := rs.Client(t)
	r := newReceiver(t, 1)
	q := redis.NewQueue(client, nil)
	first := testDeliverer(r.srv.URL, q, newRedisSeen(client, r.srv.URL, time.Hour), 10)
	second := testDeliverer(r.srv.URL, q, newRedisSeen(client, r.srv.URL, time.Hour), 10)

	stop := start(t, first)
	enqueue(t, q, event(5, consolidate.EventSuccessful))
	waitFor(t, "delivery", func() bool { _, ok := r.counts(); return ok["evt_5"] == 1 })
	settledQueue(t, q)
	stop()

	stop = start(t, second)
	enqueue(t, q, event(5, consolidate.EventSuccessful), event(6, consolidate.EventSuccessful))
	waitFor(t, "second event", func() bool { _, ok := r.counts(); return ok["evt_6"] == 1 })
	settledQueue(t, q)
	if _, ok := r.counts(); ok["evt_5"] != 1 {
		t.Fatalf("evt_5 answered 2xx %d times", ok["evt_5"])
	}

	stop()

	// Pointed at another receiver, which has not had the event, the
	// consumer delivers it there.
	other := newReceiver(t, 0)
	start(t, testDeliverer(other.srv.URL, q, newRedisSeen(client, other.srv.URL, time.Hour), 10))
	enqueue(t, q, event(5, consolidate.EventSuccessful))
	waitFor(t, "delivery to the other receiver", func() bool { _, ok := other.counts(); return ok["evt_5"] == 1 })
}

func TestSignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1767225600, 0)
	body := []byte(`{"id":"evt_1"}`)
	h := sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1767225600,v1=") || len(h) != len("t=1767225600,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := verify(secret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"other body":   verify(secret, h, []byte(`{"id":"evt_2"}`), now, time.Minute),
		"other secret": verify([]byte("another secret, 16+ bytes"), h, body, now, time.Minute),
		"too old":      verify(secret, h, body, now.Add(10*time.Minute), 5*time.Minute),
		"malformed":    verify(secret, "v1=abc", body, now, time.Minute),
		"other time":   verify(secret, strings.Replace(h, "t=1767225600", "t=1767225601", 1), body, now, time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{secretEnv: "a-secret-of-sufficient-length", "CONSOLIDATE_REDIS_URL": "redis://r:6379"}
	getenv := func(k string) string { return env[k] }
	c, err := parseConfig([]string{"-url", "https://example.com/hooks"}, getenv, io.Discard)
	if err != nil || c.queue != "webhooks" || string(c.secret) != env[secretEnv] || c.attempts != 10 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, args := range [][]string{
		{},
		{"-url", "ftp://example.com"},
		{"-url", "https://example.com", "-lease", "10s", "-timeout", "10s"},
		{"-url", "https://example.com", "-attempts", "0"},
		{"-url", "https://example.com", "-backoff", "1m", "-backoff-max", "1s"},
		{"-url", "https://example.com", "extra"},
	} {
		if _, err := parseConfig(args, getenv, io.Discard); err == nil {
			t.Errorf("accepted %q", args)
		}
	}
	if _, err := parseConfig([]string{"-url", "https://example.com"}, func(k string) string {
		if k == secretEnv {
			return "short"
		}
		return env[k]
	}, io.Discard); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("short secret: %v", err)
	}
}
