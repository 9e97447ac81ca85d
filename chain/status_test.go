package chain_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// skewed is a real node's client with some answers altered, to show
// Status on nodes that answer differently from the simulated one.
type skewed struct {
	chain.Client
	receipt   func(*types.Receipt) // edits receipts before Status sees them
	finalized error                // returned for the finalized header
}

func (s skewed) TransactionReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	r, err := s.Client.TransactionReceipt(ctx, hash)
	if err == nil && s.receipt != nil {
		s.receipt(r)
	}
	return r, err
}

func (s skewed) HeaderByNumber(ctx context.Context, n *big.Int) (*types.Header, error) {
	if s.finalized != nil && n != nil && n.Int64() == int64(rpc.FinalizedBlockNumber) {
		return nil, s.finalized
	}
	return s.Client.HeaderByNumber(ctx, n)
}

// rpcError is an error the node sent back, as the rpc package delivers it.
type rpcError string

func (e rpcError) Error() string  { return string(e) }
func (e rpcError) ErrorCode() int { return -32000 }

var _ rpc.Error = rpcError("")

// skewedChain returns a chain, a Chain through c, and a transfer mined in
// block 1.
func skewedChain(t *testing.T, c skewed, opts *chain.Options) (*chaintest.Chain, *chain.Chain, consolidate.SignedTx) {
	t.Helper()
	sim := chaintest.NewT(t, nil)
	plain, err := sim.NewChain(opts)
	if err != nil {
		t.Fatal(err)
	}
	c.Client = sim.Client()
	o := chain.Options{ChainID: big.NewInt(chaintest.ChainID), Confirmations: 1}
	if opts != nil {
		o = *opts
	}
	ch, err := chain.New(t.Context(), c, sim.Key(), &o)
	if err != nil {
		t.Fatal(err)
	}
	tx := send(t, plain, randomAddress(t), big.NewInt(3))
	sim.Commit()
	return sim, ch, tx
}

func TestStatusWithoutEffectiveGasPrice(t *testing.T) {
	t.Parallel()
	sim, c, tx := skewedChain(t, skewed{receipt: func(r *types.Receipt) { r.EffectiveGasPrice = nil }}, nil)
	st := status(t, c, tx.Hash)
	if want := chargedFee(t, sim, tx.Hash); st.Fee == nil || st.Fee.Cmp(want) != 0 {
		t.Fatalf("fee recomputed from the transaction: %v, want %v", st.Fee, want)
	}
}

func TestStatusStaleReceipt(t *testing.T) {
	t.Parallel()
	// The node hands out a receipt from a block that is no longer at that
	// height, while it reports the transaction in a canonical block: its
	// indexes are mid-reorg. Status must not report the stale block.
	stale := func(r *types.Receipt) { r.BlockHash = common.HexToHash("0x01") }
	_, c, tx := skewedChain(t, skewed{receipt: stale}, nil)
	st, err := c.Status(t.Context(), tx.Hash)
	if err == nil {
		t.Fatalf("stale receipt reported as %+v", st)
	}
}

func TestStatusStaleReceiptOfPendingTransaction(t *testing.T) {
	t.Parallel()
	// The node hands out a receipt from a block 1 of another branch for a
	// transaction that is back in its mempool.
	sim := chaintest.NewT(t, nil)
	sim.Commit()
	var pending common.Hash
	client := stubReceipt{sim.Client(), func(h common.Hash) *types.Receipt {
		if h != pending {
			return nil
		}
		return &types.Receipt{Status: 1, BlockNumber: big.NewInt(1), BlockHash: common.HexToHash("0x02"), EffectiveGasPrice: big.NewInt(1)}
	}}
	c, err := chain.New(t.Context(), client, sim.Key(), &chain.Options{Confirmations: 1})
	if err != nil {
		t.Fatal(err)
	}
	pending = send(t, c, randomAddress(t), big.NewInt(1)).Hash
	if st := status(t, c, pending); st.State != consolidate.TxPending {
		t.Fatalf("stale receipt of a pending transaction: %+v, want pending", st)
	}
}

// stubReceipt answers receipt lookups from f when f has one.
type stubReceipt struct {
	chain.Client
	f func(common.Hash) *types.Receipt
}

func (s stubReceipt) TransactionReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	if r := s.f(hash); r != nil {
		return r, nil
	}
	return s.Client.TransactionReceipt(ctx, hash)
}

func TestStatusNodeWithoutFinalized(t *testing.T) {
	t.Parallel()
	// A node that answers the finalized tag with an error has no finalized
	// block; depth decides alone.
	sim, c, tx := skewedChain(t, skewed{finalized: rpcError("finalized block not found")}, &chain.Options{Confirmations: 2})
	if st := status(t, c, tx.Hash); st.State != consolidate.TxMined {
		t.Fatalf("one block deep: %+v, want mined", st)
	}
	sim.Commit()
	if st := status(t, c, tx.Hash); st.State != consolidate.TxFinal {
		t.Fatalf("two blocks deep: %+v, want final", st)
	}
}

func TestStatusTransportErrorOnFinalized(t *testing.T) {
	t.Parallel()
	// A failure to reach the node is not an answer; Status fails rather
	// than guess.
	down := errors.New("dial tcp: connection refused")
	_, c, tx := skewedChain(t, skewed{finalized: down}, nil)
	if _, err := c.Status(t.Context(), tx.Hash); !errors.Is(err, down) {
		t.Fatalf("got %v, want the transport error", err)
	}
}
