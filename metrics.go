package consolidate

import (
	"context"
	"errors"
	"runtime"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The Service's metrics; docs/metrics.md says what each one means. The
// instruments and the attribute sets of the hot paths are built once, in
// New, so that recording a measurement allocates nothing.

// scope names the instrumentation scope of the Service's metrics and spans.
const scope = "github.com/go-consolidate/consolidate"

// observeTimeout bounds each read a gauge callback makes: a collection
// must not hang on a slow store, chain or queue.
const observeTimeout = time.Second

// submitOutcome classifies what a Submit came to.
type submitOutcome int

const (
	submitOK submitOutcome = iota
	submitReplay
	submitInsufficientFunds
	submitInvalid
	submitNotFound
	submitConflict
	submitLocked
	submitLockUnavailable
	submitFeeTooHigh
	submitCanceled
	submitError
	submitOutcomes
)

var submitOutcomeNames = [submitOutcomes]string{
	"ok", "idempotent_replay", "insufficient_funds", "invalid", "not_found", "idempotency_conflict",
	"locked", "lock_unavailable", "fee_too_high", "canceled", "error",
}

func (o submitOutcome) String() string { return submitOutcomeNames[o] }

// failed reports whether the outcome is a failure of the Service or its
// backends rather than a refusal of the caller's request.
func (o submitOutcome) failed() bool {
	return o == submitError || o == submitLockUnavailable || o == submitFeeTooHigh
}

// submitOutcomeOf classifies the result of a submit; created is false for
// a replayed idempotency key.
func submitOutcomeOf(created bool, err error) submitOutcome {
	switch {
	case err == nil && created:
		return submitOK
	case err == nil:
		return submitReplay
	case errors.Is(err, ErrInsufficientFunds):
		return submitInsufficientFunds
	case errors.Is(err, ErrInvalidAddress), errors.Is(err, ErrInvalidAmount),
		errors.Is(err, ErrSelfTransfer), errors.Is(err, ErrInvalidReference):
		return submitInvalid
	case errors.Is(err, ErrNotFound):
		return submitNotFound
	case errors.Is(err, ErrIdempotencyConflict):
		return submitConflict
	case errors.Is(err, ErrAccountLocked):
		return submitLocked
	case errors.Is(err, ErrLockUnavailable):
		return submitLockUnavailable
	case errors.Is(err, ErrFeeTooHigh):
		return submitFeeTooHigh
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return submitCanceled
	}
	return submitError
}

// checkOutcome classifies one transaction's check in a reconcile pass.
type checkOutcome int

const (
	checkSuccessful checkOutcome = iota // settled SUCCESSFUL by this check
	checkFailed                         // settled FAILED: reverted, or cancelled
	checkVoided                         // settled FAILED: nonce taken by another transaction
	checkPending                        // not final yet
	checkFinal                          // found final already (a repeated task, or another worker settled it)
	checkError                          // could not be checked; tried again later
	checkOutcomes
)

var checkOutcomeNames = [checkOutcomes]string{"successful", "failed", "voided", "pending", "final", "error"}

func (c *check) outcome() checkOutcome {
	switch {
	case c.err != nil:
		return checkError
	case !c.tx.Status.Final():
		return checkPending
	case !c.settled:
		return checkFinal
	case c.voided:
		return checkVoided
	case c.tx.Status == StatusSuccessful:
		return checkSuccessful
	}
	return checkFailed
}

// Buckets of the duration histograms, in seconds.
var (
	submitBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	finalBuckets  = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400}
)

// instruments are the Service's metric instruments.
type instruments struct {
	submits      metric.Int64Counter
	submitTime   metric.Float64Histogram
	checks       metric.Int64Counter
	timeToFinal  metric.Float64Histogram
	bumps        metric.Int64Counter
	cancels      metric.Int64Counter
	relayed      metric.Int64Counter
	cacheLookups metric.Int64Counter
	parks        metric.Int64Counter
	signatures   metric.Int64Counter

	pending     metric.Int64ObservableGauge
	parkedNow   metric.Int64ObservableGauge
	oldestAge   metric.Float64ObservableGauge
	nonceGap    metric.Int64ObservableGauge
	inRotation  metric.Int64ObservableGauge
	queueDepth  metric.Int64ObservableGauge
	deadLetters metric.Int64ObservableGauge

	// Precomputed measurement options, by outcome.
	submitAdd [submitOutcomes][]metric.AddOption
	submitRec [submitOutcomes][]metric.RecordOption
	checkAdd  [checkOutcomes][]metric.AddOption
	finalRec  map[Status][]metric.RecordOption
	hit, miss []metric.AddOption
	signAdd   map[string][]metric.AddOption
}

// newInstruments creates the instruments on mp. An instrument the
// provider fails to create records nothing; the error is returned for
// New to log, since metrics must never stop a Service.
func newInstruments(mp metric.MeterProvider) (*instruments, error) {
	b := builder{m: mp.Meter(scope)}
	m := &instruments{
		submits:      b.counter("consolidate.submits", "{call}", "Submit calls, by outcome."),
		submitTime:   b.histogram("consolidate.submit.duration", "s", "How long Submit took, by outcome.", submitBuckets),
		checks:       b.counter("consolidate.reconcile.checks", "{check}", "Checks of a transaction by a reconcile pass, by outcome."),
		timeToFinal:  b.histogram("consolidate.transfers.time_to_final", "s", "From Submit to the settlement of a transfer, by final status.", finalBuckets),
		bumps:        b.counter("consolidate.fee_bumps", "{attempt}", "Attempts re-signed with bumped fees."),
		cancels:      b.counter("consolidate.cancels", "{attempt}", "Cancels signed (zero-value self-transfers on a transfer's nonce)."),
		relayed:      b.counter("consolidate.relay.events", "{event}", "Outbox events published to the event queues."),
		cacheLookups: b.counter("consolidate.cache.lookups", "{lookup}", "Cache lookups of Get, by result (hit or miss)."),
		parks:        b.counter("consolidate.reconcile.parked", "{transfer}", "Transfers parked after their check budget ran out."),
		signatures:   b.counter("consolidate.signatures", "{signature}", "Signatures made outside a store write (reserved transfers, fee bumps, cancels), by result: ok, error, timeout, mismatch."),
		pending:      b.gauge("consolidate.transfers.pending", "{transfer}", "PENDING transfers, parked ones included."),
		parkedNow:    b.gauge("consolidate.transfers.parked", "{transfer}", "Parked transfers: PENDING, check budget spent."),
		oldestAge:    b.floatGauge("consolidate.transfers.oldest_pending_age", "s", "Age of the oldest PENDING transfer; 0 if none."),
		nonceGap:     b.gauge("consolidate.wallet.nonce_gap", "{nonce}", "Nonces the store handed out that are not final on the chain: the store's next nonce minus the finalized one."),
		inRotation:   b.gauge("consolidate.wallet.in_rotation", "1", "1 if new transfers may go to the wallet, 0 while it is out of rotation (its signer failing, too little for gas, or stuck)."),
		queueDepth:   b.gauge("consolidate.queue.depth", "{message}", "Messages of a queue by state: ready, delayed, in_flight."),
		deadLetters:  b.gauge("consolidate.queue.dead_letters", "{message}", "Dead letters of a queue."),
	}
	for o := range submitOutcomes {
		set := attribute.NewSet(attribute.String("outcome", o.String()))
		m.submitAdd[o] = []metric.AddOption{metric.WithAttributeSet(set)}
		m.submitRec[o] = []metric.RecordOption{metric.WithAttributeSet(set)}
	}
	for o := range checkOutcomes {
		m.checkAdd[o] = addOpts(attribute.String("outcome", checkOutcomeNames[o]))
	}
	m.finalRec = map[Status][]metric.RecordOption{
		StatusSuccessful: {metric.WithAttributeSet(attribute.NewSet(attribute.String("status", "successful")))},
		StatusFailed:     {metric.WithAttributeSet(attribute.NewSet(attribute.String("status", "failed")))},
	}
	m.hit, m.miss = addOpts(attribute.String("result", "hit")), addOpts(attribute.String("result", "miss"))
	m.signAdd = make(map[string][]metric.AddOption)
	for _, r := range []string{"ok", "error", "timeout", "mismatch"} {
		m.signAdd[r] = addOpts(attribute.String("result", r))
	}
	return m, b.err
}

func addOpts(kv ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// builder creates instruments, keeping the first error and falling back
// to no-op instruments.
type builder struct {
	m   metric.Meter
	err error
}

func (b *builder) keep(err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
}

func (b *builder) counter(name, unit, desc string) metric.Int64Counter {
	c, err := b.m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(err)
	if c == nil {
		return noop.Int64Counter{}
	}
	return c
}

func (b *builder) histogram(name, unit, desc string, bounds []float64) metric.Float64Histogram {
	h, err := b.m.Float64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(bounds...))
	b.keep(err)
	if h == nil {
		return noop.Float64Histogram{}
	}
	return h
}

func (b *builder) gauge(name, unit, desc string) metric.Int64ObservableGauge {
	g, err := b.m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(err)
	if g == nil {
		return noop.Int64ObservableGauge{}
	}
	return g
}

func (b *builder) floatGauge(name, unit, desc string) metric.Float64ObservableGauge {
	g, err := b.m.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(err)
	if g == nil {
		return noop.Float64ObservableGauge{}
	}
	return g
}

func (m *instruments) submitted(ctx context.Context, o submitOutcome, d time.Duration) {
	m.submits.Add(ctx, 1, m.submitAdd[o]...)
	m.submitTime.Record(ctx, d.Seconds(), m.submitRec[o]...)
}

// checked counts the outcome of each check of a reconcile pass.
func (m *instruments) checked(ctx context.Context, cs []check) {
	var n [checkOutcomes]int64
	for i := range cs {
		n[cs[i].outcome()]++
	}
	for o, k := range n {
		if k > 0 {
			m.checks.Add(ctx, k, m.checkAdd[o]...)
		}
	}
}

// settled records a settlement this Service applied.
func (m *instruments) settled(ctx context.Context, tx Transaction, at time.Time) {
	m.timeToFinal.Record(ctx, at.Sub(tx.CreatedAt).Seconds(), m.finalRec[tx.Status]...)
}

// replaced counts a new attempt: a fee bump, or a cancel.
func (m *instruments) replaced(ctx context.Context, cancel bool) {
	if cancel {
		m.cancels.Add(ctx, 1)
	} else {
		m.bumps.Add(ctx, 1)
	}
}

// signed counts one signature by a signer that does I/O.
func (m *instruments) signed(ctx context.Context, err error) {
	r := "ok"
	switch {
	case errors.Is(err, ErrSignerMismatch):
		r = "mismatch"
	case errors.Is(err, context.DeadlineExceeded):
		r = "timeout"
	case err != nil:
		r = "error"
	}
	m.signatures.Add(ctx, 1, m.signAdd[r]...)
}

func (m *instruments) relayedEvents(ctx context.Context, n int) { m.relayed.Add(ctx, int64(n)) }

func (m *instruments) parked(ctx context.Context) { m.parks.Add(ctx, 1) }

func (m *instruments) cacheLookup(ctx context.Context, hit bool) {
	if hit {
		m.cacheLookups.Add(ctx, 1, m.hit...)
	} else {
		m.cacheLookups.Add(ctx, 1, m.miss...)
	}
}

// observer is what the gauges read at collection time. It holds no
// reference to the Service, so that a Service no longer in use can be
// collected, which unregisters its gauges (see observe).
type observer struct {
	m       *instruments
	store   Store
	wallets []observedWallet
	queue   QueueInspector // nil if the Queue has no Stats
	queues  []queueAttrs
}

// observedWallet is one hot wallet as the gauges see it.
type observedWallet struct {
	w    *wallet
	opts []metric.ObserveOption
}

// queueAttrs are the measurement options of one queue's gauges.
type queueAttrs struct {
	name                             string
	ready, delayed, inFlight, queued []metric.ObserveOption
}

func obsOpts(kv ...attribute.KeyValue) []metric.ObserveOption {
	return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// observe registers the gauges' callback with mp for as long as s is in
// use: a Service has no Close, so the registration ends when s is garbage
// collected.
func (s *Service) observe(mp metric.MeterProvider) error {
	o := &observer{m: s.m, store: s.store}
	for _, w := range s.wallets {
		o.wallets = append(o.wallets, observedWallet{w: w, opts: obsOpts(attribute.String("wallet", w.addr.Hex()))})
	}
	if qi, ok := s.cfg.Queue.(QueueInspector); ok {
		o.queue = qi
		for _, q := range append([]string{s.cfg.QueueName}, s.cfg.EventQueues...) {
			name := attribute.String("queue", q)
			o.queues = append(o.queues, queueAttrs{
				name:     q,
				ready:    obsOpts(name, attribute.String("state", "ready")),
				delayed:  obsOpts(name, attribute.String("state", "delayed")),
				inFlight: obsOpts(name, attribute.String("state", "in_flight")),
				queued:   obsOpts(name),
			})
		}
	}
	reg, err := mp.Meter(scope).RegisterCallback(o.observe,
		s.m.pending, s.m.parkedNow, s.m.oldestAge, s.m.nonceGap, s.m.inRotation, s.m.queueDepth, s.m.deadLetters)
	if err != nil {
		return err
	}
	runtime.AddCleanup(s, func(r metric.Registration) { _ = r.Unregister() }, reg)
	return nil
}

// observe reads every gauge's source concurrently, each under
// observeTimeout. A source that fails records nothing: a gap in the series
// says more than a made-up value.
func (o *observer) observe(ctx context.Context, obs metric.Observer) error {
	parallel(len(o.queues)+1, func(i int) {
		if i == len(o.queues) {
			o.observeLedger(ctx, obs)
		} else {
			o.observeQueue(ctx, obs, o.queues[i])
		}
	})
	return nil
}

// observeLedger observes the store's open work and, for each of this
// Service's wallets, its nonce gap and whether it is in rotation. Other
// wallets in the store have no finalized nonce this Service can read.
func (o *observer) observeLedger(ctx context.Context, obs metric.Observer) {
	ctx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	var ov Overview
	var oerr error
	finals := make([]uint64, len(o.wallets))
	ferrs := make([]error, len(o.wallets))
	parallel(len(o.wallets)+1, func(i int) {
		if i == len(o.wallets) {
			ov, oerr = o.store.Overview(ctx)
		} else {
			finals[i], ferrs[i] = o.wallets[i].w.chain.FinalizedNonce(ctx)
		}
	})
	for _, ow := range o.wallets {
		in, _ := ow.w.rotation()
		obs.ObserveInt64(o.m.inRotation, boolInt(in), ow.opts...)
	}
	if oerr != nil {
		return
	}
	obs.ObserveInt64(o.m.pending, ov.Pending)
	obs.ObserveInt64(o.m.parkedNow, ov.Parked)
	age := 0.0
	if !ov.OldestPending.IsZero() {
		age = max(time.Since(ov.OldestPending).Seconds(), 0)
	}
	obs.ObserveFloat64(o.m.oldestAge, age)
	for _, wn := range ov.Wallets {
		for i, ow := range o.wallets {
			if wn.Sender == ow.w.addr && ferrs[i] == nil {
				obs.ObserveInt64(o.m.nonceGap, int64(wn.Next)-int64(finals[i]), ow.opts...)
			}
		}
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (o *observer) observeQueue(ctx context.Context, obs metric.Observer, q queueAttrs) {
	ctx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	st, err := o.queue.Stats(ctx, q.name)
	if err != nil {
		return
	}
	obs.ObserveInt64(o.m.queueDepth, int64(st.Ready), q.ready...)
	obs.ObserveInt64(o.m.queueDepth, int64(st.Delayed), q.delayed...)
	obs.ObserveInt64(o.m.queueDepth, int64(st.InFlight), q.inFlight...)
	obs.ObserveInt64(o.m.deadLetters, int64(st.Dead), q.queued...)
}
