package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/go-consolidate/consolidate"
)

// Status reports where the transaction with hash stands.
//
// With a receipt whose block is still canonical, the state is TxFinal when
// the block is at or below the node's finalized block or at least
// Options.Confirmations deep, else TxMined. A receipt from a block that is
// no longer canonical (a reorg the node has not fully reflected) is
// ignored. Without a usable receipt the state is TxPending if the node's
// mempool holds the transaction, else TxUnknown.
func (c *Chain) Status(ctx context.Context, hash common.Hash) (consolidate.ChainStatus, error) {
	if c.client == nil {
		return consolidate.ChainStatus{}, errNotNew
	}
	receipt, err := c.client.TransactionReceipt(ctx, hash)
	switch {
	case errors.Is(err, ethereum.NotFound), indexing(err), err == nil && receipt == nil:
		// A node still indexing answers receipt lookups with an error even
		// for transactions in its mempool, which unmined does find; for
		// the others unmined returns the indexing error.
		return c.unmined(ctx, hash)
	case err != nil:
		return consolidate.ChainStatus{}, fmt.Errorf("consolidate: chain: receipt of %s: %w", hash, err)
	case receipt.BlockNumber == nil || receipt.BlockNumber.Sign() < 0 || !receipt.BlockNumber.IsUint64():
		return consolidate.ChainStatus{}, fmt.Errorf("consolidate: chain: receipt of %s has no block number", hash)
	}
	number := receipt.BlockNumber.Uint64()

	// Head and finalized are read before the canonical check, so a reorg
	// that lands between the reads is caught by the check rather than
	// counted as depth.
	head, err := c.client.BlockNumber(ctx)
	if err != nil {
		return consolidate.ChainStatus{}, fmt.Errorf("consolidate: chain: head block: %w", err)
	}
	finalized, err := c.finalized(ctx)
	if err != nil {
		return consolidate.ChainStatus{}, err
	}
	header, err := c.client.HeaderByNumber(ctx, receipt.BlockNumber)
	switch {
	case errors.Is(err, ethereum.NotFound), err == nil && header == nil:
		return c.unmined(ctx, hash) // the chain was rewound below the block
	case err != nil:
		return consolidate.ChainStatus{}, fmt.Errorf("consolidate: chain: header %d: %w", number, err)
	case header.Hash() != receipt.BlockHash:
		return c.unmined(ctx, hash)
	}

	fee, err := c.fee(ctx, hash, receipt, header)
	if err != nil {
		return consolidate.ChainStatus{}, err
	}
	// A node behind a load balancer may answer with an older head than the
	// block it just served; the block itself is one confirmation.
	confirmations := uint64(1)
	if head >= number {
		confirmations = head - number + 1
	}
	state := consolidate.TxMined
	if number <= finalized || confirmations >= c.opts.Confirmations {
		state = consolidate.TxFinal
	}
	return consolidate.ChainStatus{
		State:         state,
		Success:       receipt.Status == types.ReceiptStatusSuccessful,
		BlockNumber:   number,
		BlockHash:     receipt.BlockHash,
		Fee:           fee,
		Confirmations: confirmations,
	}, nil
}

// unmined reports a transaction that has no receipt in a canonical block.
func (c *Chain) unmined(ctx context.Context, hash common.Hash) (consolidate.ChainStatus, error) {
	_, pending, err := c.client.TransactionByHash(ctx, hash)
	switch {
	case errors.Is(err, ethereum.NotFound):
		return consolidate.ChainStatus{State: consolidate.TxUnknown}, nil
	case err != nil:
		return consolidate.ChainStatus{}, fmt.Errorf("consolidate: chain: transaction %s: %w", hash, err)
	case pending:
		return consolidate.ChainStatus{State: consolidate.TxPending}, nil
	}
	// The node has the transaction in a block but no canonical receipt for
	// it: its indexes are mid-reorg. Claiming TxUnknown would invite a
	// needless rebroadcast, TxMined a wrong block; ask again later.
	return consolidate.ChainStatus{}, fmt.Errorf("consolidate: chain: transaction %s: node reports it mined but has no canonical receipt (reorg in progress)", hash)
}

// indexing reports whether err is the node saying its transaction index
// is still being built, so a transaction it cannot find may yet be in a
// block.
func indexing(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "transaction indexing is in progress")
}

// finalized returns the number of the node's finalized block, or 0 when
// the node has none (before the merge, a fresh dev chain, or a node that
// does not know the tag). Depth then decides finality alone.
func (c *Chain) finalized(ctx context.Context) (uint64, error) {
	h, err := c.client.HeaderByNumber(ctx, big.NewInt(int64(rpc.FinalizedBlockNumber)))
	var rpcErr rpc.Error
	switch {
	case err == nil && h != nil && h.Number != nil && h.Number.IsUint64():
		return h.Number.Uint64(), nil
	case err == nil, errors.Is(err, ethereum.NotFound):
		return 0, nil
	case errors.As(err, &rpcErr):
		// The node answered, with an error: it has no finalized block.
		// A transport failure is not that and is returned below.
		return 0, nil
	}
	return 0, fmt.Errorf("consolidate: chain: finalized block: %w", err)
}

// fee is what the chain charged: gasUsed × effectiveGasPrice. Nodes from
// before the receipt field existed leave it out; the price is then
// recomputed from the transaction and the block's base fee.
func (c *Chain) fee(ctx context.Context, hash common.Hash, r *types.Receipt, h *types.Header) (*big.Int, error) {
	price := r.EffectiveGasPrice
	if price == nil {
		tx, _, err := c.client.TransactionByHash(ctx, hash)
		if err == nil && tx == nil {
			err = ethereum.NotFound
		}
		if err != nil {
			return nil, fmt.Errorf("consolidate: chain: transaction %s for its gas price: %w", hash, err)
		}
		price = effectivePrice(tx, h.BaseFee)
	}
	return new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), price), nil
}

// effectivePrice is the price per gas a mined transaction paid:
// min(fee cap, base fee + tip) after EIP-1559, its gas price before.
func effectivePrice(tx *types.Transaction, baseFee *big.Int) *big.Int {
	if baseFee == nil {
		return new(big.Int).Set(tx.GasPrice())
	}
	price := new(big.Int).Add(baseFee, tx.GasTipCap())
	if price.Cmp(tx.GasFeeCap()) > 0 {
		price.Set(tx.GasFeeCap())
	}
	return price
}
