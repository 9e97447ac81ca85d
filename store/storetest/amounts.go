package storetest

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// testLargeAmounts checks that amounts and balances beyond 64 bits, up to
// 2^256 − 1, are stored and returned exactly.
func testLargeAmounts(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 0)
	// 2^64 + 1 does not fit a 64-bit column; 2^256 − 2 is one below the top.
	if _, err := s.Credit(ctx, a.ID, add(pow2(64), big.NewInt(1)), "above-2^64"); err != nil {
		t.Fatalf("Credit(2^64+1): %v", err)
	}
	rest := sub(maxUint256, add(pow2(64), big.NewInt(1)))
	if _, err := s.Credit(ctx, a.ID, rest, "rest"); err != nil {
		t.Fatalf("Credit(up to 2^256-1): %v", err)
	}
	wantBalances(t, s, a.ID, maxUint256, maxUint256)
	if _, err := s.Credit(ctx, a.ID, big.NewInt(1), "one-too-many"); !errors.Is(err, consolidate.ErrInvalidAmount) {
		t.Errorf("Credit beyond 2^256-1 error = %v, want ErrInvalidAmount", err)
	}
	wantBalances(t, s, a.ID, maxUint256, maxUint256)

	p := transfer(a.ID)
	p.Amount = add(pow2(200), big.NewInt(12345))
	p.FeeTotal = add(pow2(64), big.NewInt(1))
	tx := mustSubmit(t, s, p)
	got := mustTransaction(t, s, tx.ID)
	if got.Amount.Cmp(p.Amount) != 0 || got.FeeTotal.Cmp(p.FeeTotal) != 0 {
		t.Errorf("stored amount, fee = %s, %s; want %s, %s", got.Amount, got.FeeTotal, p.Amount, p.FeeTotal)
	}
	held := add(p.Amount, p.FeeTotal)
	wantBalances(t, s, a.ID, sub(maxUint256, held), maxUint256)

	chainFee := add(pow2(70), big.NewInt(3))
	settled, err := s.Settle(ctx, tx.ID, consolidate.Settlement{
		Outcome:       consolidate.OutcomeReverted,
		FeeBlockchain: chainFee,
		BlockNumber:   1 << 40,
		BlockHash:     common.HexToHash("0xb1"),
		At:            t0,
	})
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if !eqInt(settled.FeeBlockchain, chainFee) || !eqInt(mustTransaction(t, s, tx.ID).FeeBlockchain, chainFee) {
		t.Errorf("FeeBlockchain = %v, want %s", settled.FeeBlockchain, chainFee)
	}
	// Reverted: the amount comes back, the fee is charged.
	wantBalances(t, s, a.ID, sub(maxUint256, p.FeeTotal), sub(maxUint256, p.FeeTotal))

	// The largest amount there is can be sent, and the hold is exact.
	b := fund(t, s, 0)
	if _, err := s.Credit(ctx, b.ID, maxUint256, "all"); err != nil {
		t.Fatalf("Credit(2^256-1): %v", err)
	}
	p = transfer(b.ID)
	p.Amount = sub(maxUint256, big.NewInt(fee))
	tx = mustSubmit(t, s, p)
	if got := mustTransaction(t, s, tx.ID); got.Amount.Cmp(p.Amount) != 0 {
		t.Errorf("stored amount = %s, want %s", got.Amount, p.Amount)
	}
	wantBalances(t, s, b.ID, big.NewInt(0), maxUint256)
	if _, err := s.Settle(ctx, tx.ID, consolidate.Settlement{Outcome: consolidate.OutcomeSuccess, FeeBlockchain: big.NewInt(21000), BlockNumber: 7, BlockHash: common.HexToHash("0xb2"), At: t0}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	wantBalances(t, s, b.ID, big.NewInt(0), big.NewInt(0))
	CheckInvariants(t, s, a.ID, b.ID)
}
