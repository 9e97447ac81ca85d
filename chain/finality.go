package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/rpc"
)

// FinalizedNonce returns the sending wallet's nonce as of the newest block
// Statuses counts as final: the node's finalized block, or the block
// Options.Confirmations deep (counting the head as one) when that is
// higher, as on a node whose finalized block lags or that has none. Every
// nonce below it is used by a final transaction, whichever one that was.
//
// The node must still hold that block's state: full nodes keep the state
// of recent blocks only, so a Confirmations of hundreds of blocks or a
// finalized block far behind the head may get an error.
func (c *Chain) FinalizedNonce(ctx context.Context) (uint64, error) {
	if c.client == nil {
		return 0, errNotNew
	}
	h := newHeights()
	if err := c.node().ask(ctx, h.queries()); err != nil {
		return 0, fmt.Errorf("consolidate: chain: finalized nonce: %w", err)
	}
	head, finalized, err := h.numbers()
	if err != nil {
		return 0, err
	}
	block := finalBlock(head, finalized, c.opts.Confirmations)
	nonce, err := c.client.NonceAt(ctx, c.sender, new(big.Int).SetUint64(block))
	if err != nil {
		return 0, fmt.Errorf("consolidate: chain: nonce of %s at block %d: %w", c.sender, block, err)
	}
	return nonce, nil
}

// finalBlock is the newest block that is final by the rule Statuses
// applies: at or below finalized, or at least confirmations deep below
// head.
func finalBlock(head, finalized, confirmations uint64) uint64 {
	// A block at height n has head − n + 1 confirmations, so the deepest
	// final one by depth is head − confirmations + 1.
	if confirmations > 0 && head >= confirmations-1 {
		return max(finalized, head-(confirmations-1))
	}
	return finalized
}

// heights asks for the head and finalized block numbers in the same round
// as other queries.
type heights struct {
	head      *query
	finalized *query
}

func newHeights() *heights {
	return &heights{
		head:      &query{kind: headQuery},
		finalized: &query{kind: headerQuery, number: rpc.FinalizedBlockNumber},
	}
}

func (h *heights) queries() []*query { return []*query{h.head, h.finalized} }

// numbers returns the answers. The finalized number is 0 when the node has
// no finalized block (before the merge, or a node that does not know the
// tag); depth then decides finality alone.
func (h *heights) numbers() (head, finalized uint64, err error) {
	if h.head.err != nil {
		return 0, 0, fmt.Errorf("consolidate: chain: head block: %w", h.head.err)
	}
	f := h.finalized
	var rpcErr rpc.Error
	switch {
	case f.err == nil && f.header.Number != nil && f.header.Number.IsUint64():
		return h.head.head, f.header.Number.Uint64(), nil
	case f.err == nil, errors.Is(f.err, ethereum.NotFound):
		return h.head.head, 0, nil
	case errors.As(f.err, &rpcErr):
		// The node answered, with an error: it has no finalized block.
		// A transport failure is not that and is returned below.
		return h.head.head, 0, nil
	}
	return 0, 0, fmt.Errorf("consolidate: chain: finalized block: %w", f.err)
}
