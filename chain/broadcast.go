package chain

import (
	"context"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/go-consolidate/consolidate"
)

// Broadcast sends a signed transaction to the node.
//
// Sending bytes the node already holds is success, so rebroadcasting is
// always safe. The node's refusal is translated (see classify): an error
// wrapping consolidate.ErrRejected means these bytes can never be
// included; ErrNonceTooLow, ErrUnderpriced and ErrWalletUnderfunded name
// states that can change; anything else is returned wrapped and may be
// transient.
func (c *Chain) Broadcast(ctx context.Context, raw []byte) error {
	if c.client == nil {
		return errNotNew
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		return fmt.Errorf("%w: undecodable transaction: %w", consolidate.ErrRejected, err)
	}
	// A transaction for another network is refused by every node of this
	// one; saying so here gives a clearer error than "invalid sender".
	if id := tx.ChainId(); id == nil || id.Cmp(c.chainID) != 0 {
		return fmt.Errorf("%w: %s has chain ID %v, want %v", consolidate.ErrRejected, tx.Hash(), id, c.chainID)
	}
	if err := classify(c.client.SendTransaction(ctx, tx)); err != nil {
		return wrap(fmt.Sprintf("broadcast %s", tx.Hash()), err)
	}
	return nil
}

// verdict is what a node's answer to a sent transaction means.
type verdict int

const (
	transient   verdict = iota // may succeed if sent again later
	known                      // the node already has these bytes: success
	nonceTooLow                // ErrNonceTooLow
	underpriced                // ErrUnderpriced
	underfunded                // ErrWalletUnderfunded
	rejected                   // consolidate.ErrRejected: never includable
)

// nodeErrors maps substrings of node error messages to verdicts, first
// match wins. JSON-RPC carries only the message, so matching text is the
// only way to tell errors apart. The strings are go-ethereum's (core,
// core/txpool, core/types, internal/ethapi); other clients that copy
// geth's wording are covered too.
var nodeErrors = []struct {
	substr  string
	verdict verdict
}{
	// Same hash as one in the pool.
	{"already known", known},       // txpool.ErrAlreadyKnown
	{"known transaction", known},   // older geth and its forks
	{"nonce too low", nonceTooLow}, // core.ErrNonceTooLow

	{"replacement transaction underpriced", underpriced}, // txpool.ErrReplaceUnderpriced
	{"transaction underpriced", underpriced},             // txpool.ErrUnderpriced (pool full of better-paying txs)
	{"transaction gas price below minimum", underpriced}, // txpool.ErrTxGasPriceTooLow (node's minimum tip)
	// The base fee rose above the fee cap. Not permanent: the base fee
	// can fall again, and a pool keeps such transactions waiting.
	{"max fee per gas less than block base fee", underpriced}, // core.ErrFeeCapTooLow
	{"fee cap less than base fee", underpriced},               // types.ErrGasFeeCapTooLow

	{"insufficient funds", underfunded}, // core.ErrInsufficientFunds, ErrInsufficientFundsForTransfer

	// Properties of the signed bytes themselves: no retry can help.
	{"intrinsic gas too low", rejected},                                // core.ErrIntrinsicGas
	{"insufficient gas for floor data gas cost", rejected},             // core.ErrFloorDataGas
	{"invalid sender", rejected},                                       // txpool.ErrInvalidSender (bad signature or chain ID)
	{"invalid chain id", rejected},                                     // types.ErrInvalidChainId
	{"chain id mismatch", rejected},                                    // other clients
	{"only replay-protected", rejected},                                // ethapi: pre-EIP-155 signature
	{"exceeds block gas limit", rejected},                              // txpool.ErrGasLimit
	{"transaction gas limit too high", rejected},                       // core.ErrGasLimitTooHigh (EIP-7825)
	{"exceeds the configured cap", rejected},                           // ethapi: tx fee (x ether) exceeds the configured cap (y ether)
	{"oversized data", rejected},                                       // txpool.ErrOversizedData
	{"max priority fee per gas higher than max fee per gas", rejected}, // core.ErrTipAboveFeeCap
	{"higher than 2^256-1", rejected},                                  // core.ErrTipVeryHigh, ErrFeeCapVeryHigh
	{"negative value", rejected},                                       // txpool.ErrNegativeValue
	{"nonce has max value", rejected},                                  // core.ErrNonceMax
	{"transaction type not supported", rejected},                       // core.ErrTxTypeNotSupported

	// Listed so the intent is explicit: a node still indexing, or a full
	// pool, answers differently later. Anything unlisted is transient too.
	{"transaction indexing is in progress", transient}, // ethapi.TxIndexingError
	{"nonce too high", transient},                      // core.ErrNonceTooHigh: a gap that earlier nonces fill
	{"txpool is full", transient},                      // legacypool.ErrTxPoolOverflow
}

// classify translates an error from SendTransaction. It returns nil when
// the node already knows the transaction.
func classify(err error) error {
	if err == nil {
		return nil
	}
	msg := strings.ToLower(err.Error())
	v := transient
	for _, e := range nodeErrors {
		if strings.Contains(msg, e.substr) {
			v = e.verdict
			break
		}
	}
	switch v {
	case known:
		return nil
	case nonceTooLow:
		return fmt.Errorf("%w: %w", ErrNonceTooLow, err)
	case underpriced:
		return fmt.Errorf("%w: %w", ErrUnderpriced, err)
	case underfunded:
		return fmt.Errorf("%w: %w", ErrWalletUnderfunded, err)
	case rejected:
		return fmt.Errorf("%w: %w", consolidate.ErrRejected, err)
	}
	return err
}
