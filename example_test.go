package consolidate_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// example is a Service on a SQLite file in a temporary directory and an
// in-process chain, with a worker schedule in milliseconds.
type example struct {
	svc   *consolidate.Service
	sim   *chaintest.Chain
	close func()
}

func newExample() example {
	dir, err := os.MkdirTemp("", "consolidate-example-")
	if err != nil {
		panic(err)
	}
	store, err := sqlite.Open(filepath.Join(dir, "ledger.db"), nil)
	if err != nil {
		panic(err)
	}
	sim, err := chaintest.New(nil)
	if err != nil {
		panic(err)
	}
	ch, err := sim.NewChain(nil)
	if err != nil {
		panic(err)
	}
	svc, err := consolidate.New(store, ch, &consolidate.Config{
		Backoff:      consolidate.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		PollInterval: 5 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	return example{svc: svc, sim: sim, close: func() {
		sim.Close()
		store.Close()
		os.RemoveAll(dir)
	}}
}

var recipient = common.HexToAddress("0x00000000000000000000000000000000000000aa")

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

// A deposit credits both balances, once per reference.
func Example_credit() {
	ex := newExample()
	defer ex.close()
	ctx := context.Background()

	acct, _ := ex.svc.CreateAccount(ctx)
	acct, _ = ex.svc.Credit(ctx, acct.ID, ether(1), "deposit-0001")
	// A repeated deposit, say from a webhook delivered twice, changes nothing.
	acct, _ = ex.svc.Credit(ctx, acct.ID, ether(1), "deposit-0001")
	fmt.Println("available:", acct.Available, "current:", acct.Current)
	// Output:
	// available: 1000000000000000000 current: 1000000000000000000
}

// Submit holds the amount and the fee at once; the transfer is PENDING
// until it is final on chain.
func Example_submitAndGet() {
	ex := newExample()
	defer ex.close()
	ctx := context.Background()

	acct, _ := ex.svc.CreateAccount(ctx)
	ex.svc.Credit(ctx, acct.ID, ether(1), "deposit-0001")
	tx, err := ex.svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: recipient, Amount: big.NewInt(1e17)})
	if err != nil {
		fmt.Println(err)
		return
	}
	got, _ := ex.svc.Get(ctx, tx.ID)
	acct, _ = ex.svc.Account(ctx, acct.ID)
	fmt.Println(got.Status, "nonce", got.Nonce)
	fmt.Println("available:", acct.Available)
	fmt.Println("current:  ", acct.Current)

	_, err = ex.svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: recipient, Amount: ether(1)})
	fmt.Println(errors.Is(err, consolidate.ErrInsufficientFunds))
	// Output:
	// PENDING nonce 0
	// available: 899950000000000000
	// current:   1000000000000000000
	// true
}

// The same idempotency key returns the original transfer instead of
// sending another; with a different request it is a conflict.
func Example_idempotency() {
	ex := newExample()
	defer ex.close()
	ctx := context.Background()

	acct, _ := ex.svc.CreateAccount(ctx)
	ex.svc.Credit(ctx, acct.ID, ether(1), "deposit-0001")
	req := consolidate.SubmitRequest{AccountID: acct.ID, To: recipient, Amount: big.NewInt(1e17), IdempotencyKey: "order-42"}
	first, _ := ex.svc.Submit(ctx, req)
	again, _ := ex.svc.Submit(ctx, req) // a client retrying after a timeout
	fmt.Println(first.ID == again.ID, first.Hash == again.Hash)

	req.Amount = big.NewInt(2e17)
	_, err := ex.svc.Submit(ctx, req)
	fmt.Println(errors.Is(err, consolidate.ErrIdempotencyConflict))
	// Output:
	// true true
	// true
}

// Run reconciles transfers in the background: once the block holding a
// transfer is final, it is SUCCESSFUL and the hold leaves the current
// balance too. Wait returns a transfer once it is final.
func Example_worker() {
	ex := newExample()
	defer ex.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	acct, _ := ex.svc.CreateAccount(ctx)
	ex.svc.Credit(ctx, acct.ID, ether(1), "deposit-0001")
	tx, _ := ex.svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: recipient, Amount: big.NewInt(1e17)})

	done := make(chan struct{})
	go func() { defer close(done); ex.svc.Run(ctx) }()
	ex.sim.Commit() // mine the block

	final, err := ex.svc.Wait(ctx, tx.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	acct, _ = ex.svc.Account(ctx, acct.ID)
	fmt.Println(final.Status, "in block", final.BlockNumber)
	fmt.Println("available:", acct.Available)
	fmt.Println("current:  ", acct.Current)
	cancel()
	<-done
	// Output:
	// SUCCESSFUL in block 1
	// available: 899950000000000000
	// current:   899950000000000000
}
