package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"github.com/go-consolidate/consolidate/store/storetest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestCommitMetrics writes concurrently and checks that the group
// commits' histograms account for every write exactly once.
func TestCommitMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "metrics.db"), &sqlite.Options{
		BatchWait:     20 * time.Millisecond, // writes that arrive together share a commit
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const writes = 16
	var wg sync.WaitGroup
	for range writes {
		wg.Go(func() {
			if _, err := s.CreateAccount(t.Context(), consolidate.NewAccount{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	storetest.CheckBatchMetrics(t, reader, "consolidate.sqlite.commit.writes", "consolidate.sqlite.commit.duration", writes)
}
