package consolidate_test

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// finalHook runs a function once, the first time the Service reads the
// wallet's final nonce, and can report a final nonce of its own.
type finalHook struct {
	consolidate.Chain
	once   sync.Once
	before func()
	final  *uint64
}

func (c *finalHook) FinalizedNonce(ctx context.Context) (uint64, error) {
	if c.before != nil {
		c.once.Do(c.before)
	}
	if c.final != nil {
		return *c.final, nil
	}
	return c.Chain.FinalizedNonce(ctx)
}

// A fee bump that another worker records, sends and sees finalized while
// this worker's check is between its first look and its read of the final
// nonce consumed the nonce: the check must find it and settle the
// transfer SUCCESSFUL, not take the nonce as consumed by a stranger and
// refund a transfer that paid.
func TestBumpSentDuringACheckIsSeen(t *testing.T) {
	t.Parallel()
	hook := &finalHook{}
	e := newEnv(t, &envOptions{
		cfg: consolidate.Config{StuckAfter: time.Hour},
		wrapChain: func(c consolidate.Chain) consolidate.Chain {
			hook.Chain = &quoteChain{Chain: c, quote: stuckQuote}
			return hook
		},
	})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1e17)) // held by the node, never mined
	var bump consolidate.Attempt
	hook.before = func() {
		ctx := context.Background()
		first := e.attempts(tx.ID)[0]
		q, err := e.chain.Bump(ctx, first.Quote)
		if err != nil {
			t.Error(err)
			return
		}
		signed, err := e.chain.Sign(t.Context(), tx.Nonce, consolidate.Transfer{To: tx.To, Amount: tx.Amount}, q)
		if err != nil {
			t.Error(err)
			return
		}
		bump = consolidate.Attempt{SignedTx: signed, Quote: q, CreatedAt: time.Now()}
		if err := e.store.AddAttempt(ctx, tx.ID, bump); err != nil {
			t.Error(err)
			return
		}
		if err := e.chain.Broadcast(ctx, bump.Raw); err != nil {
			t.Error(err)
			return
		}
		e.sim.Commit() // final at one confirmation
	}
	got := e.reconcile(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != bump.Hash {
		t.Fatalf("settled %s with hash %s; the bump %s is final on chain", got.Status, got.Hash, bump.Hash)
	}
	left := sub(wei(1e18), sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

// A Service whose wallet is not the one that signed a transfer (a rotated
// key, or services with different wallets on one store) must not judge
// the transfer's nonce by its own wallet, nor re-sign or cancel it. It
// still sends the stored bytes again when the node has lost them, and
// settles the transfer once it is final.
func TestOtherWalletsTransferIsOnlyWatched(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.sim.Commit() // an empty block: the node's indexer is ready
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1e17)) // in the node's pool

	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := chain.New(t.Context(), e.sim.Client(), key, &chain.Options{Confirmations: 1, ChainID: big.NewInt(chaintest.ChainID)})
	if err != nil {
		t.Fatal(err)
	}
	// The other wallet has used many nonces: by its own count, the
	// transfer's nonce is long consumed.
	used := tx.Nonce + 100
	svc, err := consolidate.New(e.store, &finalHook{Chain: other, final: &used}, &consolidate.Config{
		Logger:     quietLogger(),
		Queue:      consolidate.NewMemoryQueue(),
		StuckAfter: time.Nanosecond, // would re-sign at once
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(want consolidate.Status) consolidate.Transaction {
		t.Helper()
		got := e.reconcileBy(svc, tx.ID)
		if got.Status != want {
			t.Fatalf("status %s, want %s", got.Status, want)
		}
		if n := len(e.attempts(tx.ID)); n != 1 {
			t.Fatalf("%d attempts: the other wallet signed a replacement", n)
		}
		return got
	}
	check(consolidate.StatusPending)
	if _, err := svc.Cancel(t.Context(), tx.ID); !errors.Is(err, consolidate.ErrOtherWallet) {
		t.Fatalf("Cancel by the other wallet: %v, want ErrOtherWallet", err)
	}
	e.balances(acct.ID, sub(wei(1e18), sum(wei(1e17), fee)), wei(1e18))

	e.sim.Rollback() // the node loses it
	check(consolidate.StatusPending)
	if st, err := e.status(tx.Hash); err != nil || st.State != consolidate.TxPending {
		t.Fatalf("after the other wallet's check the node has the transfer as %v (%v), want pending", st.State, err)
	}
	e.sim.Commit()
	got := check(consolidate.StatusSuccessful)
	if got.Hash != tx.Hash {
		t.Fatalf("settled with hash %s, want the original %s", got.Hash, tx.Hash)
	}
	left := sub(wei(1e18), sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

// A transfer priced at the maximum fee cannot be bumped, since any
// replacement must pay 10 % more. When the node loses it, its stored bytes
// must still be sent again, or its nonce blocks the wallet for good.
func TestTransferAtTheFeeCeilingIsSentAgain(t *testing.T) {
	t.Parallel()
	// Between base+tip and 2·base+tip of the genesis block: first
	// attempts are quoted at the ceiling itself, and every bump is above
	// it. (The base fee only falls over the empty blocks that follow.)
	base := big.NewInt(params.InitialBaseFee)
	tip := big.NewInt(1_000_000)
	ceiling := sum(base, tip, new(big.Int).Div(base, big.NewInt(2)))
	e := newEnv(t, &envOptions{
		cfg:          consolidate.Config{StuckAfter: time.Nanosecond},
		chainOptions: chain.Options{MaxFeePerGas: ceiling, GasTipCap: tip},
	})
	e.sim.Commit() // an empty block: the node's indexer is ready
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1e15))
	if q := e.attempts(tx.ID)[0].Quote; q.GasFeeCap.Cmp(ceiling) != 0 {
		t.Fatalf("quoted fee cap %s, want the ceiling %s", q.GasFeeCap, ceiling)
	}
	e.sim.Rollback() // the node loses it
	e.reconcile(tx.ID)
	if st, err := e.status(tx.Hash); err != nil || st.State != consolidate.TxPending {
		t.Fatalf("after the check the node has the transfer as %v (%v), want pending", st.State, err)
	}
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash {
		t.Fatalf("settled %s with hash %s, want SUCCESSFUL with %s", got.Status, got.Hash, tx.Hash)
	}
	e.invariants(acct.ID)
}

// blindChain reports every transaction unknown while blind is set: a node
// behind a load balancer that has not indexed the block holding them yet.
type blindChain struct {
	consolidate.Chain
	blind atomic.Bool
}

// Balance is the wrapped chain's: a node blind to transactions still
// reports the wallet's balance.
func (c *blindChain) Balance(ctx context.Context) (*big.Int, error) {
	return c.Chain.(consolidate.BalanceReader).Balance(ctx)
}

func (c *blindChain) Statuses(ctx context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	if c.blind.Load() {
		return make([]consolidate.ChainStatus, len(hashes)), nil
	}
	return c.Chain.Statuses(ctx, hashes)
}

// One check that sees the wallet's nonce consumed and none of the
// transfer's attempts is not proof enough to refund it: the node may be
// the one behind. A transfer that landed must end SUCCESSFUL, not refunded
// as well as paid.
func TestLaggingNodeDoesNotVoidALandedTransfer(t *testing.T) {
	t.Parallel()
	bc := &blindChain{}
	e := newEnv(t, &envOptions{
		cfg:       consolidate.Config{VoidDelay: time.Hour},
		wrapChain: func(c consolidate.Chain) consolidate.Chain { bc.Chain = c; return bc },
	})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1e17))
	e.sim.Commit() // mined and final
	bc.blind.Store(true)
	for range 3 {
		if got := e.reconcile(tx.ID); got.Status != consolidate.StatusPending {
			t.Fatalf("with the node blind to the transfer: %s, want PENDING", got.Status)
		}
	}
	bc.blind.Store(false)
	if got := e.reconcile(tx.ID); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("with the node caught up: %s, want SUCCESSFUL", got.Status)
	}
	left := sub(wei(1e18), sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

// A nonce really taken by another transaction voids the transfer at the
// first check VoidDelay after the one that first saw it.
func TestConsumedNonceVoidsAfterVoidDelay(t *testing.T) {
	t.Parallel()
	const delay = time.Second
	qc, e := newQuotedEnv(t, stuckQuote, consolidate.Config{StuckAfter: time.Hour, VoidDelay: delay})
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, alice, wei(1e17)) // never mined at its price
	takeNonce(t, qc, tx)
	e.sim.Commit()
	first := time.Now()
	for time.Since(first) < delay/4 {
		if got := e.reconcile(tx.ID); got.Status != consolidate.StatusPending {
			t.Fatalf("%v after the nonce was first seen taken: %s, want PENDING", time.Since(first), got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(delay)
	if got := e.reconcile(tx.ID); got.Status != consolidate.StatusFailed {
		t.Fatalf("after VoidDelay: %s, want FAILED", got.Status)
	}
	e.balances(acct.ID, credit, credit)
	e.invariants(acct.ID)
}
