package consolidate_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// quoteChain overrides the fees of first attempts, to make transfers that
// the node holds but will not mine (a fee cap below the base fee) or will
// not take at all (a fee above the node's cap).
type quoteChain struct {
	consolidate.Chain
	quote func(consolidate.Quote) consolidate.Quote
}

func (c *quoteChain) Quote(ctx context.Context, t consolidate.Transfer) (consolidate.Quote, error) {
	q, err := c.Chain.Quote(ctx, t)
	if err != nil || c.quote == nil {
		return q, err
	}
	return c.quote(q), nil
}

// newQuotedEnv is an env with cfg whose chain prices first attempts with
// quote (nil: the chain's own quote).
func newQuotedEnv(t *testing.T, quote func(consolidate.Quote) consolidate.Quote, cfg consolidate.Config) (*quoteChain, *env) {
	qc := &quoteChain{quote: quote}
	e := newEnv(t, &envOptions{
		cfg:       cfg,
		wrapChain: func(c consolidate.Chain) consolidate.Chain { qc.Chain = c; return qc },
	})
	return qc, e
}

// stuckQuote is below any base fee the chain will have: never mined.
func stuckQuote(q consolidate.Quote) consolidate.Quote {
	q.GasTipCap, q.GasFeeCap = big.NewInt(1), big.NewInt(1)
	return q
}

func (e *env) attempts(id int64) []consolidate.Attempt {
	e.t.Helper()
	as, err := e.store.Attempts(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return as
}

// settleEvents counts the settle events written for a transaction.
func (e *env) settleEvents(id int64) int {
	e.t.Helper()
	evs, err := e.store.Events(e.t.Context(), 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.TransactionID == id && (ev.Type == consolidate.EventSuccessful || ev.Type == consolidate.EventFailed) {
			n++
		}
	}
	return n
}

// mineUntilFinal mines and reconciles until the transaction is final.
func (e *env) mineUntilFinal(id int64) consolidate.Transaction {
	e.t.Helper()
	for range 20 {
		e.sim.Commit()
		if tx := e.reconcile(id); tx.Status.Final() {
			if n := e.settleEvents(id); n != 1 {
				e.t.Fatalf("transaction %d settled %d times", id, n)
			}
			return tx
		}
	}
	e.t.Fatalf("transaction %d not final after 20 blocks", id)
	return consolidate.Transaction{}
}

func TestReorgedTransferSettlesInItsNewBlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &envOptions{confirmations: 3})
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, alice, wei(1e17))
	first := e.sim.Commit()
	if got := e.reconcile(tx.ID); got.Status != consolidate.StatusPending {
		t.Fatalf("mined one block deep: %s, want PENDING until 3 deep", got.Status)
	}
	st, err := e.status(tx.Hash)
	if err != nil || st.State != consolidate.TxMined || st.BlockHash != first {
		t.Fatalf("before the reorg: %+v %v", st, err)
	}
	// Reorg: the block holding the transfer leaves the canonical chain,
	// and a longer branch without it takes over.
	e.reorgOut(first)
	if got := e.reconcile(tx.ID); got.Status != consolidate.StatusPending { // dropped: sent again
		t.Fatalf("after the reorg: %s", got.Status)
	}
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash || got.BlockHash == first || got.BlockHash == (common.Hash{}) {
		t.Fatalf("settled %s in block %s (first mined in %s), hash %s want %s", got.Status, got.BlockHash, first, got.Hash, tx.Hash)
	}
	canon, err := e.sim.Client().HeaderByNumber(t.Context(), new(big.Int).SetUint64(got.BlockNumber))
	if err != nil || canon.Hash() != got.BlockHash {
		t.Fatalf("settled block %s is not canonical (%v)", got.BlockHash, err)
	}
	left := sub(credit, sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

func TestReorgedTransferStillInPoolIsMinedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &envOptions{confirmations: 3})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1e17))
	first := e.sim.Commit()
	e.reconcile(tx.ID)
	e.forkBelow(first)
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash {
		t.Fatalf("settled %s hash %s", got.Status, got.Hash)
	}
	canon, err := e.sim.Client().HeaderByNumber(t.Context(), new(big.Int).SetUint64(got.BlockNumber))
	if err != nil || canon.Hash() != got.BlockHash {
		t.Fatalf("settled block %s is not canonical (%v)", got.BlockHash, err)
	}
	e.invariants(acct.ID)
}

func TestStuckTransferIsBumpedAndLandsWithTheBumpedHash(t *testing.T) {
	t.Parallel()
	_, e := newQuotedEnv(t, stuckQuote, consolidate.Config{StuckAfter: time.Millisecond})
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, alice, wei(1e17))
	e.sim.Mine(2)
	if st, err := e.status(tx.Hash); err != nil || st.State == consolidate.TxMined || st.State == consolidate.TxFinal {
		t.Fatalf("underpriced transfer was mined: %+v %v", st, err)
	}
	time.Sleep(2 * time.Millisecond)
	e.reconcile(tx.ID) // stuck: re-signed with bumped fees
	as := e.attempts(tx.ID)
	if len(as) != 2 || as[1].Cancel || as[1].Hash == tx.Hash {
		t.Fatalf("attempts after a stuck check: %+v", as)
	}
	if as[1].Quote.GasFeeCap.Cmp(as[0].Quote.GasFeeCap) <= 0 || as[1].Quote.GasTipCap.Cmp(as[0].Quote.GasTipCap) <= 0 {
		t.Fatalf("bump did not raise fees: %+v → %+v", as[0].Quote, as[1].Quote)
	}
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != as[len(as)-1].Hash && got.Hash != as[1].Hash {
		t.Fatalf("settled %s with hash %s, want the bumped attempt", got.Status, got.Hash)
	}
	if got.Hash == tx.Hash {
		t.Fatal("settled with the original, unmineable hash")
	}
	left := sub(credit, sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

func TestCancelWinsRefundsInFull(t *testing.T) {
	t.Parallel()
	_, e := newQuotedEnv(t, stuckQuote, consolidate.Config{StuckAfter: time.Hour})
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, alice, wei(1e17))
	e.sim.Commit()
	if _, err := e.svc.Cancel(t.Context(), tx.ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	// Cancelling again sends nothing new.
	if _, err := e.svc.Cancel(t.Context(), tx.ID); err != nil {
		t.Fatalf("second Cancel: %v", err)
	}
	as := e.attempts(tx.ID)
	if len(as) != 2 || !as[1].Cancel {
		t.Fatalf("attempts: %+v", as)
	}
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusFailed || got.Hash != as[1].Hash {
		t.Fatalf("settled %s with hash %s, want FAILED by the cancel %s", got.Status, got.Hash, as[1].Hash)
	}
	e.balances(acct.ID, credit, credit) // full refund: amount and fee
	e.invariants(acct.ID)
	if bal, err := e.sim.Client().BalanceAt(t.Context(), alice, nil); err != nil || bal.Sign() != 0 {
		t.Fatalf("recipient received %v (%v) though the transfer was cancelled", bal, err)
	}
	if _, err := e.svc.Cancel(t.Context(), tx.ID); err == nil {
		t.Fatal("Cancel of a final transaction succeeded")
	}
}

func TestCancelLosesWhenTheTransferLandsFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &envOptions{confirmations: 3})
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, alice, wei(1e17))
	e.sim.Commit() // mined, not final
	if _, err := e.svc.Cancel(t.Context(), tx.ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash {
		t.Fatalf("settled %s with %s, want SUCCESSFUL with the original %s", got.Status, got.Hash, tx.Hash)
	}
	left := sub(credit, sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

func TestRejectedTransferDoesNotBlockLaterNonces(t *testing.T) {
	t.Parallel()
	// The first transfer's fee is above what the node accepts (its tx fee
	// cap of 1 ether): the node refuses it for good.
	qc, e := newQuotedEnv(t, nil, consolidate.Config{StuckAfter: time.Hour})
	credit := wei(1e18)
	acct := e.funded(credit)
	qc.quote = func(q consolidate.Quote) consolidate.Quote {
		q.GasFeeCap = new(big.Int).Mul(big.NewInt(100_000), big.NewInt(1e9)) // 100 000 gwei × 21 000 gas = 2.1 ether
		return q
	}
	rejected := e.submit(acct.ID, alice, wei(1e17))
	qc.quote = nil
	next := e.submit(acct.ID, bob, wei(1e17)) // nonce + 1: waits for the gap
	if next.Nonce != rejected.Nonce+1 {
		t.Fatalf("nonces %d and %d", rejected.Nonce, next.Nonce)
	}
	e.sim.Commit()
	if st, err := e.status(next.Hash); err != nil || st.State == consolidate.TxMined || st.State == consolidate.TxFinal {
		t.Fatalf("the later nonce was mined across the gap: %+v %v", st, err)
	}
	e.reconcile(rejected.ID) // refused again: a cancel fills the nonce
	as := e.attempts(rejected.ID)
	if len(as) != 2 || !as[1].Cancel {
		t.Fatalf("attempts: %+v", as)
	}
	if got := e.mineUntilFinal(rejected.ID); got.Status != consolidate.StatusFailed {
		t.Fatalf("rejected transfer ended %s", got.Status)
	}
	if got := e.mineUntilFinal(next.ID); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("later transfer ended %s", got.Status)
	}
	left := sub(credit, sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

// takeNonce has someone else with the wallet's key spend tx's nonce, well
// above tx's price.
func takeNonce(t *testing.T, qc *quoteChain, tx consolidate.Transaction) {
	t.Helper()
	q, err := qc.Chain.Quote(t.Context(), consolidate.Transfer{To: bob, Amount: wei(1)})
	if err != nil {
		t.Fatal(err)
	}
	q.GasTipCap = new(big.Int).Mul(q.GasTipCap, big.NewInt(3))
	q.GasFeeCap = new(big.Int).Mul(q.GasFeeCap, big.NewInt(3))
	foreign, err := qc.Chain.Sign(t.Context(), tx.Nonce, consolidate.Transfer{To: bob, Amount: wei(1)}, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := qc.Chain.Broadcast(t.Context(), foreign.Raw); err != nil {
		t.Fatal(err)
	}
}

func TestNonceTakenByAForeignTransactionVoidsTheTransfer(t *testing.T) {
	t.Parallel()
	qc, e := newQuotedEnv(t, stuckQuote, consolidate.Config{StuckAfter: time.Hour})
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, alice, wei(1e17)) // never mined at its price
	takeNonce(t, qc, tx)
	got := e.mineUntilFinal(tx.ID)
	if got.Status != consolidate.StatusFailed || got.FeeBlockchain != nil {
		t.Fatalf("settled %s (fee %v), want FAILED with nothing of ours mined", got.Status, got.FeeBlockchain)
	}
	e.balances(acct.ID, credit, credit)
	e.invariants(acct.ID)
}
