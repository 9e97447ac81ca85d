package sqlite

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// scope names the instrumentation scope of the store's metrics.
const scope = "github.com/go-consolidate/consolidate/store/sqlite"

// instruments are the committer's metrics (see "Metrics" in the package
// documentation).
type instruments struct {
	batch  metric.Int64Histogram
	commit metric.Float64Histogram
}

// newInstruments creates the instruments on mp. One the provider cannot
// create records nothing, and the error goes to the global OpenTelemetry
// error handler: metrics never stop a Store from opening.
func newInstruments(mp metric.MeterProvider) *instruments {
	m := mp.Meter(scope)
	batch, err := m.Int64Histogram("consolidate.sqlite.commit.writes",
		metric.WithUnit("{write}"),
		metric.WithDescription("Writes committed together in one SQLite transaction (group commit)."),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
	if err != nil {
		otel.Handle(err)
	}
	if batch == nil {
		batch = noop.Int64Histogram{}
	}
	commit, err := m.Float64Histogram("consolidate.sqlite.commit.duration",
		metric.WithUnit("s"),
		metric.WithDescription("How long one group commit took, from BEGIN to the end of COMMIT's fsync."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	if err != nil {
		otel.Handle(err)
	}
	if commit == nil {
		commit = noop.Float64Histogram{}
	}
	return &instruments{batch: batch, commit: commit}
}

// committed records one group commit of n writes that took d. The batch
// is no caller's, so there is no caller's context to record with.
func (m *instruments) committed(n int, d time.Duration) {
	ctx := context.Background()
	m.batch.Record(ctx, int64(n))
	m.commit.Record(ctx, d.Seconds())
}
