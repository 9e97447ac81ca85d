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

// Statuses reports where each transaction stands, in the order of hashes.
//
// With a receipt whose block is still canonical, the state is TxFinal when
// the block is at or below the node's finalized block or at least
// Options.Confirmations deep, else TxMined. A receipt from a block that is
// no longer canonical (a reorg the node has not fully reflected) is
// ignored. Without a usable receipt the state is TxPending if the node's
// mempool holds the transaction, else TxUnknown.
//
// On a client that exposes its JSON-RPC connection (see RPCClient) the
// questions go in batch calls: the receipts with the head and finalized
// blocks, then the headers at the receipts' heights with the transactions
// that have no receipt. That is two round trips for up to about a hundred
// hashes, a third only when a receipt turns out to be from a block no
// longer canonical. Other clients are asked one call at a time.
//
// If the node cannot be reached, or its answer about any one hash is an
// error or inconsistent (still indexing, mid-reorg), Statuses returns an
// error naming that hash and no statuses: ask again later.
func (c *Chain) Statuses(ctx context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	if c.client == nil {
		return nil, errNotNew
	}
	out := make([]consolidate.ChainStatus, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	n := c.node()
	h := newHeights()
	lookups := make([]lookup, len(hashes))
	round := h.queries()
	for i, h := range hashes {
		lookups[i] = lookup{hash: h, receipt: &query{kind: receiptQuery, hash: h}}
		round = append(round, lookups[i].receipt)
	}
	headers := make(map[int64]*query)
	// Each lookup asks for something new in at most three rounds, so the
	// loop ends.
	for len(round) > 0 {
		if err := n.ask(ctx, round); err != nil {
			return nil, fmt.Errorf("consolidate: chain: statuses: %w", err)
		}
		round = round[:0]
		for i := range lookups {
			round = append(round, c.advance(&lookups[i], h, headers)...)
		}
	}
	for i, l := range lookups {
		if l.err != nil {
			return nil, l.err
		}
		out[i] = l.status
	}
	return out, nil
}

// Status reports where the transaction with hash stands: Statuses of one
// hash.
func (c *Chain) Status(ctx context.Context, hash common.Hash) (consolidate.ChainStatus, error) {
	st, err := c.Statuses(ctx, []common.Hash{hash})
	if err != nil {
		return consolidate.ChainStatus{}, err
	}
	return st[0], nil
}

// lookup is Statuses' progress on one hash. Its step says which answers
// it has and so what advance does next.
type lookup struct {
	hash    common.Hash
	step    lookupStep
	receipt *query // asked first
	header  *query // the header at the receipt's height, if it has one
	tx      *query // asked when there is no usable receipt, or to price one

	status consolidate.ChainStatus
	err    error
}

type lookupStep int

const (
	askedReceipt lookupStep = iota // receipt answered
	askedHeader                    // header (and tx, if asked) answered
	askedTx                        // tx answered, no usable receipt
	settled                        // status or err set
)

// advance moves l on with the answers of the round just asked and returns
// the queries it needs answered next, none once it has settled. Headers
// are shared between lookups by height.
func (c *Chain) advance(l *lookup, hs *heights, headers map[int64]*query) []*query {
	switch l.step {
	case askedReceipt:
		r, err := l.receipt.receipt, l.receipt.err
		switch {
		case errors.Is(err, ethereum.NotFound), indexing(err):
			// A node still indexing answers receipt lookups with an error
			// even for transactions in its mempool, which the transaction
			// lookup does find; for the others that lookup returns the
			// indexing error.
			return l.askTx(askedTx)
		case err != nil:
			l.fail(fmt.Errorf("consolidate: chain: receipt of %s: %w", l.hash, err))
			return nil
		case r.BlockNumber == nil || r.BlockNumber.Sign() < 0 || !r.BlockNumber.IsInt64():
			l.fail(fmt.Errorf("consolidate: chain: receipt of %s has no block number", l.hash))
			return nil
		}
		var next []*query
		number := r.BlockNumber.Int64()
		h, ok := headers[number]
		if !ok {
			h = &query{kind: headerQuery, number: rpc.BlockNumber(number)}
			headers[number] = h
			next = append(next, h)
		}
		l.header, l.step = h, askedHeader
		if r.EffectiveGasPrice == nil {
			// Nodes from before the receipt field existed leave it out; the
			// price is recomputed from the transaction, asked for now to
			// save a round trip.
			next = append(next, l.askTx(askedHeader)...)
		}
		return next

	case askedHeader:
		r, h := l.receipt.receipt, l.header
		switch {
		case errors.Is(h.err, ethereum.NotFound), h.err == nil && h.header.Hash() != r.BlockHash:
			// The chain was rewound below the block, or the block at that
			// height is another one now.
			if l.tx != nil {
				l.settle(unmined(l.hash, l.tx))
				return nil
			}
			return l.askTx(askedTx)
		case h.err != nil:
			l.fail(fmt.Errorf("consolidate: chain: header %d: %w", r.BlockNumber, h.err))
			return nil
		}
		l.settle(c.mined(l, hs))
		return nil

	case askedTx:
		l.settle(unmined(l.hash, l.tx))
	}
	return nil
}

func (l *lookup) askTx(next lookupStep) []*query {
	l.tx, l.step = &query{kind: txQuery, hash: l.hash}, next
	return []*query{l.tx}
}

func (l *lookup) settle(st consolidate.ChainStatus, err error) {
	l.status, l.err, l.step = st, err, settled
}

func (l *lookup) fail(err error) { l.settle(consolidate.ChainStatus{}, err) }

// mined reports a transaction whose receipt's block is canonical.
func (c *Chain) mined(l *lookup, hs *heights) (consolidate.ChainStatus, error) {
	r, header := l.receipt.receipt, l.header.header
	head, finalized, err := hs.numbers()
	if err != nil {
		return consolidate.ChainStatus{}, err
	}
	price := r.EffectiveGasPrice
	if price == nil {
		if l.tx.err != nil {
			return consolidate.ChainStatus{}, fmt.Errorf("consolidate: chain: transaction %s for its gas price: %w", l.hash, l.tx.err)
		}
		price = effectivePrice(l.tx.tx, header.BaseFee)
	}
	number := r.BlockNumber.Uint64()
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
		Success:       r.Status == types.ReceiptStatusSuccessful,
		Transfers:     transferEvents(r.Logs),
		BlockNumber:   number,
		BlockHash:     r.BlockHash,
		Fee:           new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), price),
		Confirmations: confirmations,
	}, nil
}

// unmined reports a transaction that has no receipt in a canonical block,
// from the node's answer to a transaction lookup.
func unmined(hash common.Hash, q *query) (consolidate.ChainStatus, error) {
	switch {
	case errors.Is(q.err, ethereum.NotFound):
		return consolidate.ChainStatus{State: consolidate.TxUnknown}, nil
	case q.err != nil:
		return consolidate.ChainStatus{}, fmt.Errorf("consolidate: chain: transaction %s: %w", hash, q.err)
	case q.pending:
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
