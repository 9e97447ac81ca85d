package storetest

import (
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// CheckBatchMetrics collects reader and checks a store's group-commit
// histograms: the one named size must account for want writes, in fewer
// batches than writes (they were sent together), and the one named
// duration must have one positive sample per batch.
func CheckBatchMetrics(t *testing.T, reader *sdkmetric.ManualReader, size, duration string, want int) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var batch metricdata.HistogramDataPoint[int64]
	var took metricdata.HistogramDataPoint[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[int64]:
				if m.Name == size && len(d.DataPoints) == 1 {
					batch = d.DataPoints[0]
				}
			case metricdata.Histogram[float64]:
				if m.Name == duration && len(d.DataPoints) == 1 {
					took = d.DataPoints[0]
				}
			}
		}
	}
	if batch.Sum != int64(want) || batch.Count == 0 || batch.Count >= uint64(want) {
		t.Errorf("%s: %d writes in %d batches, want %d in fewer batches", size, batch.Sum, batch.Count, want)
	}
	if took.Count != batch.Count || took.Sum <= 0 {
		t.Errorf("%s: %d batches taking %vs, want %d batches", duration, took.Count, took.Sum, batch.Count)
	}
}
