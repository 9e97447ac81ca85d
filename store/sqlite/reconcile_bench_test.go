//go:build unix

package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// rttChain is instantChain whose reads cost a round trip: every Statuses
// call (one JSON-RPC batch, however many hashes it carries) and every
// FinalizedNonce call sleeps rtt, then reports each transaction final and
// successful.
type rttChain struct {
	*instantChain
	rtt time.Duration
}

func (c *rttChain) Statuses(ctx context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	time.Sleep(c.rtt)
	out := make([]consolidate.ChainStatus, len(hashes))
	for i := range out {
		out[i] = consolidate.ChainStatus{
			State: consolidate.TxFinal, Success: true, BlockNumber: 1, BlockHash: common.HexToHash("0xb1"),
			Fee: big.NewInt(21_000_000_000_000), Confirmations: 1,
		}
	}
	return out, nil
}

func (c *rttChain) FinalizedNonce(context.Context) (uint64, error) {
	time.Sleep(c.rtt)
	return 0, nil
}

// quotedChain is a real chain whose quotes are fixed, so that setting up a
// benchmark costs no fee lookups.
type quotedChain struct {
	*chain.Chain
	quote consolidate.Quote
}

func (c *quotedChain) Quote(context.Context, consolidate.Transfer) (consolidate.Quote, error) {
	return c.quote, nil
}

// BenchmarkReconcile measures how fast Run's workers settle transfers
// that are final on the chain: b.N PENDING transfers are submitted first,
// then the timer runs from Run's start until the queue is empty. Each
// sub-benchmark is run with ReconcileBatch=1 (one task, one Statuses call,
// one settle at a time per worker) and ReconcileBatch=64, with the default
// 4 workers. Besides settles/s it reports the CPU time of the process per
// settle. On chain=rtt the chain answers after a 1 ms round trip per
// call; on chain=sim it is go-ethereum's in-process node reached over
// JSON-RPC on a local socket, which serves each Statuses call as batch
// calls.
func BenchmarkReconcile(b *testing.B) {
	for _, c := range []struct {
		name  string
		chain func(*testing.B) (consolidate.Chain, func(n int))
	}{
		{"chain=rtt", rttBenchChain},
		{"chain=sim", simBenchChain},
	} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/ReconcileBatch=%d", c.name, batch), func(b *testing.B) {
				ch, mined := c.chain(b)
				benchReconcile(b, ch, mined, batch)
			})
		}
	}
}

func rttBenchChain(b *testing.B) (consolidate.Chain, func(int)) {
	sim := chaintest.NewT(b, nil)
	real, err := sim.NewChain(nil)
	if err != nil {
		b.Fatal(err)
	}
	q, err := real.Quote(b.Context(), consolidate.Transfer{To: common.HexToAddress("0x02"), Amount: big.NewInt(1)})
	if err != nil {
		b.Fatal(err)
	}
	return &rttChain{instantChain: &instantChain{Chain: real, quote: q}, rtt: time.Millisecond}, func(int) {}
}

// simBenchChain returns the in-process node's chain and a function that
// mines until the n transfers submitted so far are in blocks.
func simBenchChain(b *testing.B) (consolidate.Chain, func(int)) {
	sim := chaintest.NewT(b, &chaintest.Options{ServeIPC: true})
	real, err := chain.Dial(b.Context(), sim.Endpoint(), sim.Key(), &chain.Options{Confirmations: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { real.Close() })
	q, err := real.Quote(b.Context(), consolidate.Transfer{To: common.HexToAddress("0x02"), Amount: big.NewInt(1)})
	if err != nil {
		b.Fatal(err)
	}
	mine := func(n int) {
		for {
			mined, err := sim.Client().NonceAt(b.Context(), sim.Sender(), nil)
			if err != nil {
				b.Fatal(err)
			}
			if mined >= uint64(n) {
				return
			}
			sim.Commit()
		}
	}
	return &quotedChain{Chain: real, quote: q}, mine
}

// submitChunk bounds the transfers submitted before they are mined, below
// the node's pool limits.
const submitChunk = 512

func benchReconcile(b *testing.B, ch consolidate.Chain, mined func(n int), batch int) {
	store, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	queue := consolidate.NewMemoryQueue()
	svc, err := consolidate.New(store, ch, &consolidate.Config{
		Queue: queue, ReconcileBatch: batch, PollInterval: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	const submitters = 64
	accts := make([]int64, submitters)
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
	for done := 0; done < b.N; {
		n := min(submitChunk, b.N-done)
		var next atomic.Int64
		var wg sync.WaitGroup
		for _, acct := range accts {
			wg.Go(func() {
				req := consolidate.SubmitRequest{AccountID: acct, To: common.HexToAddress("0x02"), Amount: big.NewInt(1)}
				for next.Add(1) <= int64(n) {
					if _, err := svc.Submit(b.Context(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			return
		}
		done += n
		mined(done)
	}

	ctx, cancel := context.WithCancel(b.Context())
	stopped := make(chan struct{})
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	go func() {
		defer close(stopped)
		svc.Run(ctx)
	}()
	for {
		s, err := queue.Stats(b.Context(), "reconcile")
		if err != nil {
			b.Fatal(err)
		}
		if s.Ready+s.Delayed+s.InFlight == 0 {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	cancel()
	<-stopped
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "settles/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/settle")

	// Every transfer settled: nothing is held any more.
	for _, id := range accts {
		a, err := svc.Account(b.Context(), id)
		if err != nil {
			b.Fatal(err)
		}
		if a.Available.Cmp(a.Current) != 0 {
			b.Fatalf("account %d: available %s, current %s after the run", id, a.Available, a.Current)
		}
	}
}

// cpuTime is the user and system CPU time the process has used, which a
// busy machine disturbs less than wall time. With chain=sim it includes
// the node's.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
