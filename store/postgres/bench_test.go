package postgres_test

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
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"github.com/go-consolidate/consolidate/store/storetest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// instantChain signs for real but quotes from a fixed quote and accepts
// every broadcast at once, so a benchmark measures the library and the
// database rather than a node.
type instantChain struct {
	*chain.Chain
	quote consolidate.Quote
}

func (c *instantChain) Quote(context.Context, consolidate.Transfer) (consolidate.Quote, error) {
	return c.quote, nil
}

func (c *instantChain) Broadcast(context.Context, []byte) error { return nil }

// benchParallelism is the submitters per GOMAXPROCS: 64 on 2 cores.
const benchParallelism = 32

// BenchmarkSubmitParallel is Service.Submit from 32 goroutines per
// GOMAXPROCS, each for its own account, on one PostgreSQL server with
// fsync and synchronous_commit on: with group commit (MaxBatch=256) and
// without (MaxBatch=1). In the same run, as baselines: the same load on
// a SQLite file, and a bare single-row INSERT and commit from as many
// goroutines on the same server. It reports latency percentiles.
func BenchmarkSubmitParallel(b *testing.B) {
	srv := pgtest.Start(b, nil)
	for _, batch := range []int{256, 1} {
		b.Run(fmt.Sprintf("store=postgres/MaxBatch=%d", batch), func(b *testing.B) {
			s, err := postgres.Open(b.Context(), srv.CreateDatabase(b), &postgres.Options{MaxBatch: batch})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			benchSubmit(b, s)
		})
	}
	b.Run("store=sqlite", func(b *testing.B) {
		s, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		benchSubmit(b, s)
	})
	b.Run("baseline=insert-commit", func(b *testing.B) {
		benchRawCommit(b, srv.CreateDatabase(b))
	})
}

// BenchmarkBatchRead reads a reconcile pass's 64 transfers one by one and
// in one batch, over loopback; see storetest.BenchBatchRead.
func BenchmarkBatchRead(b *testing.B) {
	srv := pgtest.Start(b, nil)
	s, err := postgres.Open(b.Context(), srv.CreateDatabase(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	storetest.BenchBatchRead(b, s)
}

// benchSubmit measures Service.Submit on store from
// benchParallelism×GOMAXPROCS goroutines, each with its own account.
func benchSubmit(b *testing.B, store consolidate.Store) {
	sim := chaintest.NewT(b, nil)
	real, err := sim.NewChain(nil)
	if err != nil {
		b.Fatal(err)
	}
	to := common.HexToAddress("0x02")
	q, err := real.Quote(b.Context(), consolidate.Transfer{To: to, Amount: big.NewInt(1)})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := consolidate.New(store, &instantChain{Chain: real, quote: q}, &consolidate.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	n := benchParallelism * runtime.GOMAXPROCS(0)
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
	var next atomic.Int64
	runParallel(b, func() func() error {
		req := consolidate.SubmitRequest{AccountID: accts[int(next.Add(1)-1)%n], To: to, Amount: big.NewInt(1)}
		return func() error {
			_, err := svc.Submit(b.Context(), req)
			return err
		}
	})
}

// benchRawCommit measures the cheapest durable write there is on the
// server: one single-row INSERT, committed on its own.
func benchRawCommit(b *testing.B, dsn string) {
	pool, err := pgxpool.New(b.Context(), dsn+"&pool_max_conns=16")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(b.Context(), `CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v NUMERIC(78,0) NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	runParallel(b, func() func() error {
		return func() error {
			_, err := pool.Exec(b.Context(), `INSERT INTO t (v) VALUES ($1::numeric)`, "1000")
			return err
		}
	})
}

// runParallel runs the operations newOp makes, one per goroutine, from
// benchParallelism×GOMAXPROCS goroutines, and reports the p50, p95 and
// p99 latencies of one operation in microseconds.
func runParallel(b *testing.B, newOp func() func() error) {
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		op := newOp()
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := op(); err != nil {
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
