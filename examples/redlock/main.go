// Command redlock runs consolidate with its account lock on Redlock: a lock
// is held when a majority of independent Redis nodes granted it, so the
// lock keeps working while a minority of them is down.
//
//	go run ./examples/redlock                                   # starts three redis-server processes itself
//	go run ./examples/redlock -nodes 10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379
//
// It sends concurrent submits for one account (at most one holds the lock
// at a time; the others are refused at once with ErrAccountLocked, and when
// they split the nodes' votes so that none has a majority, all of them are:
// safe, and the caller retries), then, on nodes it started, stops one
// node (submits still go through on a quorum of two) and a second one
// (submits fail closed with ErrLockUnavailable and change nothing), and
// finally lets the worker settle everything that was accepted. The ledger
// is a SQLite file and the chain an in-process one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/redis"
	"github.com/go-consolidate/consolidate/store/sqlite"
	goredis "github.com/redis/go-redis/v9"
)

func main() {
	nodes := flag.String("nodes", "", "comma-separated host:port of independent Redis nodes; empty starts three local redis-server processes")
	flag.Parse()
	if err := demo(context.Background(), splitNodes(*nodes), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redlock:", err)
		os.Exit(1)
	}
}

func splitNodes(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// node is one Redis node of the demo. stop takes it down as a crash would;
// it is nil for nodes given on the command line, which are only used.
type node struct {
	addr string
	stop func()
}

// demo runs the demo on the nodes at addrs, or on three redis-server
// processes it starts when there are none.
func demo(ctx context.Context, addrs []string, out io.Writer) error {
	var nodes []node
	for _, a := range addrs {
		nodes = append(nodes, node{addr: a})
	}
	if len(nodes) > 0 {
		return run(ctx, nodes, out)
	}
	dir, err := os.MkdirTemp("", "consolidate-redlock-nodes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i := range 3 {
		s, err := startServer(filepath.Join(dir, fmt.Sprintf("node%d", i)))
		if err != nil {
			return err
		}
		defer s.stop()
		nodes = append(nodes, node{addr: s.addr, stop: s.stop})
	}
	return run(ctx, nodes, out)
}

func run(ctx context.Context, nodes []node, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "consolidate-redlock-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	if len(nodes) < 3 {
		return fmt.Errorf("Redlock needs at least three independent nodes, got %d", len(nodes))
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
	}
	clients := make([]goredis.UniversalClient, len(addrs))
	for i, a := range addrs {
		// No retries and short timeouts: a node that is down should cost a
		// lock attempt little, since a quorum of the others decides.
		c := goredis.NewClient(&goredis.Options{
			Addr: a, MaxRetries: -1, DialerRetries: 1,
			DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		})
		defer c.Close()
		clients[i] = c
	}
	locker := redis.NewRedlock(clients, nil)

	store, err := sqlite.Open(filepath.Join(dir, "ledger.db"), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	sim, err := chaintest.New(nil)
	if err != nil {
		return err
	}
	defer sim.Close()
	ch, err := sim.NewChain(&chain.Options{Confirmations: 2})
	if err != nil {
		return err
	}
	svc, err := consolidate.New(store, ch, &consolidate.Config{
		Locker:       locker,
		Backoff:      consolidate.Backoff{Base: 200 * time.Millisecond, Max: time.Second},
		PollInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	acct, err := svc.CreateAccount(ctx)
	if err != nil {
		return err
	}
	if _, err := svc.Credit(ctx, acct.ID, big.NewInt(1e18), "deposit-1"); err != nil {
		return err
	}
	fmt.Fprintf(out, "Redlock over %d nodes (quorum %d): %s\n", len(addrs), len(addrs)/2+1, strings.Join(addrs, ", "))

	to := common.HexToAddress("0x1111111111111111111111111111111111111111")
	amount := big.NewInt(1e15)
	var accepted []consolidate.Transaction
	submit := func() (consolidate.Transaction, error) {
		return svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: to, Amount: amount})
	}

	// Eight submits for one account at once: while one holds the lock the
	// others are refused at once instead of queueing behind it. Whether one
	// of them wins depends on how the nodes' votes split.
	const racers = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		locked int
		other  error
	)
	for range racers {
		wg.Go(func() {
			tx, err := submit()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted = append(accepted, tx)
			case errors.Is(err, consolidate.ErrAccountLocked):
				locked++
			default:
				other = err
			}
		})
	}
	wg.Wait()
	if other != nil {
		return other
	}
	fmt.Fprintf(out, "%d concurrent submits for account %d: %d accepted, %d refused (account locked)\n", racers, acct.ID, len(accepted), locked)

	// Stopping two of three nodes takes the quorum away; with nodes it did
	// not start, or more of them, the demo only uses them.
	if len(nodes) == 3 && nodes[0].stop != nil && nodes[1].stop != nil {
		nodes[0].stop()
		tx, err := submit()
		if err != nil {
			return fmt.Errorf("submit with one node of three down: %w", err)
		}
		accepted = append(accepted, tx)
		fmt.Fprintf(out, "node %s stopped: submit accepted on the remaining quorum (tx %d)\n", nodes[0].addr, tx.ID)

		nodes[1].stop()
		before, err := svc.Account(ctx, acct.ID)
		if err != nil {
			return err
		}
		_, refused := submit()
		if !errors.Is(refused, consolidate.ErrLockUnavailable) {
			return fmt.Errorf("submit with two nodes of three down: got %v, want ErrLockUnavailable", refused)
		}
		after, err := svc.Account(ctx, acct.ID)
		if err != nil {
			return err
		}
		if after.Available.Cmp(before.Available) != 0 || after.Current.Cmp(before.Current) != 0 {
			return fmt.Errorf("a refused submit moved money: %+v → %+v", before, after)
		}
		fmt.Fprintf(out, "node %s stopped too: submit refused, balances unchanged\n  %v\n", nodes[1].addr, refused)
	}

	sim.AutoMine(ctx, 50*time.Millisecond)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	defer func() { stop(); <-done }()
	for _, tx := range accepted {
		final, err := waitFinal(ctx, svc, tx.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "tx %d %s in block %d\n", final.ID, final.Status, final.BlockNumber)
	}
	a, err := svc.Account(ctx, acct.ID)
	if err != nil {
		return err
	}
	want := big.NewInt(1e18)
	for _, tx := range accepted {
		want.Sub(want, new(big.Int).Add(tx.Amount, tx.FeeTotal))
	}
	if a.Current.Cmp(want) != 0 || a.Available.Cmp(want) != 0 {
		return fmt.Errorf("balances off: available %s, current %s, want both %s", a.Available, a.Current, want)
	}
	fmt.Fprintf(out, "account %d: available %s wei, current %s wei: every accepted transfer settled once\n", acct.ID, a.Available, a.Current)
	return nil
}

func waitFinal(ctx context.Context, svc *consolidate.Service, id int64) (consolidate.Transaction, error) {
	for {
		tx, err := svc.Get(ctx, id)
		if err != nil || tx.Status.Final() {
			return tx, err
		}
		select {
		case <-ctx.Done():
			return tx, fmt.Errorf("transaction %d still %s: %w", id, tx.Status, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
