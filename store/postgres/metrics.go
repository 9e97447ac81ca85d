package postgres

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// scope names the instrumentation scope of the store's metrics.
const scope = "github.com/go-consolidate/consolidate/store/postgres"

// instruments are the committer's metrics (see "Metrics" in the package
// documentation).
type instruments struct {
	submits  metric.Int64Histogram
	duration metric.Float64Histogram
	retries  metric.Int64Counter
}

// newInstruments creates the instruments on mp. One the provider cannot
// create records nothing, and the error goes to the global OpenTelemetry
// error handler: metrics never stop a Store from opening.
func newInstruments(mp metric.MeterProvider) *instruments {
	m := mp.Meter(scope)
	in := &instruments{submits: noop.Int64Histogram{}, duration: noop.Float64Histogram{}, retries: noop.Int64Counter{}}
	if h, err := m.Int64Histogram("consolidate.postgres.batch.submits",
		metric.WithUnit("{submit}"),
		metric.WithDescription("Submits decided together in one PostgreSQL transaction (group commit)."),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)); err == nil {
		in.submits = h
	} else {
		otel.Handle(err)
	}
	if h, err := m.Float64Histogram("consolidate.postgres.batch.duration",
		metric.WithUnit("s"),
		metric.WithDescription("How long one batch took, from taking a connection to the COMMIT's answer."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)); err == nil {
		in.duration = h
	} else {
		otel.Handle(err)
	}
	if c, err := m.Int64Counter("consolidate.postgres.batch.retries",
		metric.WithUnit("{batch}"),
		metric.WithDescription("Batches run again whole after PostgreSQL rolled them back as a deadlock victim or a serialization failure.")); err == nil {
		in.retries = c
	} else {
		otel.Handle(err)
	}
	return in
}

// ran records one run of a batch of n Submits that took d. The batch is
// no caller's, so there is no caller's context to record with.
func (m *instruments) ran(n int, d time.Duration) {
	ctx := context.Background()
	m.submits.Record(ctx, int64(n))
	m.duration.Record(ctx, d.Seconds())
}

// retried records a batch run again.
func (m *instruments) retried() { m.retries.Add(context.Background(), 1) }
