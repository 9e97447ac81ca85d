package consolidate

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// Chain is the Ethereum network as the Service sees it: one sending wallet
// that signs transfers, a way to broadcast them, and a way to ask where a
// transaction stands. The chain package implements it on go-ethereum's
// ethclient for any JSON-RPC endpoint.
//
// Implementations return errors and never retry; the Service decides.
type Chain interface {
	// Sender is the address of the wallet that signs and pays for
	// transfers.
	Sender() common.Address
	// Nonce returns the next nonce of the sending wallet, counting
	// transactions in the node's mempool.
	Nonce(ctx context.Context) (uint64, error)
	// Quote returns the gas limit and fee caps to sign transfer t now. It
	// may do I/O.
	Quote(ctx context.Context, t Transfer) (Quote, error)
	// Sign builds and signs transfer t with the given nonce and quote: a
	// payment of ether, or a call of the token's transfer. It may do I/O
	// (a remote signer, a KMS) unless the Chain reports otherwise through
	// OfflineSigning. A signature that does not match the request fails
	// with an error wrapping ErrSignerMismatch.
	Sign(ctx context.Context, nonce uint64, t Transfer, q Quote) (SignedTx, error)
	// SignCancel signs a zero-value transfer from the sending wallet to
	// itself with the given nonce and quote: a replacement that, once
	// included, consumes the nonce so no other attempt for it can land.
	// Like Sign, it may do I/O.
	SignCancel(ctx context.Context, nonce uint64, q Quote) (SignedTx, error)
	// Bump returns the quote for a replacement of a transaction signed with
	// prev: tip and fee cap each at least 10 % above prev's (so nodes accept
	// the replacement) and at least the network's current suggestion, with
	// prev's gas limit. It fails with ErrFeeTooHigh if that would exceed the
	// configured maximum fee.
	Bump(ctx context.Context, prev Quote) (Quote, error)
	// Broadcast sends a signed transaction. Sending bytes the node already
	// knows is success. Errors may wrap ErrRejected (these bytes can never
	// be included), ErrNonceTooLow, ErrUnderpriced or ErrWalletUnderfunded;
	// anything else is transient.
	Broadcast(ctx context.Context, raw []byte) error
	// Statuses reports where each transaction stands, in the order of
	// hashes, in as few round trips as the node allows (one batch call over
	// JSON-RPC). An error may be transient (a node still indexing, a reorg
	// under way): the caller checks again later rather than concluding
	// anything.
	Statuses(ctx context.Context, hashes []common.Hash) ([]ChainStatus, error)
	// FinalizedNonce returns the sending wallet's nonce as of the newest
	// final block: every nonce below it is consumed for good, by whichever
	// transaction was included.
	FinalizedNonce(ctx context.Context) (uint64, error)
}

// OfflineSigning is implemented by a Chain that can tell whether its Sign
// is pure computation (a key in process memory). Submit signs such a
// Chain's transfers inside the store's write, one durable commit per
// transfer; any other Chain's are reserved first, signed outside the
// store's write transaction, and recorded after (see Service.Submit).
type OfflineSigning interface {
	SignsOffline() bool
}

// Quote holds the EIP-1559 gas parameters of one signed transfer.
type Quote struct {
	GasLimit  uint64
	GasTipCap *big.Int
	GasFeeCap *big.Int
}

// TxState is where a transaction stands on the chain.
type TxState int

// Transaction states as seen by the node.
const (
	// TxUnknown: no receipt and not in the node's mempool: dropped, or
	// never sent.
	TxUnknown TxState = iota
	// TxPending: in the node's mempool, not mined.
	TxPending
	// TxMined: in a canonical block that is not final yet.
	TxMined
	// TxFinal: in a canonical block that is final (at or below the node's
	// finalized block, or deep enough).
	TxFinal
)

func (s TxState) String() string {
	switch s {
	case TxUnknown:
		return "unknown"
	case TxPending:
		return "pending"
	case TxMined:
		return "mined"
	case TxFinal:
		return "final"
	}
	return "invalid"
}

// ChainStatus is what the chain says of one transaction.
type ChainStatus struct {
	State TxState
	// The fields below are set when State is TxMined or TxFinal.
	Success       bool   // receipt status 1
	BlockNumber   uint64 // block that holds it
	BlockHash     common.Hash
	Fee           *big.Int // gasUsed × effectiveGasPrice
	Confirmations uint64   // head − BlockNumber + 1
	// Transfers are the ERC-20 Transfer events in the receipt: the
	// evidence that a token transfer moved what it was asked to.
	Transfers []TokenTransfer
}
