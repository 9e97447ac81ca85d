package chain

import (
	"context"
	"encoding/json"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
)

// RPCClient is implemented by a Client that exposes its JSON-RPC
// connection, as *ethclient.Client does. A Chain on such a client sends
// the many small reads of Statuses and FinalizedNonce as batch calls,
// which any JSON-RPC 2.0 node accepts, instead of one call at a time.
//
// A client wrapper that embeds the Client interface hides this method, so
// a Chain on it asks one call at a time; embed the concrete client, or
// add the method, to keep batching.
type RPCClient interface {
	Client() *rpc.Client
}

// maxBatch bounds the calls in one JSON-RPC batch. Nodes and providers cap
// batch size (go-ethereum at 1000 calls by default, many providers lower);
// longer rounds are split into several batches.
const maxBatch = 100

// node answers queries: as JSON-RPC batches, or one client call at a time.
// The error it returns means the round as a whole failed (the node could
// not be reached, the context ended); the node's answer to each query,
// including an error, is in the query.
type node interface {
	ask(ctx context.Context, qs []*query) error
}

// node returns the way to ask the Chain's client.
func (c *Chain) node() node {
	if b, ok := c.client.(RPCClient); ok {
		if rc := b.Client(); rc != nil {
			return batchNode{rc}
		}
	}
	return callNode{c.client}
}

// A query is one read from the node and its answer.
type query struct {
	kind   queryKind
	hash   common.Hash     // receiptQuery, txQuery
	number rpc.BlockNumber // headerQuery: a height, or a tag such as finalized

	receipt *types.Receipt     // receiptQuery
	header  *types.Header      // headerQuery
	tx      *types.Transaction // txQuery
	pending bool               // txQuery: the node holds tx in its mempool
	head    uint64             // headQuery
	// err is the node's answer when it is not a result, ethereum.NotFound
	// when the result is null. The fields above are set when err is nil.
	err error
}

type queryKind int

const (
	receiptQuery queryKind = iota // eth_getTransactionReceipt
	txQuery                       // eth_getTransactionByHash
	headerQuery                   // eth_getBlockByNumber without transactions
	headQuery                     // eth_blockNumber
)

// batchNode asks in JSON-RPC batch calls.
type batchNode struct{ c *rpc.Client }

func (n batchNode) ask(ctx context.Context, qs []*query) error {
	for len(qs) > 0 {
		chunk := qs[:min(len(qs), maxBatch)]
		qs = qs[len(chunk):]
		elems := make([]rpc.BatchElem, len(chunk))
		results := make([]json.RawMessage, len(chunk))
		for i, q := range chunk {
			elems[i] = q.request()
			elems[i].Result = &results[i]
		}
		if err := n.c.BatchCallContext(ctx, elems); err != nil {
			return err
		}
		for i, q := range chunk {
			q.err = elems[i].Error
			if q.err == nil {
				q.err = q.decode(results[i])
			}
		}
	}
	return nil
}

// request is q as a JSON-RPC call, the way ethclient makes it.
func (q *query) request() rpc.BatchElem {
	switch q.kind {
	case receiptQuery:
		return rpc.BatchElem{Method: "eth_getTransactionReceipt", Args: []any{q.hash}}
	case txQuery:
		return rpc.BatchElem{Method: "eth_getTransactionByHash", Args: []any{q.hash}}
	case headerQuery:
		return rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{q.number, false}}
	}
	return rpc.BatchElem{Method: "eth_blockNumber"}
}

// decode sets q's answer from a call's JSON result.
func (q *query) decode(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return ethereum.NotFound
	}
	switch q.kind {
	case receiptQuery:
		return json.Unmarshal(raw, &q.receipt)
	case txQuery:
		// Mined transactions come with their block; pending ones with a
		// null block number.
		var block struct {
			Number *hexutil.Big `json:"blockNumber"`
		}
		if err := json.Unmarshal(raw, &q.tx); err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &block); err != nil {
			return err
		}
		q.pending = block.Number == nil
		return nil
	case headerQuery:
		return json.Unmarshal(raw, &q.header)
	}
	var head hexutil.Uint64
	err := json.Unmarshal(raw, &head)
	q.head = uint64(head)
	return err
}

// callNode asks through the Client's methods, one call per query.
type callNode struct{ c Client }

func (n callNode) ask(ctx context.Context, qs []*query) error {
	for _, q := range qs {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch q.kind {
		case receiptQuery:
			q.receipt, q.err = n.c.TransactionReceipt(ctx, q.hash)
			q.err = notFound(q.receipt == nil, q.err)
		case txQuery:
			q.tx, q.pending, q.err = n.c.TransactionByHash(ctx, q.hash)
			q.err = notFound(q.tx == nil, q.err)
		case headerQuery:
			q.header, q.err = n.c.HeaderByNumber(ctx, big.NewInt(q.number.Int64()))
			q.err = notFound(q.header == nil, q.err)
		case headQuery:
			q.head, q.err = n.c.BlockNumber(ctx)
		}
	}
	return nil
}

// notFound makes a nil result without an error the NotFound that
// ethclient returns for a null one.
func notFound(missing bool, err error) error {
	if err == nil && missing {
		return ethereum.NotFound
	}
	return err
}
