// Package storetest is the conformance suite for consolidate.Store
// implementations. A backend's test file wires it in a few lines:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) consolidate.Store {
//			s, err := mystore.Open(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite checks the behaviour the Service relies on: exact uint256
// balances, the status transitions of the money rules applied at most once, per-sender
// nonces without gaps or duplicates, idempotency keys, the event outbox,
// the signed attempts of each nonce (the one that lands settles the
// transfer), and that concurrent callers cannot break any of it.
//
// CheckInvariants is exported for other packages' tests: call it after any
// test that moves money.
package storetest

import (
	"testing"

	"github.com/go-consolidate/consolidate"
)

// Run runs every conformance test against fresh stores from open, in
// parallel subtests. Each subtest calls open once and closes the store
// when it ends.
func Run(t *testing.T, open func(t *testing.T) consolidate.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, consolidate.Store)
	}{
		{"CreateAccount", testCreateAccount},
		{"CreateAccountWithKey", testCreateAccountWithKey},
		{"CreateTokenAccount", testCreateTokenAccount},
		{"ErrorText", testErrorText},
		{"SubmitToken", testSubmitToken},
		{"SubmitWrongAsset", testSubmitWrongAsset},
		{"Credit", testCredit},
		{"CreditInvalid", testCreditInvalid},
		{"CreditConcurrent", testCreditConcurrent},
		{"Submit", testSubmit},
		{"SubmitNonces", testSubmitNonces},
		{"SubmitInsufficientFunds", testSubmitInsufficientFunds},
		{"SubmitSignError", testSubmitSignError},
		{"SubmitInvalid", testSubmitInvalid},
		{"SubmitIdempotency", testSubmitIdempotency},
		{"SubmitIdempotentRejection", testSubmitIdempotentRejection},
		{"SubmitIdempotencyConcurrent", testSubmitIdempotencyConcurrent},
		{"SubmitUnknownQuote", testSubmitUnknownQuote},
		{"Reserve", testReserve},
		{"ReserveSettle", testReserveSettle},
		{"ReserveConcurrent", testReserveConcurrent},
		{"Note", testNote},
		{"AddAttempt", testAddAttempt},
		{"AddAttemptFinal", testAddAttemptFinal},
		{"AddAttemptForeignHash", testAddAttemptForeignHash},
		{"AddAttemptInvalid", testAddAttemptInvalid},
		{"AddAttemptConcurrent", testAddAttemptConcurrent},
		{"BatchRead", testBatchRead},
		{"LargeAmounts", testLargeAmounts},
		{"SettleOutcomes", testSettleOutcomes},
		{"SettleTwice", testSettleTwice},
		{"SettleInvalid", testSettleInvalid},
		{"SettleConcurrent", testSettleConcurrent},
		{"SettleAttempt", testSettleAttempt},
		{"SettleForeignAttempt", testSettleForeignAttempt},
		{"SettleCancelled", testSettleCancelled},
		{"Reschedule", testReschedule},
		{"Park", testPark},
		{"Due", testDue},
		{"SyncNonce", testSyncNonce},
		{"Events", testEvents},
		{"Transactions", testTransactions},
		{"List", testList},
		{"Overview", testOverview},
		{"HotAccount", testHotAccount},
		{"SubmitConcurrent", testSubmitConcurrent},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}
