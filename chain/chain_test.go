package chain_test

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

var _ chain.Client = simulated.Client(nil)

// setup starts a simulated chain and a Chain on it with opts.
func setup(t *testing.T, opts *chain.Options) (*chaintest.Chain, *chain.Chain) {
	t.Helper()
	sim := chaintest.NewT(t, nil)
	c, err := sim.NewChain(opts)
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

// sign quotes and signs a transfer with the given nonce.
func sign(t *testing.T, c *chain.Chain, nonce uint64, to common.Address, amount *big.Int) consolidate.SignedTx {
	t.Helper()
	q, err := c.Quote(t.Context(), consolidate.Transfer{To: to, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.Sign(t.Context(), nonce, consolidate.Transfer{To: to, Amount: amount}, q)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// send quotes, signs and broadcasts a transfer with the next nonce.
func send(t *testing.T, c *chain.Chain, to common.Address, amount *big.Int) consolidate.SignedTx {
	t.Helper()
	ctx := t.Context()
	nonce, err := c.Nonce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx := sign(t, c, nonce, to, amount)
	if err := c.Broadcast(ctx, tx.Raw); err != nil {
		t.Fatal(err)
	}
	// The pool counts the transaction in the pending nonce once it has
	// promoted it, in the background; wait, so the next send gets the
	// next nonce.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		next, err := c.Nonce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if next > nonce {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending nonce still %d after sending %s", next, tx.Hash)
		}
	}
	return tx
}

// broadcastMined sends raw, signed with a nonce a block just used. The
// node's pool drops what a block included in the background, and until
// it has, it answers as for a nonce still pending (already known, or
// underpriced); so this retries for a few seconds until the node answers
// ErrNonceTooLow, and returns its last answer.
func broadcastMined(t *testing.T, c *chain.Chain, raw []byte) error {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Broadcast(t.Context(), raw)
		if errors.Is(err, chain.ErrNonceTooLow) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func status(t *testing.T, c *chain.Chain, hash common.Hash) consolidate.ChainStatus {
	t.Helper()
	st, err := c.Status(t.Context(), hash)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func balance(t *testing.T, sim *chaintest.Chain, a common.Address) *big.Int {
	t.Helper()
	b, err := sim.Client().BalanceAt(t.Context(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chargedFee is what the receipt says the chain took.
func chargedFee(t *testing.T, sim *chaintest.Chain, hash common.Hash) *big.Int {
	t.Helper()
	r, err := sim.Client().TransactionReceipt(t.Context(), hash)
	if err != nil {
		t.Fatal(err)
	}
	return new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
}

func randomAddress(t *testing.T) common.Address {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

func TestTransferLifecycle(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, &chain.Options{Confirmations: 3})
	to := randomAddress(t)
	amount := big.NewInt(1_000_000_007)
	before := balance(t, sim, c.Sender())

	tx := send(t, c, to, amount)
	if st := status(t, c, tx.Hash); st.State != consolidate.TxPending {
		t.Fatalf("before mining: state %v, want pending", st.State)
	}

	block := sim.Commit()
	st := status(t, c, tx.Hash)
	if st.State != consolidate.TxMined || !st.Success || st.Confirmations != 1 || st.BlockHash != block || st.BlockNumber != 1 {
		t.Fatalf("after one block: %+v", st)
	}
	fee := chargedFee(t, sim, tx.Hash)
	if st.Fee == nil || st.Fee.Cmp(fee) != 0 || fee.Sign() <= 0 {
		t.Fatalf("fee %v, receipt says %v", st.Fee, fee)
	}
	spent := new(big.Int).Sub(before, balance(t, sim, c.Sender()))
	if want := new(big.Int).Add(amount, fee); spent.Cmp(want) != 0 {
		t.Fatalf("sender spent %v, want amount+fee %v", spent, want)
	}
	if got := balance(t, sim, to); got.Cmp(amount) != 0 {
		t.Fatalf("recipient has %v, want %v", got, amount)
	}

	sim.Commit()
	if st := status(t, c, tx.Hash); st.State != consolidate.TxMined || st.Confirmations != 2 {
		t.Fatalf("two blocks deep: %+v", st)
	}
	sim.Commit()
	if st := status(t, c, tx.Hash); st.State != consolidate.TxFinal || st.Confirmations != 3 || !st.Success {
		t.Fatalf("three blocks deep: %+v", st)
	}
}

func TestFinalizedBlockMakesFinal(t *testing.T) {
	t.Parallel()
	// Depth alone can never make it final; only the node's finalized
	// block can, which the simulated node moves every 32 blocks.
	sim, c := setup(t, &chain.Options{Confirmations: ^uint64(0)})
	tx := send(t, c, randomAddress(t), big.NewInt(1))
	sim.Mine(31)
	if st := status(t, c, tx.Hash); st.State != consolidate.TxMined || st.Confirmations != 31 {
		t.Fatalf("block 31: %+v", st)
	}
	sim.Commit()
	if st := status(t, c, tx.Hash); st.State != consolidate.TxFinal || st.Confirmations != 32 {
		t.Fatalf("block 32 (finalized): %+v", st)
	}
}

func TestBroadcastSameBytesTwice(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	tx := send(t, c, randomAddress(t), big.NewInt(5))
	if err := c.Broadcast(t.Context(), tx.Raw); err != nil {
		t.Fatalf("second broadcast: %v", err)
	}
	decoded := new(types.Transaction)
	if err := decoded.UnmarshalBinary(tx.Raw); err != nil || decoded.Hash() != tx.Hash {
		t.Fatalf("raw decodes to %s (%v), want %s", decoded.Hash(), err, tx.Hash)
	}
	sim.Commit()
	if st := status(t, c, tx.Hash); st.State != consolidate.TxFinal {
		t.Fatalf("state %v, want final", st.State)
	}
	// Once mined, the node no longer holds the bytes in its pool and
	// answers with the nonce; Status tells the caller it was these bytes.
	err := broadcastMined(t, c, tx.Raw)
	if !errors.Is(err, chain.ErrNonceTooLow) || errors.Is(err, consolidate.ErrRejected) {
		t.Fatalf("broadcast after mining: %v, want ErrNonceTooLow only", err)
	}
}

func TestBroadcastNonceTooLow(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	send(t, c, randomAddress(t), big.NewInt(5))
	sim.Commit()

	to := randomAddress(t)
	other := sign(t, c, 0, to, big.NewInt(6))
	err := broadcastMined(t, c, other.Raw)
	if !errors.Is(err, chain.ErrNonceTooLow) || errors.Is(err, consolidate.ErrRejected) {
		t.Fatalf("reused nonce: %v, want ErrNonceTooLow only", err)
	}
	if st := status(t, c, other.Hash); st.State != consolidate.TxUnknown {
		t.Fatalf("refused transaction: state %v, want unknown", st.State)
	}
}

func TestBroadcastReplacementUnderpriced(t *testing.T) {
	t.Parallel()
	_, c := setup(t, nil)
	to := randomAddress(t)
	first := send(t, c, to, big.NewInt(1))
	second := sign(t, c, 0, to, big.NewInt(2))
	if second.Hash == first.Hash {
		t.Fatal("different transfers got the same hash")
	}
	err := c.Broadcast(t.Context(), second.Raw)
	if !errors.Is(err, chain.ErrUnderpriced) || errors.Is(err, consolidate.ErrRejected) {
		t.Fatalf("same-fee replacement: %v, want ErrUnderpriced only", err)
	}
}

func TestBroadcastUnderfunded(t *testing.T) {
	t.Parallel()
	sim := chaintest.NewT(t, &chaintest.Options{Balance: big.NewInt(0)})
	c, err := sim.NewChain(nil)
	if err != nil {
		t.Fatal(err)
	}
	to := randomAddress(t)
	tx := sign(t, c, 0, to, big.NewInt(1))
	err = c.Broadcast(t.Context(), tx.Raw)
	if !errors.Is(err, chain.ErrWalletUnderfunded) || errors.Is(err, consolidate.ErrRejected) {
		t.Fatalf("empty wallet: %v, want ErrWalletUnderfunded only", err)
	}
}

func TestBroadcastRejected(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	ctx := t.Context()
	to := randomAddress(t)
	q, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	// signRaw signs what Sign refuses to build, to see the node's answer.
	signRaw := func(gas uint64, tip, feeCap *big.Int) []byte {
		tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
			ChainID: big.NewInt(chaintest.ChainID), GasTipCap: tip, GasFeeCap: feeCap,
			Gas: gas, To: &to, Value: big.NewInt(1),
		}), types.LatestSignerForChainID(big.NewInt(chaintest.ChainID)), sim.Key())
		if err != nil {
			t.Fatal(err)
		}
		raw, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	// A Chain that believes in another chain ID signs bytes this node's
	// signer cannot recover.
	wrongID, err := sim.NewChain(&chain.Options{ChainID: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := wrongID.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: big.NewInt(1)}, q)
	if err != nil {
		t.Fatal(err)
	}
	oneEther := big.NewInt(1e18) // per gas: 21000 ether in all, far above the node's 1 ether cap

	for _, tc := range []struct {
		name string
		c    *chain.Chain
		raw  []byte
	}{
		{"garbage", c, []byte{0x02, 0x01}},
		{"empty", c, nil},
		{"other chain ID, caught locally", c, foreign.Raw},
		{"other chain ID, caught by the node", wrongID, foreign.Raw},
		{"intrinsic gas too low", c, signRaw(20_000, q.GasTipCap, q.GasFeeCap)},
		{"fee above the node's cap", c, signRaw(21_000, q.GasTipCap, oneEther)},
		{"tip above fee cap", c, signRaw(21_000, q.GasFeeCap, q.GasTipCap)},
		// Tiny fees keep the total under the node's fee cap, so the gas
		// limit is what the node objects to (EIP-7825's per-transaction cap).
		{"gas above the transaction limit", c, signRaw(1<<25, big.NewInt(0), big.NewInt(1000))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Broadcast(ctx, tc.raw)
			if !errors.Is(err, consolidate.ErrRejected) {
				t.Fatalf("got %v, want ErrRejected", err)
			}
		})
	}
}

func TestRevertedTransfer(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	ctx := t.Context()
	reverter, err := sim.DeployReverter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	amount := big.NewInt(1e15)
	q, err := c.Quote(ctx, consolidate.Transfer{To: reverter, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	if q.GasLimit != 100_000 {
		t.Fatalf("gas limit to a contract: %d, want ContractGasLimit default 100000", q.GasLimit)
	}
	before := balance(t, sim, c.Sender())
	tx := send(t, c, reverter, amount)
	sim.Commit()

	st := status(t, c, tx.Hash)
	if st.State != consolidate.TxFinal || st.Success {
		t.Fatalf("status %+v, want final and failed", st)
	}
	fee := chargedFee(t, sim, tx.Hash)
	if st.Fee.Cmp(fee) != 0 || fee.Sign() <= 0 {
		t.Fatalf("fee %v, receipt says %v", st.Fee, fee)
	}
	if spent := new(big.Int).Sub(before, balance(t, sim, c.Sender())); spent.Cmp(fee) != 0 {
		t.Fatalf("sender spent %v, want only the fee %v", spent, fee)
	}
	if got := balance(t, sim, reverter); got.Sign() != 0 {
		t.Fatalf("reverter holds %v, want 0", got)
	}
}

func TestStatusUnknownHash(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	sim.Commit()
	// Right after its first block the node may still be building its
	// transaction index and says so; Status passes that on as an error
	// rather than guessing.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.Status(t.Context(), common.HexToHash("0xdeadbeef"))
		if err == nil {
			if st.State != consolidate.TxUnknown {
				t.Fatalf("unknown hash: %+v", st)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("unknown hash: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStatusAfterReorg(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	ctx := t.Context()
	to := randomAddress(t)
	sim.Commit()
	parent, err := sim.Client().HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := send(t, c, to, big.NewInt(7))
	sim.Commit()
	if st := status(t, c, tx.Hash); st.State != consolidate.TxFinal || st.BlockNumber != 2 {
		t.Fatalf("before reorg: %+v", st)
	}

	if err := sim.Fork(parent.Hash()); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c, tx.Hash); st.State != consolidate.TxPending && st.State != consolidate.TxUnknown {
		t.Fatalf("after the block holding it left the chain: %+v, want pending or unknown", st)
	}

	// The new branch spends the nonce on another transfer, as a
	// replacement would, so the original can never land. Bumped fees let
	// it displace the original if the node put that back in its pool.
	q, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: big.NewInt(8)})
	if err != nil {
		t.Fatal(err)
	}
	q.GasTipCap.Mul(q.GasTipCap, big.NewInt(2))
	q.GasFeeCap.Mul(q.GasFeeCap, big.NewInt(2))
	repl, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: big.NewInt(8)}, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, repl.Raw); err != nil {
		t.Fatal(err)
	}
	sim.Mine(2) // longer than the old branch
	if st := status(t, c, repl.Hash); st.State != consolidate.TxFinal || st.BlockNumber != 2 {
		t.Fatalf("replacement: %+v", st)
	}
	if st := status(t, c, tx.Hash); st.State != consolidate.TxUnknown {
		t.Fatalf("original after the reorg: %+v, want unknown", st)
	}
	if got := balance(t, sim, to); got.Cmp(big.NewInt(8)) != 0 {
		t.Fatalf("recipient has %v, want only the replacement's 8", got)
	}
}

func TestReorgedOutAndRebroadcast(t *testing.T) {
	t.Parallel()
	sim, paths := bothPaths(t, nil)
	c := paths[0].c
	ctx := t.Context()
	to := randomAddress(t)
	sim.Commit()
	parent, err := sim.Client().HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := send(t, c, to, big.NewInt(7))
	old := sim.Commit()
	if st := statuses(t, c, tx.Hash)[0]; st.State != consolidate.TxFinal || st.BlockHash != old {
		t.Fatalf("before the reorg: %+v", st)
	}

	sim.Rollback()
	if err := sim.Fork(parent.Hash()); err != nil {
		t.Fatal(err)
	}
	// The node puts the removed block's transaction back in its mempool,
	// in the background; drop it, as a node that restarted would have.
	dropped := false
	for deadline := time.Now().Add(10 * time.Second); !dropped && time.Now().Before(deadline); {
		sim.Rollback()
		time.Sleep(20 * time.Millisecond)
		dropped = status(t, c, tx.Hash).State == consolidate.TxUnknown
	}
	if !dropped {
		t.Fatal("the reorged transaction stayed in the mempool")
	}
	sim.Commit() // block 2 of the new branch, without it
	for _, p := range paths {
		if st := statuses(t, p.c, tx.Hash)[0]; st.State != consolidate.TxUnknown {
			t.Fatalf("%s: reorged out and dropped: %+v, want unknown", p.name, st)
		}
	}

	// The stored bytes are all it takes.
	if err := c.Broadcast(ctx, tx.Raw); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c, tx.Hash); st.State != consolidate.TxPending {
		t.Fatalf("rebroadcast: %+v, want pending", st)
	}
	block := sim.Commit()
	for _, p := range paths {
		st := statuses(t, p.c, tx.Hash)[0]
		if st.State != consolidate.TxFinal || st.BlockHash != block || st.BlockHash == old || st.BlockNumber != 3 {
			t.Fatalf("%s: mined again: %+v, want final in block 3 %s", p.name, st, block)
		}
	}
	if got := balance(t, sim, to); got.Int64() != 7 {
		t.Fatalf("recipient has %v, want 7 once", got)
	}
}
