package chain

import "errors"

// Errors of this package, matched with errors.Is. None of them wraps
// consolidate.ErrRejected: each describes a state that can change, so the
// same signed bytes may still be included later.
var (
	// ErrNonceTooLow: the node has already included a transaction with this
	// nonce from the sending wallet. That may be these very bytes (mined
	// since they were last sent) or another transaction with the same
	// nonce; ask Status for the hash to tell which.
	ErrNonceTooLow = errors.New("consolidate: chain: nonce too low")
	// ErrUnderpriced: the node will not take these bytes at their price
	// now: below its minimum tip, below the base fee, or not enough above a
	// pending transaction with the same nonce to replace it. The bytes may
	// be accepted later, or a new attempt with higher fees may be signed.
	ErrUnderpriced = errors.New("consolidate: chain: transaction underpriced")
	// ErrWalletUnderfunded: the sending wallet cannot pay the amount plus
	// the maximum gas cost. The bytes are accepted once it is topped up.
	ErrWalletUnderfunded = errors.New("consolidate: chain: sending wallet has insufficient funds")
	// ErrFeeTooHigh: Quote found the network's current base fee plus tip
	// above Options.MaxFeePerGas. Quote again when fees have dropped.
	ErrFeeTooHigh = errors.New("consolidate: chain: network fee above MaxFeePerGas")
	// ErrInvalidQuote: Sign was given a quote no transaction can be built
	// from (gas limit below 21000, missing, negative or oversized fees, or a
	// tip above the fee cap).
	ErrInvalidQuote = errors.New("consolidate: chain: invalid quote")
)

// errNotNew guards methods called on a Chain that New did not make, which
// would otherwise dereference nil.
var errNotNew = errors.New("consolidate: chain: Chain not created with New or Dial")
