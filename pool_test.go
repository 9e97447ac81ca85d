package consolidate_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// stuckWallet quotes below any base fee, so its transfers wait in the
// node's pool and are never mined, and cannot bump them until bump is
// set.
type stuckWallet struct {
	quoteChain
	bump *atomic.Bool
}

func (c *stuckWallet) Bump(ctx context.Context, prev consolidate.Quote) (consolidate.Quote, error) {
	if !c.bump.Load() {
		return consolidate.Quote{}, consolidate.ErrFeeTooHigh
	}
	return c.quoteChain.Bump(ctx, prev)
}

// wallet returns the Service's view of the wallet at addr.
func (e *env) wallet(addr common.Address) consolidate.Wallet {
	e.t.Helper()
	ws, err := e.svc.Wallets(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, w := range ws {
		if w.Sender == addr {
			return w
		}
	}
	e.t.Fatalf("no wallet %s among %+v", addr, ws)
	return consolidate.Wallet{}
}

// settleMined mines and reconciles each of txs until it is final.
func (e *env) settleMined(txs ...consolidate.Transaction) []consolidate.Transaction {
	e.t.Helper()
	out := make([]consolidate.Transaction, len(txs))
	for i, tx := range txs {
		for range 10 {
			e.sim.Commit()
			if out[i] = e.reconcile(tx.ID); out[i].Status.Final() {
				break
			}
		}
	}
	return out
}

// Wallet A's lowest nonce is stuck: underpriced, never mined, never
// bumped. Once it has been so for WalletStuckAfter, A leaves the
// rotation and new transfers settle through wallet B; when A's nonce is
// final again (an operator's cancel lands), A is back.
func TestStuckWalletLeavesRotation(t *testing.T) {
	t.Parallel()
	bump := &atomic.Bool{}
	e := newEnv(t, &envOptions{
		cfg:     consolidate.Config{StuckAfter: time.Hour, WalletStuckAfter: 50 * time.Millisecond},
		wallets: 1,
		wrapChain: func(c consolidate.Chain) consolidate.Chain {
			return &stuckWallet{quoteChain: quoteChain{Chain: c, quote: stuckQuote}, bump: bump}
		},
	})
	a, b := e.chain.Sender(), e.cfg.Wallets[0].Sender()
	acct := e.funded(wei(1e18))
	stuck := e.submit(acct.ID, alice, wei(1))
	if stuck.From != a {
		t.Fatalf("first transfer from %s, want wallet A %s", stuck.From, a)
	}
	e.sim.Commit()
	e.reconcile(stuck.ID) // reads A's final nonce: the clock starts
	if w := e.wallet(a); !w.InRotation {
		t.Fatalf("wallet A out of rotation (%s) before WalletStuckAfter", w.OutOfRotation)
	}
	time.Sleep(60 * time.Millisecond)
	if got := e.reconcile(stuck.ID); got.Status != consolidate.StatusPending {
		t.Fatalf("the stuck transfer is %s", got.Status)
	}
	if w := e.wallet(a); w.InRotation || w.OutOfRotation != "stuck" {
		t.Fatalf("wallet A: in rotation %v (%q), want out, stuck", w.InRotation, w.OutOfRotation)
	}

	var txs []consolidate.Transaction
	for i := range 5 {
		tx := e.submit(acct.ID, alice, wei(int64(10+i)))
		if tx.From != b {
			t.Fatalf("transfer %d from %s while A is stuck, want wallet B %s", i, tx.From, b)
		}
		txs = append(txs, tx)
	}
	for _, tx := range e.settleMined(txs...) {
		if tx.Status != consolidate.StatusSuccessful {
			t.Fatalf("transfer %d through wallet B: %s, want SUCCESSFUL", tx.ID, tx.Status)
		}
	}
	if got := e.reconcile(stuck.ID); got.Status != consolidate.StatusPending {
		t.Fatalf("the stuck transfer is %s while B settled", got.Status)
	}

	// A cancel priced at today's fees frees A's nonce.
	bump.Store(true)
	if _, err := e.svc.Cancel(t.Context(), stuck.ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got := e.settleMined(stuck)[0]; got.Status != consolidate.StatusFailed {
		t.Fatalf("the cancelled transfer is %s, want FAILED", got.Status)
	}
	if w := e.wallet(a); !w.InRotation {
		t.Fatalf("wallet A still out of rotation (%s) after its nonce was final", w.OutOfRotation)
	}
	if tx := e.submit(acct.ID, alice, wei(99)); tx.From != a {
		t.Fatalf("after A recovered, a transfer went to %s, want A (fewest open)", tx.From)
	}
	e.invariants(acct.ID)
}

// Transfers spread over the wallets, each with its own gap-free nonces,
// and all settle.
func TestWalletsShareTheLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &envOptions{wallets: 2})
	acct := e.funded(wei(1e18))
	nonces := map[common.Address][]uint64{}
	var txs []consolidate.Transaction
	for i := range 9 {
		tx := e.submit(acct.ID, alice, wei(int64(1+i)))
		nonces[tx.From] = append(nonces[tx.From], tx.Nonce)
		txs = append(txs, tx)
	}
	if len(nonces) != 3 {
		t.Fatalf("transfers went to %d wallets, want 3: %v", len(nonces), nonces)
	}
	for from, ns := range nonces {
		for i, n := range ns {
			if n != uint64(i) {
				t.Fatalf("wallet %s nonces %v, want 0, 1, 2, …", from, ns)
			}
		}
	}
	for _, tx := range e.settleMined(txs...) {
		if tx.Status != consolidate.StatusSuccessful {
			t.Fatalf("transfer %d: %s", tx.ID, tx.Status)
		}
	}
	// The wallets' own addresses are no recipients.
	for _, w := range append([]consolidate.Chain{e.chain}, e.cfg.Wallets...) {
		if _, err := e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: w.Sender(), Amount: wei(1)}); err == nil {
			t.Fatalf("a transfer to hot wallet %s was accepted", w.Sender())
		}
	}
	e.invariants(acct.ID)
}
