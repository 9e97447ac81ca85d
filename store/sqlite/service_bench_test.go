package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// instantChain signs for real but quotes from a fixed quote and accepts
// every broadcast at once, so a benchmark measures the library and the
// disk rather than a node.
type instantChain struct {
	*chain.Chain
	quote consolidate.Quote
}

func (c *instantChain) Quote(context.Context, consolidate.Transfer) (consolidate.Quote, error) {
	return c.quote, nil
}

func (c *instantChain) Broadcast(context.Context, []byte) error { return nil }

// benchService is a Service on a SQLite file with in-process backends and
// one account funded for any number of transfers.
func benchService(b *testing.B, opts *sqlite.Options) (*consolidate.Service, int64) {
	b.Helper()
	return benchServiceConfig(b, opts, consolidate.Config{})
}

// benchServiceConfig is benchService with cfg, whose Logger it sets.
func benchServiceConfig(b *testing.B, opts *sqlite.Options, cfg consolidate.Config) (*consolidate.Service, int64) {
	b.Helper()
	return benchServiceChain(b, opts, cfg, nil)
}

// benchServiceChain is benchServiceConfig with the chain wrap makes of
// the instant chain, if wrap is set.
func benchServiceChain(b *testing.B, opts *sqlite.Options, cfg consolidate.Config, wrap func(*instantChain) consolidate.Chain) (*consolidate.Service, int64) {
	b.Helper()
	store, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	sim := chaintest.NewT(b, nil)
	real, err := sim.NewChain(nil)
	if err != nil {
		b.Fatal(err)
	}
	q, err := real.Quote(b.Context(), consolidate.Transfer{To: common.HexToAddress("0x02"), Amount: big.NewInt(1)})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	var ch consolidate.Chain = &instantChain{Chain: real, quote: q}
	if wrap != nil {
		ch = wrap(ch.(*instantChain))
	}
	svc, err := consolidate.New(store, ch, &cfg)
	if err != nil {
		b.Fatal(err)
	}
	acct, err := svc.CreateAccount(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Credit(b.Context(), acct.ID, new(big.Int).Lsh(big.NewInt(1), 200), "fund"); err != nil {
		b.Fatal(err)
	}
	return svc, acct.ID
}

// BenchmarkSubmit is one Service.Submit after another: validation, account
// lock, real secp256k1 signing, one durable SQLite commit, cache fill and
// enqueue. Compare with BenchmarkRawCommit, a bare single-row commit on the
// same kind of file.
func BenchmarkSubmit(b *testing.B) {
	svc, acct := benchService(b, nil)
	req := consolidate.SubmitRequest{AccountID: acct, To: common.HexToAddress("0x02"), Amount: big.NewInt(1)}
	for b.Loop() {
		if _, err := svc.Submit(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitTelemetry is BenchmarkSubmit with an OpenTelemetry SDK
// installed, every span sampled and exported in batches to an exporter
// that drops them: the cost of recording, against BenchmarkSubmit's no-op
// default.
func BenchmarkSubmitTelemetry(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	svc, acct := benchServiceConfig(b, &sqlite.Options{MeterProvider: mp}, consolidate.Config{MeterProvider: mp, TracerProvider: tp})
	req := consolidate.SubmitRequest{AccountID: acct, To: common.HexToAddress("0x02"), Amount: big.NewInt(1)}
	for b.Loop() {
		if _, err := svc.Submit(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitParallel is BenchmarkSubmit from 32 goroutines per
// GOMAXPROCS (64 on 2 cores), each submitting for its own account, so
// group commit shares each fsync among the submits that arrive together.
// It reports the latency percentiles of one Submit. MaxBatch=1 is the same
// load with group commit off: one commit, one fsync per Submit.
func BenchmarkSubmitParallel(b *testing.B) {
	for _, batch := range []int{256, 1} {
		b.Run(fmt.Sprintf("MaxBatch=%d", batch), func(b *testing.B) {
			benchSubmitParallel(b, &sqlite.Options{MaxBatch: batch})
		})
	}
}

// BenchmarkSubmitParallelRemoteSigner is BenchmarkSubmitParallel at
// MaxBatch=256 with a Chain that reports signing with I/O (its signer is
// still the local key, so the figure is the library's cost, not a
// network's): each Submit reserves, signs outside the store's write,
// records the signature and sends, two commits instead of one.
func BenchmarkSubmitParallelRemoteSigner(b *testing.B) {
	benchSubmitParallelChain(b, &sqlite.Options{MaxBatch: 256}, func(c *instantChain) consolidate.Chain { return ioChain{c} })
}

// ioChain is an instantChain that does not sign offline.
type ioChain struct{ *instantChain }

func (ioChain) SignsOffline() bool { return false }

func benchSubmitParallel(b *testing.B, opts *sqlite.Options) {
	benchSubmitParallelChain(b, opts, nil)
}

func benchSubmitParallelChain(b *testing.B, opts *sqlite.Options, wrap func(*instantChain) consolidate.Chain) {
	svc, _ := benchServiceChain(b, opts, consolidate.Config{}, wrap)
	const parallelism = 32
	n := parallelism * runtime.GOMAXPROCS(0)
	accts := make([]int64, n)
	for i := range accts {
		a, err := svc.CreateAccount(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Credit(b.Context(), a.ID, new(big.Int).Lsh(big.NewInt(1), 200), "fund"); err != nil {
			b.Fatal(err)
		}
		accts[i] = a.ID
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  []time.Duration
	)
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		acct := accts[int(next.Add(1)-1)%n]
		req := consolidate.SubmitRequest{AccountID: acct, To: common.HexToAddress("0x02"), Amount: big.NewInt(1)}
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if _, err := svc.Submit(b.Context(), req); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	reportLatency(b, lat)
}

// reportLatency adds the p50, p95 and p99 of lat, in microseconds, to the
// benchmark's output.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50-µs", 0.50}, {"p95-µs", 0.95}, {"p99-µs", 0.99}} {
		b.ReportMetric(float64(lat[int(p.q*float64(len(lat)-1))].Microseconds()), p.name)
	}
}
