// Command loadtest drives a real consolidate.Service on a SQLite file with
// many concurrent submitters while its worker reconciles, and reports
// submits/s, settles/s and submit latency.
//
//	go run ./examples/loadtest -accounts 1000 -concurrency 64 -duration 20s
//
// Transfers are signed for real by a wallet on an in-process simulated
// chain. With -chain instant (the default) the chain accepts every
// broadcast at once and reports every transaction final on the first
// status check, so the run measures the library and the disk; with
// -chain sim, broadcasts go to the simulated node, which mines a block
// every -block interval, and transactions settle once final there.
//
// The lock, cache and queue are in-process unless -redis points at a
// Redis server. The database file is created in a temporary directory
// unless -db names one; an existing file is reused, so a run can start
// with many transactions already stored. -postgres runs the ledger on a
// PostgreSQL database instead (-batch is then its MaxBatch).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/redis"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

func main() {
	var (
		accounts    = flag.Int("accounts", 1000, "number of ledger accounts submitting")
		concurrency = flag.Int("concurrency", 64, "number of concurrent submitters")
		duration    = flag.Duration("duration", 20*time.Second, "how long to submit")
		dbPath      = flag.String("db", "", "SQLite file (default: a new file in a temporary directory)")
		pgDSN       = flag.String("postgres", "", "PostgreSQL DSN of the ledger, instead of a SQLite file")
		redisURL    = flag.String("redis", "", "Redis URL for the lock, cache and queue (default: in-process)")
		chainKind   = flag.String("chain", "instant", "instant (accepts and finalizes at once) or sim (in-process node)")
		block       = flag.Duration("block", time.Second, "block interval with -chain sim")
		workers     = flag.Int("workers", 16, "reconcile workers")
		batch       = flag.Int("batch", 0, "the store's MaxBatch (0: the default)")
		verbose     = flag.Bool("v", false, "log the Service's warnings to stderr")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the run, up to the end of submitting, to this file")
	)
	flag.Parse()
	log.SetFlags(0)
	if *accounts < 1 || *concurrency < 1 || *duration <= 0 {
		log.Fatal("loadtest: -accounts, -concurrency and -duration must be positive")
	}
	if err := run(config{
		accounts: *accounts, concurrency: *concurrency, duration: *duration, dbPath: *dbPath, pgDSN: *pgDSN,
		redisURL: *redisURL, chain: *chainKind, block: *block, workers: *workers, batch: *batch,
		verbose: *verbose, cpuProfile: *cpuProfile,
	}); err != nil {
		log.Fatal("loadtest: ", err)
	}
}

type config struct {
	accounts, concurrency int
	duration              time.Duration
	dbPath, redisURL      string
	pgDSN                 string
	tmpDir                string // removed at the end of the run
	chain                 string
	block                 time.Duration
	workers, batch        int
	verbose               bool
	cpuProfile            string
}

func run(c config) error {
	ctx := context.Background()
	db, err := openStore(ctx, &c)
	if err != nil {
		return err
	}
	defer func() {
		db.Close()
		if c.tmpDir != "" {
			os.RemoveAll(c.tmpDir)
		}
	}()
	store := &countingStore{ledger: db}

	sim, err := chaintest.New(nil)
	if err != nil {
		return err
	}
	defer sim.Close()
	real, err := sim.NewChain(nil)
	if err != nil {
		return err
	}
	var ch consolidate.Chain = real
	switch c.chain {
	case "instant":
		q, err := real.Quote(ctx, consolidate.Transfer{To: common.HexToAddress("0x02"), Amount: big.NewInt(1)})
		if err != nil {
			return err
		}
		ch = &instantChain{Chain: real, quote: q}
	case "sim":
		mctx, stop := context.WithCancel(ctx)
		defer stop()
		sim.AutoMine(mctx, c.block)
	default:
		return fmt.Errorf("-chain %q: want instant or sim", c.chain)
	}

	cfg := &consolidate.Config{Workers: c.workers}
	logOut := io.Discard
	if c.verbose {
		logOut = os.Stderr
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if c.redisURL != "" {
		opt, err := goredis.ParseURL(c.redisURL)
		if err != nil {
			return errors.New("-redis: want redis://[user:password@]host:port[/db]")
		}
		cl := goredis.NewClient(opt)
		defer cl.Close()
		if err := cl.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis at %s: %w", opt.Addr, err)
		}
		cfg.Locker = redis.NewLocker(cl, nil)
		cfg.Cache = redis.NewCache(cl, nil)
		cfg.Queue = redis.NewQueue(cl, nil)
	}
	svc, err := consolidate.New(store, ch, cfg)
	if err != nil {
		return err
	}

	ids := make([]int64, c.accounts)
	for i := range ids {
		a, err := svc.CreateAccount(ctx)
		if err != nil {
			return err
		}
		if _, err := svc.Credit(ctx, a.ID, new(big.Int).Lsh(big.NewInt(1), 200), "loadtest"); err != nil {
			return err
		}
		ids[i] = a.ID
	}
	fmt.Printf("loadtest: %d accounts, %d submitters, %v, chain %s, db %s\n",
		c.accounts, c.concurrency, c.duration, c.chain, c.dbPath)

	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	wctx, stopWorker := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(wctx) })

	var (
		submits, failures atomic.Int64
		lats              = make([][]time.Duration, c.concurrency)
		sctx, stop        = context.WithTimeout(ctx, c.duration)
		subs              sync.WaitGroup
		firstErr          atomic.Value
	)
	defer stop()
	start := time.Now()
	for g := range c.concurrency {
		subs.Go(func() {
			to := common.HexToAddress("0x02")
			for i := g; sctx.Err() == nil; i += c.concurrency {
				req := consolidate.SubmitRequest{AccountID: ids[i%len(ids)], To: to, Amount: big.NewInt(1)}
				t0 := time.Now()
				_, err := svc.Submit(sctx, req)
				switch {
				case err == nil:
					submits.Add(1)
					lats[g] = append(lats[g], time.Since(t0))
				case sctx.Err() != nil:
				case errors.Is(err, consolidate.ErrAccountLocked):
					// Two submitters met on one account: fewer accounts
					// than submitters. Count it and go on.
					failures.Add(1)
				default:
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}

	tick := time.NewTicker(time.Second)
	var lastSub, lastSet int64
	done := make(chan struct{})
	go func() { subs.Wait(); close(done) }()
progress:
	for {
		select {
		case <-tick.C:
			s, st := submits.Load(), store.settles.Load()
			fmt.Printf("%5.0fs  submits/s %7d  settles/s %7d  total %8d submitted %8d settled  %d failed\n",
				time.Since(start).Seconds(), s-lastSub, st-lastSet, s, st, failures.Load())
			lastSub, lastSet = s, st
		case <-done:
			break progress
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	pprof.StopCPUProfile() // the drain below is not profiled
	// Let the worker catch up for a moment, then stop it.
	settledAtEnd := store.settles.Load()
	time.Sleep(2 * time.Second)
	stopWorker()
	wg.Wait()

	all := slices.Concat(lats...)
	slices.Sort(all)
	pct := func(q float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(q*float64(len(all)-1))]
	}
	n := submits.Load()
	fmt.Printf("\nsubmits   %d in %v: %.0f/s\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	fmt.Printf("settles   %d while submitting: %.0f/s (%d after a 2s drain)\n",
		settledAtEnd, float64(settledAtEnd)/elapsed.Seconds(), store.settles.Load())
	fmt.Printf("latency   p50 %v  p95 %v  p99 %v  max %v\n",
		pct(0.50).Round(time.Microsecond), pct(0.95).Round(time.Microsecond),
		pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	fmt.Printf("failures  %d\n", failures.Load())
	if err, ok := firstErr.Load().(error); ok {
		fmt.Printf("first error: %v\n", err)
	}
	return nil
}

// openStore opens the ledger: the PostgreSQL database c.pgDSN if set,
// else the SQLite file c.dbPath, created in a temporary directory (and
// named in c.dbPath) if empty.
func openStore(ctx context.Context, c *config) (ledger, error) {
	if c.pgDSN != "" {
		c.dbPath = "PostgreSQL"
		s, err := postgres.Open(ctx, c.pgDSN, &postgres.Options{MaxBatch: c.batch})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	if c.dbPath == "" {
		dir, err := os.MkdirTemp("", "loadtest")
		if err != nil {
			return nil, err
		}
		c.dbPath = filepath.Join(dir, "loadtest.db")
		c.tmpDir = dir
	}
	s, err := sqlite.Open(c.dbPath, &sqlite.Options{MaxBatch: c.batch})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ledger is what both stores are: a Store that reads a reconcile pass's
// transfers in one batch.
type ledger interface {
	consolidate.Store
	consolidate.BatchReader
}

// countingStore counts successful settles. Its embedded ledger keeps the
// store's batch reads visible to the Service, as a wrapper must.
type countingStore struct {
	ledger
	settles atomic.Int64
}

func (s *countingStore) Settle(ctx context.Context, id int64, st consolidate.Settlement) (consolidate.Transaction, error) {
	t, err := s.ledger.Settle(ctx, id, st)
	if err == nil {
		s.settles.Add(1)
	}
	return t, err
}

// instantChain signs for real but quotes a fixed quote, accepts every
// broadcast at once and reports every transaction final and successful.
type instantChain struct {
	*chain.Chain
	quote consolidate.Quote
}

func (c *instantChain) Quote(context.Context, consolidate.Transfer) (consolidate.Quote, error) {
	return c.quote, nil
}

func (c *instantChain) Nonce(context.Context) (uint64, error) { return 0, nil }

func (c *instantChain) Broadcast(context.Context, []byte) error { return nil }

func (c *instantChain) Statuses(_ context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	sts := make([]consolidate.ChainStatus, len(hashes))
	for i := range sts {
		sts[i] = consolidate.ChainStatus{
			State: consolidate.TxFinal, Success: true, BlockNumber: 1,
			BlockHash: common.Hash{1}, Fee: big.NewInt(21_000), Confirmations: 64,
		}
	}
	return sts, nil
}
