package consolidate

import (
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Status is the lifecycle state of a transaction.
type Status string

// Transaction statuses. A transaction starts PENDING and moves exactly once
// to SUCCESSFUL or FAILED.
const (
	StatusPending    Status = "PENDING"
	StatusSuccessful Status = "SUCCESSFUL"
	StatusFailed     Status = "FAILED"
)

// Final reports whether s is a terminal status.
func (s Status) Final() bool { return s == StatusSuccessful || s == StatusFailed }

// Account is a user's ledger account.
//
// Available is what the user may spend now; Current is the settled balance.
// Always 0 ≤ Available ≤ Current, and Current − Available equals the sum of
// Amount + FeeTotal over the account's PENDING transactions.
type Account struct {
	ID int64
	// Token is the ERC-20 contract of the asset the account holds, or the
	// zero address for ether. It never changes; balances, holds and fees
	// are in the asset's smallest unit.
	Token     common.Address
	Available *big.Int
	Current   *big.Int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Transaction is one transfer from the service's sending wallet to To, paid
// for by the account AccountID, in the account's asset.
type Transaction struct {
	ID        int64
	AccountID int64
	From      common.Address // the sending wallet
	To        common.Address
	Token     common.Address // the account's token contract; zero for ether
	Amount    *big.Int       // sent to To, in the asset's smallest unit
	FeeTotal  *big.Int       // charged to the account as fee, in the asset's smallest unit
	// FeeBlockchain is what the chain took (gasUsed × effectiveGasPrice);
	// nil until the transaction is final and was mined.
	FeeBlockchain *big.Int
	Nonce         uint64
	Hash          common.Hash
	Raw           []byte // the signed transaction, as broadcast
	Status        Status
	// Version increases with every change to the row; caches use it to
	// never replace a newer copy with an older one.
	Version        int64
	IdempotencyKey string
	BlockNumber    uint64 // set when final and mined
	BlockHash      common.Hash
	// Checks counts reconcile checks that found the transaction not final.
	Checks int
	// NextCheckAt is when the transaction is next due for reconciling; zero
	// when it is parked (dead-lettered) or final.
	NextCheckAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Outcome is how a pending transaction ends.
type Outcome int

// Outcomes, each with its balance effect (see "Money" in the
// package documentation).
const (
	// OutcomeSuccess: mined with receipt status 1 and final; for a token,
	// the receipt also carries its Transfer event as asked.
	// current −= amount + fee_total.
	OutcomeSuccess Outcome = iota + 1
	// OutcomeReverted: mined with receipt status 0 and final, or, for a
	// token, mined without the token's Transfer event of the amount to
	// the recipient (see Token). The amount is refunded, the fee is
	// charged: available += amount; current −= fee_total.
	OutcomeReverted
	// OutcomeDropped: provably never landing. Full refund:
	// available += amount + fee_total.
	OutcomeDropped
)

// Status returns the transaction status an outcome leads to.
func (o Outcome) Status() Status {
	if o == OutcomeSuccess {
		return StatusSuccessful
	}
	return StatusFailed
}

func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeReverted:
		return "reverted"
	case OutcomeDropped:
		return "dropped"
	}
	return "invalid"
}

// Settlement records the final outcome of a transaction.
type Settlement struct {
	Outcome Outcome
	// Hash is the attempt that was included: the transfer for
	// OutcomeSuccess and OutcomeReverted, the cancel (if any) for
	// OutcomeDropped. Zero keeps the transaction's hash.
	Hash common.Hash
	// FeeBlockchain is what the chain took from the wallet for the
	// included attempt; nil if none was included.
	FeeBlockchain *big.Int
	BlockNumber   uint64
	BlockHash     common.Hash
	At            time.Time
}

// Event is a lifecycle event written in the same store transaction as the
// status change it describes (the outbox). ID is stable: consumers dedupe
// on it.
type Event struct {
	ID            int64
	Type          string // one of the Event* constants
	TransactionID int64
	AccountID     int64
	Status        Status
	CreatedAt     time.Time
}

// Event types.
const (
	EventSubmitted    = "transaction.submitted"
	EventSuccessful   = "transaction.successful"
	EventFailed       = "transaction.failed"
	EventDeadLettered = "transaction.dead_lettered"
	// EventSigned: a reserved transfer got its signature; Get now
	// answers with its hash. Transfers signed at Submit have none.
	EventSigned = "transaction.signed"
	// EventSignatureRejected: the signer returned a transaction other
	// than the one asked for (another recipient, amount, nonce, fee or
	// sender). Nothing was stored or sent; the transfer stays reserved
	// and is signed again later.
	EventSignatureRejected = "transaction.signature_rejected"
)
