package consolidate_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// telemetry is a Service's metrics and spans, kept in memory.
type telemetry struct {
	t      *testing.T
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
}

func newTelemetry(t *testing.T, cfg *consolidate.Config) *telemetry {
	tm := &telemetry{t: t, reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tm.reader))
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tm.spans))
	return tm
}

// collect reads every metric, by name.
func (tm *telemetry) collect() map[string]metricdata.Aggregation {
	tm.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tm.reader.Collect(tm.t.Context(), &rm); err != nil {
		tm.t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// value is the data point of a counter or gauge with exactly attrs, and
// whether there is one.
func value(data metricdata.Aggregation, attrs ...attribute.KeyValue) (float64, bool) {
	want := attribute.NewSet(attrs...)
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				return float64(p.Value), true
			}
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				return float64(p.Value), true
			}
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				return p.Value, true
			}
		}
	}
	return 0, false
}

// points counts the data points of a gauge.
func points(data metricdata.Aggregation) int {
	switch d := data.(type) {
	case metricdata.Gauge[int64]:
		return len(d.DataPoints)
	case metricdata.Gauge[float64]:
		return len(d.DataPoints)
	}
	return 0
}

// count is the number of measurements of a histogram with exactly attrs.
func count(data metricdata.Aggregation, attrs ...attribute.KeyValue) uint64 {
	want := attribute.NewSet(attrs...)
	if h, ok := data.(metricdata.Histogram[float64]); ok {
		for _, p := range h.DataPoints {
			if p.Attributes.Equals(&want) {
				return p.Count
			}
		}
	}
	return 0
}

// expect checks the data points of counters and gauges: each row is a
// metric, its attributes and its value.
func (tm *telemetry) expect(ms map[string]metricdata.Aggregation, rows []point) {
	tm.t.Helper()
	for _, r := range rows {
		got, ok := value(ms[r.name], r.attrs...)
		if !ok || got != r.want {
			tm.t.Errorf("%s%v = %v (recorded: %v), want %v", r.name, r.attrs, got, ok, r.want)
		}
	}
}

type point struct {
	name  string
	attrs []attribute.KeyValue
	want  float64
}

func outcome(s string) attribute.KeyValue { return attribute.String("outcome", s) }

// spansNamed returns the ended spans called name.
func (tm *telemetry) spansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tm.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// childOf reports whether span's parent is parent.
func childOf(span, parent sdktrace.ReadOnlySpan) bool {
	return span.Parent().SpanID() == parent.SpanContext().SpanID() && span.SpanContext().TraceID() == parent.SpanContext().TraceID()
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestMetricsOfAFlow runs two transfers and a refused one to the end and
// reads the metrics and spans they leave.
func TestMetricsOfAFlow(t *testing.T) {
	t.Parallel()
	cfg := consolidate.Config{Cache: consolidate.NewMemoryCache(100), EventQueues: []string{"events"}}
	tm := newTelemetry(t, &cfg)
	e := newEnv(t, &envOptions{cfg: cfg})
	amount := wei(1e15)
	acct := e.funded(sum(amount, fee, amount, fee, wei(1)))
	tx1 := e.submit(acct.ID, alice, amount)
	tx2 := e.submit(acct.ID, bob, amount)
	_, err := e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: amount})
	if !errors.Is(err, consolidate.ErrInsufficientFunds) {
		t.Fatalf("third Submit: %v, want ErrInsufficientFunds", err)
	}
	// Submit cached each transfer; an unknown ID misses, then hits its
	// negative entry.
	for _, id := range []int64{tx1.ID, 1 << 40, 1 << 40} {
		if _, err := e.svc.Get(t.Context(), id); err != nil && !errors.Is(err, consolidate.ErrNotFound) {
			t.Fatal(err)
		}
	}

	ms := tm.collect()
	reconcileQueue := attribute.String("queue", "reconcile")
	wallet := attribute.String("wallet", e.chain.Sender().Hex())
	tm.expect(ms, []point{
		{"consolidate.transfers.pending", nil, 2},
		{"consolidate.transfers.parked", nil, 0},
		{"consolidate.wallet.nonce_gap", []attribute.KeyValue{wallet}, 2},
		{"consolidate.submits", []attribute.KeyValue{outcome("ok")}, 2},
		{"consolidate.submits", []attribute.KeyValue{outcome("insufficient_funds")}, 1},
		{"consolidate.cache.lookups", []attribute.KeyValue{attribute.String("result", "hit")}, 2},
		{"consolidate.cache.lookups", []attribute.KeyValue{attribute.String("result", "miss")}, 1},
		{"consolidate.queue.depth", []attribute.KeyValue{reconcileQueue, attribute.String("state", "ready")}, 2},
		{"consolidate.queue.dead_letters", []attribute.KeyValue{reconcileQueue}, 0},
	})
	if age, _ := value(ms["consolidate.transfers.oldest_pending_age"]); age <= 0 || age > 60 {
		t.Errorf("oldest_pending_age = %vs, want the age of the first transfer", age)
	}
	if n := count(ms["consolidate.submit.duration"], outcome("ok")); n != 2 {
		t.Errorf("submit.duration{ok} holds %d measurements, want 2", n)
	}
	if n := count(ms["consolidate.submit.duration"], outcome("insufficient_funds")); n != 1 {
		t.Errorf("submit.duration{insufficient_funds} holds %d measurements, want 1", n)
	}

	e.sim.Commit()
	e.waitState(consolidate.TxFinal, tx1.Hash, tx2.Hash)
	e.pass(2)
	if n, err := e.svc.Relay(t.Context()); err != nil || n != 4 {
		t.Fatalf("Relay: %d, %v; want the 4 events of 2 submits and 2 settles", n, err)
	}

	ms = tm.collect()
	tm.expect(ms, []point{
		{"consolidate.transfers.pending", nil, 0},
		{"consolidate.transfers.oldest_pending_age", nil, 0},
		{"consolidate.wallet.nonce_gap", []attribute.KeyValue{wallet}, 0},
		{"consolidate.reconcile.checks", []attribute.KeyValue{outcome("successful")}, 2},
		{"consolidate.relay.events", nil, 4},
		{"consolidate.queue.depth", []attribute.KeyValue{reconcileQueue, attribute.String("state", "ready")}, 0},
		{"consolidate.queue.depth", []attribute.KeyValue{attribute.String("queue", "events"), attribute.String("state", "ready")}, 4},
	})
	if _, ok := value(ms["consolidate.reconcile.checks"], outcome("pending")); ok {
		t.Error("a check counted pending: both transfers were final")
	}
	if n := count(ms["consolidate.transfers.time_to_final"], attribute.String("status", "successful")); n != 2 {
		t.Errorf("time_to_final{successful} holds %d measurements, want 2", n)
	}
	for _, name := range []string{"consolidate.fee_bumps", "consolidate.cancels", "consolidate.reconcile.parked"} {
		if _, ok := ms[name]; ok {
			t.Errorf("%s recorded, but nothing was bumped, cancelled or parked", name)
		}
	}

	tm.checkSpans()
}

// checkSpans checks the spans of TestMetricsOfAFlow: three submits, two
// of which signed and broadcast, one reconcile pass and one relay round.
func (tm *telemetry) checkSpans() {
	t := tm.t
	submits, stores := tm.spansNamed("consolidate.submit"), tm.spansNamed("consolidate.store.submit")
	signs, sends := tm.spansNamed("consolidate.sign"), tm.spansNamed("consolidate.broadcast")
	if len(submits) != 3 || len(stores) != 3 || len(signs) != 2 || len(sends) != 2 {
		t.Fatalf("%d submit, %d store, %d sign, %d broadcast spans; want 3, 3, 2, 2", len(submits), len(stores), len(signs), len(sends))
	}
	for i, s := range submits {
		if !childOf(stores[i], s) {
			t.Errorf("store span %d is not a child of its submit span", i)
		}
		if want := []string{"ok", "ok", "insufficient_funds"}[i]; attr(s, "consolidate.outcome").AsString() != want {
			t.Errorf("submit span %d: outcome %q, want %q", i, attr(s, "consolidate.outcome").AsString(), want)
		}
		if s.Status().Code == codes.Error {
			t.Errorf("submit span %d failed: %s", i, s.Status().Description)
		}
	}
	for i := range 2 {
		if !childOf(signs[i], stores[i]) || !childOf(sends[i], submits[i]) {
			t.Errorf("submit %d: sign span not under its store span, or broadcast span not under its submit span", i)
		}
	}
	if evs := submits[2].Events(); len(evs) != 1 || evs[0].Name != "exception" {
		t.Errorf("the refused submit's span has events %v, want its error", evs)
	}
	passes, relays := tm.spansNamed("consolidate.reconcile"), tm.spansNamed("consolidate.relay")
	if len(passes) != 1 || attr(passes[0], "consolidate.checks").AsInt64() != 2 {
		t.Errorf("%d reconcile spans, want one of 2 checks", len(passes))
	}
	if len(relays) != 1 || attr(relays[0], "consolidate.events").AsInt64() != 4 {
		t.Errorf("%d relay spans, want one of 4 events", len(relays))
	}
}

// TestMetricsFailuresOnSpans checks that a failed broadcast and a failed
// reconcile pass mark their spans failed.
func TestMetricsFailuresOnSpans(t *testing.T) {
	t.Parallel()
	var cfg consolidate.Config
	tm := newTelemetry(t, &cfg)
	fc := &flakyChain{}
	fc.drop.Store(1)
	e := newEnv(t, &envOptions{cfg: cfg, wrapChain: func(c consolidate.Chain) consolidate.Chain { fc.Chain = c; return fc }})
	acct := e.funded(wei(1e18))
	e.submit(acct.ID, alice, wei(1e15))
	sends := tm.spansNamed("consolidate.broadcast")
	if len(sends) != 1 || sends[0].Status().Code != codes.Error {
		t.Fatalf("broadcast spans %v, want one failed", sends)
	}
	if s := tm.spansNamed("consolidate.submit"); len(s) != 1 || s[0].Status().Code == codes.Error {
		t.Fatal("a failed broadcast failed the submit span; Submit succeeded")
	}
	if _, err := e.svc.Reconcile(t.Context(), 1<<40); !errors.Is(err, consolidate.ErrNotFound) {
		t.Fatalf("Reconcile of an unknown transfer: %v", err)
	}
	passes := tm.spansNamed("consolidate.reconcile")
	if len(passes) != 1 || passes[0].Status().Code != codes.Error || attr(passes[0], "consolidate.checks.failed").AsInt64() != 1 {
		t.Fatalf("reconcile spans %v, want one failed", passes)
	}
	tm.expect(tm.collect(), []point{{"consolidate.reconcile.checks", []attribute.KeyValue{outcome("error")}, 1}})
}

// TestMetricsGlobalProvider checks that a Service configured with no
// providers works, records nothing while the global providers are the
// default no-ops, and records into the global meter provider once the
// host installs one. Not parallel: it installs the global provider.
func TestMetricsGlobalProvider(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1e15))
	e.sim.Commit()
	e.waitState(consolidate.TxFinal, tx.Hash)
	e.pass(1)
	if _, err := e.svc.Get(t.Context(), tx.ID); err != nil {
		t.Fatal(err)
	}

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	otel.SetMeterProvider(mp)
	e.submit(acct.ID, alice, wei(1e15))
	tm := &telemetry{t: t, reader: reader}
	tm.expect(tm.collect(), []point{{"consolidate.submits", []attribute.KeyValue{outcome("ok")}, 1}})
}

// TestMetricsBumpParkCancel counts a fee bump, a park and a cancel of a
// transfer that is never mined.
func TestMetricsBumpParkCancel(t *testing.T) {
	t.Parallel()
	cfg := consolidate.Config{
		StuckAfter: time.Nanosecond, // the first check bumps
		Backoff:    consolidate.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Checks: 1},
	}
	tm := newTelemetry(t, &cfg)
	e := newEnv(t, &envOptions{cfg: cfg})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1e15))
	e.pass(1)
	reconcileQueue := attribute.String("queue", "reconcile")
	tm.expect(tm.collect(), []point{
		{"consolidate.reconcile.checks", []attribute.KeyValue{outcome("pending")}, 1},
		{"consolidate.fee_bumps", nil, 1},
		{"consolidate.reconcile.parked", nil, 1},
		{"consolidate.transfers.parked", nil, 1},
		{"consolidate.queue.dead_letters", []attribute.KeyValue{reconcileQueue}, 1},
	})
	if _, err := e.svc.Cancel(t.Context(), tx.ID); err != nil {
		t.Fatal(err)
	}
	tm.expect(tm.collect(), []point{
		{"consolidate.cancels", nil, 1},
		{"consolidate.fee_bumps", nil, 1},
		{"consolidate.transfers.parked", nil, 0},
		{"consolidate.transfers.pending", nil, 1},
		{"consolidate.queue.dead_letters", []attribute.KeyValue{reconcileQueue}, 0},
		{"consolidate.queue.depth", []attribute.KeyValue{reconcileQueue, attribute.String("state", "ready")}, 1},
	})
}

// blindStore cannot count its open work.
type blindStore struct{ consolidate.Store }

func (blindStore) Overview(context.Context) (consolidate.Overview, error) {
	return consolidate.Overview{}, errors.New("disk I/O error")
}

// TestMetricsGaugeSourceFails checks that a gauge whose source fails
// records nothing, and that the other gauges are still read.
func TestMetricsGaugeSourceFails(t *testing.T) {
	t.Parallel()
	var cfg consolidate.Config
	tm := newTelemetry(t, &cfg)
	e := newEnv(t, &envOptions{cfg: cfg, wrapStore: func(s consolidate.Store) consolidate.Store { return blindStore{s} }})
	acct := e.funded(wei(1e18))
	e.submit(acct.ID, alice, wei(1e15))
	ms := tm.collect()
	for _, name := range []string{"consolidate.transfers.pending", "consolidate.transfers.oldest_pending_age", "consolidate.wallet.nonce_gap"} {
		if points(ms[name]) != 0 {
			t.Errorf("%s recorded while the store's Overview fails", name)
		}
	}
	tm.expect(ms, []point{{"consolidate.queue.depth", []attribute.KeyValue{attribute.String("queue", "reconcile"), attribute.String("state", "ready")}, 1}})
}

// TestMetricsGaugesEndWithService checks that a Service no longer in use
// stops reporting its gauges: a Service has no Close to unregister them.
func TestMetricsGaugesEndWithService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var cfg consolidate.Config
	tm := newTelemetry(t, &cfg)
	svc, err := consolidate.New(e.store, e.chain, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := points(tm.collect()["consolidate.transfers.pending"]); n != 1 {
		t.Fatalf("pending gauge has %d points while the Service lives, want 1", n)
	}
	runtime.KeepAlive(svc)
	deadline := time.Now().Add(5 * time.Second)
	for points(tm.collect()["consolidate.transfers.pending"]) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the gauges of a Service no longer in use are still read")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
