package postgres_test

import (
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestBatchMetrics submits concurrently and checks that the batches'
// histograms account for every Submit exactly once.
func TestBatchMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	s := open(t, database(t, semantics), &postgres.Options{
		BatchWait:     20 * time.Millisecond, // Submits that arrive together share a batch
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	const submits = 16
	accts := fund(t, s, submits, hold)
	var wg sync.WaitGroup
	for _, a := range accts {
		wg.Go(func() {
			if _, _, err := s.Submit(t.Context(), transfer(a, ""), sign); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	storetest.CheckBatchMetrics(t, reader, "consolidate.postgres.batch.submits", "consolidate.postgres.batch.duration", submits)
}
