package consolidate

import (
	"context"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Store is the durable ledger: accounts, transactions, per-sender nonces,
// idempotency keys and the event outbox. It is the single source of truth;
// every balance change happens inside one store transaction together with
// the status change that causes it.
//
// Implementations must be safe for concurrent use by several goroutines and
// several processes sharing the same database. They return errors and never
// retry; errors wrap the package's sentinels (ErrNotFound,
// ErrInsufficientFunds, ErrIdempotencyConflict, ErrNotPending) where one
// applies. The conformance suite in store/storetest checks all of this.
type Store interface {
	// CreateAccount creates an empty account holding p.Token (ether when
	// zero). With a p.Key (1 to 255 bytes) it does so once per key: a
	// repeated key returns the account created with it, as it stands, so
	// that a retried request does not open a second one; a repeated key
	// with another token is ErrIdempotencyConflict.
	CreateAccount(ctx context.Context, p NewAccount) (Account, error)
	// Account returns one account, or ErrNotFound.
	Account(ctx context.Context, id int64) (Account, error)
	// Credit adds amount (> 0) to both balances of the account, once per
	// reference: a repeated reference with the same amount returns the
	// account unchanged, with a different amount ErrIdempotencyConflict.
	Credit(ctx context.Context, accountID int64, amount *big.Int, reference string) (Account, error)

	// Submit records a new PENDING transaction in one durable store
	// transaction: it checks the idempotency key, checks that the available
	// balance covers Amount+FeeTotal, allocates the next nonce of p.From,
	// calls sign with it, stores the signed bytes and hash, moves
	// Amount+FeeTotal out of the available balance, and writes an
	// EventSubmitted outbox row. The data is on disk when Submit returns.
	//
	// If p.IdempotencyKey was used before on the account with the same
	// RequestHash, Submit returns the original transaction with created
	// false (or the original ErrInsufficientFunds) and does not call
	// sign; with a different RequestHash it returns
	// ErrIdempotencyConflict. If sign fails, nothing is written and its
	// error is returned.
	//
	// A nil sign reserves the transfer instead: everything above is
	// written but the signature, so the transaction has its nonce and its
	// funds held, and no attempt yet (a zero Hash and no Raw). Its first
	// AddAttempt signs it. A signer that may do I/O is called that way,
	// outside the store's write transaction.
	Submit(ctx context.Context, p SubmitParams, sign SignFunc) (tx Transaction, created bool, err error)
	// AddAttempt records another signed attempt for a PENDING transaction's
	// nonce (a fee bump or a cancel) before it is sent, so that whichever
	// attempt lands is known. Recording an attempt whose hash is already
	// recorded for the transaction changes nothing. A final transaction is
	// left alone (ErrNotPending).
	//
	// The first attempt of a reserved transaction is its signature: the
	// transaction's Hash and Raw become the attempt's, its Version
	// increases, and an EventSigned outbox row is written, all in one
	// store transaction. Later attempts change none of that.
	AddAttempt(ctx context.Context, id int64, a Attempt) error
	// Attempts lists a transaction's signed attempts in the order they were
	// recorded, the original first; a reserved transaction not yet signed
	// has none.
	Attempts(ctx context.Context, id int64) ([]Attempt, error)
	// Note writes an outbox event of type typ about a PENDING transaction,
	// with its status and version as they stand, and changes nothing else:
	// it records what happened to a transfer between status changes, such
	// as EventSignatureRejected. A final transaction is left alone
	// (ErrNotPending).
	Note(ctx context.Context, id int64, typ string, at time.Time) error
	// Transaction returns one transaction, or ErrNotFound.
	Transaction(ctx context.Context, id int64) (Transaction, error)
	// Transactions lists an account's transactions newest first, those with
	// ID < before when before > 0, at most limit of them. An unknown account
	// is ErrNotFound; an account without transactions an empty list.
	Transactions(ctx context.Context, accountID int64, before int64, limit int) ([]Transaction, error)

	// Settle applies a final outcome to a PENDING transaction with its
	// balance effect and an outbox event, all in one store transaction. If
	// s.Hash is set, it names the attempt that landed, and the
	// transaction's Hash and Raw become that attempt's. If
	// the transaction is already final it changes nothing and returns the
	// stored row with an error wrapping ErrNotPending.
	Settle(ctx context.Context, id int64, s Settlement) (Transaction, error)
	// Reschedule records that a PENDING transaction was checked and is not
	// final yet: Checks becomes checks and NextCheckAt next (a zero next
	// means due now, never "not due"), and a parked transaction is back on
	// the regular schedule. It does not change Version. A non-pending
	// transaction is left alone (ErrNotPending).
	Reschedule(ctx context.Context, id int64, checks int, next time.Time) error
	// Park records that a PENDING transaction's check budget is spent: it
	// marks the transaction parked and moves its NextCheckAt to next, on
	// the slow schedule parked transactions are checked on until final.
	// The first Park writes an EventDeadLettered outbox row; parking a
	// parked transaction only moves its next check. Like Reschedule, Park
	// does not change Version.
	Park(ctx context.Context, id int64, next time.Time) error
	// Due returns the IDs of PENDING transactions, parked or not, whose
	// NextCheckAt is at or before t and whose ID is above after, in ID
	// order, at most limit. A caller pages by passing the last ID it got
	// as the next after. Its cost grows with the number of PENDING
	// transactions, never with history.
	Due(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error)
	// Parked is Due for parked transactions only. Its cost grows with
	// the number of parked transactions.
	Parked(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error)

	// List returns transactions of every account that match f (validated
	// by the caller), newest first or, with f.Oldest, oldest first. A
	// listing of PENDING or parked transactions costs its page, never
	// history.
	List(ctx context.Context, f Filter) ([]Transaction, error)
	// Overview counts PENDING and parked transactions, gives the oldest
	// PENDING one's creation time, and each sender's nonces: every sender
	// the store hands nonces out for, ordered by address.
	Overview(ctx context.Context) (Overview, error)

	// SyncNonce raises the next nonce the store hands out for sender to at
	// least next. It never lowers it.
	SyncNonce(ctx context.Context, sender common.Address, next uint64) error

	// Events returns up to limit outbox events not yet marked sent, oldest
	// first.
	Events(ctx context.Context, limit int) ([]Event, error)
	// MarkSent marks outbox events as published.
	MarkSent(ctx context.Context, ids []int64) error

	// Close releases the store's resources.
	Close() error
}

// NewAccount is what Store.CreateAccount creates.
type NewAccount struct {
	Token common.Address // the ERC-20 token the account holds; zero for ether
	Key   string         // makes the creation idempotent; empty for none
}

// SubmitParams is a validated transfer request as handed to Store.Submit.
type SubmitParams struct {
	AccountID int64
	From      common.Address
	To        common.Address
	// Token is the asset the transfer moves, which must be the account's
	// (else the store refuses it with ErrWrongAsset); zero for ether.
	Token          common.Address
	Amount         *big.Int
	FeeTotal       *big.Int
	IdempotencyKey string   // empty for none
	RequestHash    [32]byte // fingerprint of the request, compared on key reuse
	Quote          Quote    // the gas parameters sign uses, stored with the first attempt
	NextCheckAt    time.Time
	Now            time.Time
}

// SignedTx is a signed Ethereum transaction: the exact bytes to broadcast
// and their hash.
type SignedTx struct {
	Hash common.Hash
	Raw  []byte
}

// Attempt is one signed transaction for a transfer's nonce. A transfer has
// one attempt per fee bump, plus one if it was cancelled; at most one of
// them can ever be included.
type Attempt struct {
	SignedTx
	Quote     Quote
	Cancel    bool // a zero-value self-transfer that voids the transfer
	CreatedAt time.Time
}

// SignFunc signs the transfer being submitted with the nonce the store
// allocated. The store may call it inside its write transaction, so it is
// pure computation: no I/O. Signing that may do I/O reserves first (a nil
// SignFunc) and records the signature with AddAttempt.
type SignFunc func(nonce uint64) (SignedTx, error)

// BatchReader is a Store that reads many transactions with their attempts
// at once. A reconcile pass reads its whole batch through it, in two
// queries where Transaction and Attempts would take two per transfer; a
// Store without it is read one transfer at a time. A Store that wraps
// another (to count or trace its calls) hides this method unless it has
// it too: embed an interface that includes BatchReader, or forward it.
type BatchReader interface {
	// TransactionsWithAttempts returns, for each of ids in order, the
	// transaction and its attempts as Attempts lists them. An id the
	// store does not hold gets an entry whose Err wraps ErrNotFound, and
	// any other failure fails the call. Each transaction's attempts are
	// read no earlier than the transaction, as Transaction then Attempts
	// would read them, so an attempt recorded before the transaction was
	// read is among them.
	TransactionsWithAttempts(ctx context.Context, ids []int64) ([]TransactionWithAttempts, error)
}

// TransactionWithAttempts is one entry of BatchReader's answer.
type TransactionWithAttempts struct {
	Transaction Transaction
	Attempts    []Attempt
	Err         error // wraps ErrNotFound for an id the store does not hold
}
