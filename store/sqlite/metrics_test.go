package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
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

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var batch metricdata.HistogramDataPoint[int64]
	var commit metricdata.HistogramDataPoint[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[int64]:
				if m.Name == "consolidate.sqlite.commit.writes" && len(d.DataPoints) == 1 {
					batch = d.DataPoints[0]
				}
			case metricdata.Histogram[float64]:
				if m.Name == "consolidate.sqlite.commit.duration" && len(d.DataPoints) == 1 {
					commit = d.DataPoints[0]
				}
			}
		}
	}
	if batch.Sum != writes || batch.Count == 0 || batch.Count >= writes {
		t.Errorf("commit.writes: %d writes in %d commits, want %d in fewer commits", batch.Sum, batch.Count, writes)
	}
	if commit.Count != batch.Count || commit.Sum <= 0 {
		t.Errorf("commit.duration: %d commits taking %vs, want %d commits", commit.Count, commit.Sum, batch.Count)
	}
}
