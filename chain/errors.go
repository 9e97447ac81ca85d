package chain

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-consolidate/consolidate"
)

// Errors returned by a Chain, matched with errors.Is. The first four are
// the consolidate package's own sentinels under shorter names, so callers
// of either package match the same values. None of them wraps
// consolidate.ErrRejected: each describes a state that can change, so the
// same signed bytes (or a new attempt) may still be included later.
var (
	// ErrNonceTooLow: the node has already included a transaction with this
	// nonce from the sending wallet. That may be these very bytes (mined
	// since they were last sent) or another transaction with the same
	// nonce; ask Statuses about every attempt's hash to tell which.
	ErrNonceTooLow = consolidate.ErrNonceTooLow
	// ErrUnderpriced: the node will not take these bytes at their price
	// now: below its minimum tip, below the base fee, or not enough above a
	// pending transaction with the same nonce to replace it. The bytes may
	// be accepted later, or a new attempt priced by Bump may be signed.
	ErrUnderpriced = consolidate.ErrUnderpriced
	// ErrWalletUnderfunded: the sending wallet cannot pay the amount plus
	// the maximum gas cost. The bytes are accepted once it is topped up.
	ErrWalletUnderfunded = consolidate.ErrWalletUnderfunded
	// ErrFeeTooHigh: Quote found the network's current base fee plus tip
	// above Options.MaxFeePerGas, or Bump could not raise the fees enough
	// without exceeding it. Try again when fees have dropped.
	ErrFeeTooHigh = consolidate.ErrFeeTooHigh
	// ErrInvalidQuote: Sign, SignCancel or Bump was given a quote no
	// transaction can be built from (gas limit below 21000, missing,
	// negative or oversized fees, or a tip above the fee cap).
	ErrInvalidQuote = errors.New("consolidate: chain: invalid quote")
)

// errNotNew guards methods called on a Chain that New did not make, which
// would otherwise dereference nil.
var errNotNew = errors.New("consolidate: chain: Chain not created with New or Dial")

// wrap says which operation failed, unless err already reads
// "consolidate: …" (a refusal built on one of the library's sentinels):
// that says what happened, and the prefix appears once.
func wrap(op string, err error) error {
	if strings.HasPrefix(err.Error(), "consolidate: ") {
		return err
	}
	return fmt.Errorf("consolidate: chain: %s: %w", op, err)
}
