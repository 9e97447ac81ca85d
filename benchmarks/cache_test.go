package benchmarks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/redis"
	"github.com/go-consolidate/consolidate/store/sqlite"
	goredis "github.com/redis/go-redis/v9"
)

// cachedTransactions is how many transactions the cache benchmarks read
// in turn: enough that reads do not all hit one row, few enough that the
// fixture is built in about a second.
const cachedTransactions = 2000

// ledger is a Service on a SQLite file and a redis.Cache on the shared
// server, holding cachedTransactions transactions. It is built once per
// run and kept to the end of it.
type ledger struct {
	svc   *consolidate.Service
	store *sqlite.Store
	rdb   *goredis.Client
	ids   []int64
}

var (
	ledgerOnce sync.Once
	theLedger  *ledger
	ledgerErr  error
	ledgerDone []func() // run by TestMain after the benchmarks
)

// instantChain signs for real but quotes a fixed quote and accepts every
// broadcast, so building the fixture needs no mining.
type instantChain struct {
	*chain.Chain
	quote consolidate.Quote
}

func (c *instantChain) Quote(context.Context, consolidate.Transfer) (consolidate.Quote, error) {
	return c.quote, nil
}

func (c *instantChain) Broadcast(context.Context, []byte) error { return nil }

func getLedger(b *testing.B) *ledger {
	b.Helper()
	if redisAddr == "" {
		b.Skip("no Redis server")
	}
	ledgerOnce.Do(func() { theLedger, ledgerErr = newLedger() })
	if ledgerErr != nil {
		b.Fatal(ledgerErr)
	}
	return theLedger
}

func newLedger() (*ledger, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "consolidate-bench-ledger")
	if err != nil {
		return nil, err
	}
	ledgerDone = append(ledgerDone, func() { os.RemoveAll(dir) })
	store, err := sqlite.Open(filepath.Join(dir, "ledger.db"), nil)
	if err != nil {
		return nil, err
	}
	ledgerDone = append(ledgerDone, func() { store.Close() })
	sim, err := chaintest.New(nil)
	if err != nil {
		return nil, err
	}
	ledgerDone = append(ledgerDone, func() { sim.Close() })
	real, err := sim.NewChain(nil)
	if err != nil {
		return nil, err
	}
	to := common.HexToAddress("0x02")
	quote, err := real.Quote(ctx, consolidate.Transfer{To: to, Amount: big.NewInt(1)})
	if err != nil {
		return nil, err
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	ledgerDone = append(ledgerDone, func() { rdb.Close() })
	svc, err := consolidate.New(store, &instantChain{Chain: real, quote: quote}, &consolidate.Config{
		Cache:  redis.NewCache(rdb, nil),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}

	// Several accounts submitting at once share group commits, which
	// keeps the set-up short.
	const accounts = 16
	ids := make([]int64, cachedTransactions)
	var wg sync.WaitGroup
	errs := make(chan error, accounts)
	for a := range accounts {
		acct, err := svc.CreateAccount(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := svc.Credit(ctx, acct.ID, new(big.Int).Lsh(big.NewInt(1), 200), "fund"); err != nil {
			return nil, err
		}
		wg.Go(func() {
			req := consolidate.SubmitRequest{AccountID: acct.ID, To: to, Amount: big.NewInt(1)}
			for i := a; i < len(ids); i += accounts {
				tx, err := svc.Submit(ctx, req)
				if err != nil {
					errs <- err
					return
				}
				ids[i] = tx.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("fill ledger: %w", err)
	}
	return &ledger{svc: svc, store: store, rdb: rdb, ids: ids}, nil
}

// BenchmarkGet measures one Get of a transaction, one at a time, cycling
// over cachedTransactions IDs:
//
//   - store: the bare sqlite Store.Transaction, no cache;
//   - hit: Service.Get with every transaction in the Redis cache (one
//     HMGET);
//   - miss: Service.Get with the cache empty: the HMGET that misses, a
//     second one inside the single-flight group (another Get may have
//     just filled it), the store read and the fill script.
func BenchmarkGet(b *testing.B) {
	b.Run("store", func(b *testing.B) {
		l := getLedger(b)
		benchGet(b, l, nil, func(ctx context.Context, id int64) error {
			_, err := l.store.Transaction(ctx, id)
			return err
		})
	})
	b.Run("cache-hit", func(b *testing.B) {
		l := getLedger(b)
		benchGet(b, l, l.fillAll, l.get)
	})
	b.Run("cache-miss", func(b *testing.B) {
		l := getLedger(b)
		benchGet(b, l, l.flush, l.get)
	})
}

func (l *ledger) get(ctx context.Context, id int64) error {
	_, err := l.svc.Get(ctx, id)
	return err
}

func (l *ledger) flush(b *testing.B) {
	if err := l.rdb.FlushDB(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
}

func (l *ledger) fillAll(b *testing.B) {
	for _, id := range l.ids {
		if err := l.get(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
}

// benchGet runs get over the ledger's IDs in turn, calling prepare with
// the clock stopped before each pass over them. It reports the p50 and
// p99 latency of one call.
func benchGet(b *testing.B, l *ledger, prepare func(*testing.B), get func(context.Context, int64) error) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		if i%len(l.ids) == 0 && prepare != nil {
			b.StopTimer()
			prepare(b)
			b.StartTimer()
		}
		start := time.Now()
		if err := get(ctx, l.ids[i%len(l.ids)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Nanoseconds())/1e3, "p99-µs")
}
