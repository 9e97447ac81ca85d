package consolidate

import "errors"

// Sentinel errors, matched with errors.Is. An error of the Service that
// the caller can act on wraps one of these or a context error; any other
// is a failure of the store, the chain or a backend, and is transient.
var (
	// ErrNotFound: the account or transaction does not exist.
	ErrNotFound = errors.New("consolidate: not found")
	// ErrInvalidAddress: the recipient is malformed or the zero address.
	ErrInvalidAddress = errors.New("consolidate: invalid address")
	// ErrInvalidAmount: the amount is not in (0, 2^256).
	ErrInvalidAmount = errors.New("consolidate: invalid amount")
	// ErrSelfTransfer: the recipient is the sending wallet itself.
	ErrSelfTransfer = errors.New("consolidate: transfer to the sending wallet")
	// ErrInvalidReference: an idempotency key or credit reference is empty
	// where one is required, too long, or has a character outside
	// printable ASCII or a space.
	ErrInvalidReference = errors.New("consolidate: invalid reference")
	// ErrInvalidArgument: a parameter outside its documented range, such
	// as a page size of Transactions.
	ErrInvalidArgument = errors.New("consolidate: invalid argument")
	// ErrInvalidConfig: New was given a Config it cannot run with.
	ErrInvalidConfig = errors.New("consolidate: invalid config")
	// ErrInsufficientFunds: the account's available balance does not cover
	// the amount plus the fee.
	ErrInsufficientFunds = errors.New("consolidate: insufficient funds")
	// ErrAccountLocked: another operation holds the account's lock. HTTP
	// services usually answer 409 Conflict; retrying later is safe.
	ErrAccountLocked = errors.New("consolidate: account is locked by another operation, try again later")
	// ErrIdempotencyConflict: the idempotency key (or credit reference) was
	// used before with a different request.
	ErrIdempotencyConflict = errors.New("consolidate: idempotency key reused with a different request")
	// ErrNotPending: the transaction is already final; a settlement was not
	// applied a second time.
	ErrNotPending = errors.New("consolidate: transaction is not pending")
	// ErrLockUnavailable: the lock backend could not be reached, so the
	// account could not be locked. Submit fails closed.
	ErrLockUnavailable = errors.New("consolidate: lock backend unavailable")
	// ErrLeaseLost: a lock or queue lease was no longer held by the caller
	// (it expired or was taken by someone else).
	ErrLeaseLost = errors.New("consolidate: lease lost")
	// ErrRejected: the chain refused the signed transaction for good (it
	// can never be included as signed). Returned by Chain.Broadcast.
	ErrRejected = errors.New("consolidate: transaction rejected by the chain")
	// ErrNonceTooLow: the node has already included a transaction with the
	// sending wallet's nonce. Returned by Chain.Broadcast; it proves nothing
	// by itself (the included transaction may be one of ours), so the
	// Service checks every attempt of that nonce before deciding.
	ErrNonceTooLow = errors.New("consolidate: nonce too low")
	// ErrUnderpriced: the node will not take these bytes at their price
	// (below the base fee, the minimum tip, or a too-small replacement
	// bump). Returned by Chain.Broadcast; the cure is a fee bump.
	ErrUnderpriced = errors.New("consolidate: transaction underpriced")
	// ErrWalletUnderfunded: the sending wallet cannot pay for the transfer
	// plus gas. Returned by Chain.Broadcast; it needs an operator to top the
	// wallet up, and the Service retries meanwhile. Submit returns it for a
	// token transfer that no wallet holds enough of the token for, and
	// stores nothing.
	ErrWalletUnderfunded = errors.New("consolidate: sending wallet has insufficient funds")
	// ErrFeeTooHigh: the network's fees are above the configured maximum,
	// so no quote or bump can be made now. Returned by Chain.Quote and
	// Chain.Bump, and so by Submit, which quotes before it stores.
	ErrFeeTooHigh = errors.New("consolidate: network fee above the configured maximum")
	// ErrOtherWallet: the transaction was signed by a wallet other than
	// the Service's (a rotated key, or another service sharing the
	// store), so only that wallet can replace it. Returned by Cancel.
	ErrOtherWallet = errors.New("consolidate: transaction signed by another sending wallet")
	// ErrClosed: the Service or backend has been closed.
	ErrClosed = errors.New("consolidate: closed")
	// ErrSignerMismatch: the signer returned a transaction other than the
	// one asked for (another recipient, amount, data, nonce, gas, fee,
	// chain or sender). Nothing it returned was stored or sent.
	ErrSignerMismatch = errors.New("consolidate: signed transaction does not match the request")
	// ErrUnknownToken: the token is not one of Config.Tokens, so no
	// account can be opened in it, and an account holding it cannot be
	// spent from by this Service.
	ErrUnknownToken = errors.New("consolidate: token not configured")
	// ErrWouldRevert: the chain says the transfer would revert if sent (a
	// token paused, or a recipient the token blocks), so Submit refuses
	// it and stores nothing. Returned by Chain.Quote.
	ErrWouldRevert = errors.New("consolidate: transfer would revert")
	// ErrWrongAsset: a store was asked to move an asset other than the
	// one the account holds. Nothing was written.
	ErrWrongAsset = errors.New("consolidate: the account holds another asset")
)
