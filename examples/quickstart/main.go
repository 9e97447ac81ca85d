// Command quickstart runs consolidate end to end with everything embedded:
// a SQLite file for the ledger, an in-process Ethereum chain, and the
// in-process lock, cache and queue. No servers, no flags.
//
// It creates an account, credits it, submits transfers that succeed, one to
// a contract that reverts (FAILED: the amount comes back, the fee is
// charged), one the balance cannot cover and one while the account is
// locked, then runs the worker until every transfer is final and prints the
// balances before and after.
package main

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
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dir, err := os.MkdirTemp("", "consolidate-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
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
	reverter, err := sim.DeployReverter(ctx)
	if err != nil {
		return err
	}
	// Two confirmations: a transfer is final one block after it is mined
	// (chaintest defaults to 1, chain.Dial to 12).
	ch, err := sim.NewChain(&chain.Options{Confirmations: 2})
	if err != nil {
		return err
	}

	locker := consolidate.NewMemoryLocker()
	svc, err := consolidate.New(store, ch, &consolidate.Config{
		Locker: locker,
		Cache:  consolidate.NewMemoryCache(0),
		// Milliseconds instead of the default schedule for a real chain
		// (100 s doubling to 1600 s), with which every transfer here would
		// wait 100 s for its second check.
		Backoff:      consolidate.Backoff{Base: 200 * time.Millisecond, Max: time.Second},
		PollInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}

	acct, err := svc.CreateAccount(ctx)
	if err != nil {
		return err
	}
	if _, err := svc.Credit(ctx, acct.ID, ether("1"), "deposit-0001"); err != nil {
		return err
	}
	before, err := svc.Account(ctx, acct.ID)
	if err != nil {
		return err
	}
	fmt.Printf("account %d before: available %s ETH, current %s ETH\n\n", acct.ID, formatEther(before.Available), formatEther(before.Current))

	alice := common.HexToAddress("0x1111111111111111111111111111111111111111")
	bob := common.HexToAddress("0x2222222222222222222222222222222222222222")
	var submitted []consolidate.Transaction
	submit := func(label string, to common.Address, amount *big.Int) error {
		tx, err := svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: to, Amount: amount, IdempotencyKey: label})
		switch {
		case err == nil:
			fmt.Printf("submitted   %-22s tx %d: %s ETH to %s (nonce %d, hash %s)\n", label, tx.ID, formatEther(amount), short(to), tx.Nonce, short(tx.Hash))
			submitted = append(submitted, tx)
		case errors.Is(err, consolidate.ErrInsufficientFunds), errors.Is(err, consolidate.ErrAccountLocked):
			fmt.Printf("refused     %-22s %s ETH: %v\n", label, formatEther(amount), err)
		default:
			return err
		}
		return nil
	}
	for _, s := range []struct {
		label  string
		to     common.Address
		amount *big.Int
	}{
		{"pay-alice", alice, ether("0.1")},
		{"pay-bob", bob, ether("0.25")},
		{"pay-reverting-contract", reverter, ether("0.05")},
		{"too-much", bob, ether("5")},
	} {
		if err := submit(s.label, s.to, s.amount); err != nil {
			return err
		}
	}
	// Another operation holds the account: the submit is refused at once.
	lease, err := locker.Lock(ctx, fmt.Sprintf("account:%d", acct.ID), time.Minute)
	if err != nil {
		return err
	}
	if err := submit("while-locked", alice, ether("0.01")); err != nil {
		return err
	}
	if err := lease.Unlock(ctx); err != nil {
		return err
	}

	held, err := svc.Account(ctx, acct.ID)
	if err != nil {
		return err
	}
	fmt.Printf("\naccount %d while pending: available %s ETH, current %s ETH\n\n", acct.ID, formatEther(held.Available), formatEther(held.Current))

	// Blocks every 100 ms, and the worker reconciling in the background.
	sim.AutoMine(ctx, 100*time.Millisecond)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	final, err := waitFinal(ctx, svc, submitted)
	stop()
	if err := <-done; err != nil {
		return err
	}
	if err != nil {
		return err
	}
	for _, tx := range final {
		fmt.Printf("%-10s  tx %d: %s ETH to %s, fee charged %s ETH, chain fee %s ETH, block %d\n",
			tx.Status, tx.ID, formatEther(tx.Amount), short(tx.To), formatEther(tx.FeeTotal), formatEther(tx.FeeBlockchain), tx.BlockNumber)
	}

	after, err := svc.Account(ctx, acct.ID)
	if err != nil {
		return err
	}
	fmt.Printf("\naccount %d after:  available %s ETH, current %s ETH\n", acct.ID, formatEther(after.Available), formatEther(after.Current))
	return audit(before, after, final)
}

// waitFinal waits until every transaction is final.
func waitFinal(ctx context.Context, svc *consolidate.Service, txs []consolidate.Transaction) ([]consolidate.Transaction, error) {
	out := make([]consolidate.Transaction, len(txs))
	for i, tx := range txs {
		got, err := svc.Wait(ctx, tx.ID)
		if err != nil {
			return nil, fmt.Errorf("transfer %d: %w", tx.ID, err)
		}
		out[i] = got
	}
	return out, nil
}

// audit checks the money rules: successes cost amount + fee, a revert costs
// only the fee, and nothing stays held once all is final.
func audit(before, after consolidate.Account, txs []consolidate.Transaction) error {
	want := new(big.Int).Set(before.Current)
	for _, tx := range txs {
		want.Sub(want, tx.FeeTotal)
		if tx.Status == consolidate.StatusSuccessful {
			want.Sub(want, tx.Amount)
		}
	}
	if after.Current.Cmp(want) != 0 || after.Available.Cmp(after.Current) != 0 {
		return fmt.Errorf("balances off: available %s, current %s, want both %s", after.Available, after.Current, want)
	}
	fmt.Println("audit: balances match the transfers exactly")
	return nil
}

func ether(s string) *big.Int {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad ether literal " + s)
	}
	r.Mul(r, new(big.Rat).SetInt(big.NewInt(1e18)))
	return r.Num()
}

// formatEther prints wei as ether with every significant digit.
func formatEther(wei *big.Int) string {
	if wei == nil {
		return "-"
	}
	r := new(big.Rat).SetFrac(wei, big.NewInt(1e18))
	s := r.FloatString(18)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s + map[bool]string{true: "0", false: ""}[s[len(s)-1] == '.']
}

func short(v fmt.Stringer) string {
	s := v.String()
	return s[:8] + "…" + s[len(s)-4:]
}
