package chain_test

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
)

// tenPercentUp is x × 1.1 rounded up.
func tenPercentUp(x *big.Int) *big.Int {
	r := new(big.Int).Mul(x, big.NewInt(110))
	r.Add(r, big.NewInt(99))
	return r.Div(r, big.NewInt(100))
}

func TestBumpReplacesPendingTransfer(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	ctx := t.Context()
	to := randomAddress(t)
	amount := big.NewInt(1000)
	q, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: amount}, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, first.Raw); err != nil {
		t.Fatal(err)
	}

	// Re-signed at the same price, the node keeps the original.
	same, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: big.NewInt(1001)}, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, same.Raw); !errors.Is(err, chain.ErrUnderpriced) || !errors.Is(err, consolidate.ErrUnderpriced) {
		t.Fatalf("replacement without a bump: %v, want ErrUnderpriced", err)
	}

	bumped, err := c.Bump(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if bumped.GasLimit != q.GasLimit ||
		bumped.GasTipCap.Cmp(tenPercentUp(q.GasTipCap)) < 0 || bumped.GasFeeCap.Cmp(tenPercentUp(q.GasFeeCap)) < 0 {
		t.Fatalf("bumped %+v from %+v: not 10 %% up with the same gas limit", bumped, q)
	}
	second, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: amount}, bumped)
	if err != nil {
		t.Fatal(err)
	}
	if second.Hash == first.Hash {
		t.Fatal("the bumped transfer has the original's hash")
	}
	if err := c.Broadcast(ctx, second.Raw); err != nil {
		t.Fatalf("bumped replacement: %v", err)
	}
	// A bump of a bump replaces in turn.
	again, err := c.Bump(ctx, bumped)
	if err != nil {
		t.Fatal(err)
	}
	third, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: amount}, again)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, third.Raw); err != nil {
		t.Fatalf("second bump: %v", err)
	}

	sim.Commit()
	st := statuses(t, c, first.Hash, second.Hash, third.Hash)
	if st[0].State != consolidate.TxUnknown || st[1].State != consolidate.TxUnknown || st[2].State != consolidate.TxFinal {
		t.Fatalf("after mining: %v %v %v, want unknown unknown final", st[0].State, st[1].State, st[2].State)
	}
	if got := balance(t, sim, to); got.Cmp(amount) != 0 {
		t.Fatalf("recipient has %v, want %v once", got, amount)
	}
}

func TestBumpIsJustEnough(t *testing.T) {
	t.Parallel()
	// With the tip fixed and the base fee unchanged, the bump is exactly
	// 10 % on both fees; a wei less on the tip and the node refuses it.
	_, c := setup(t, &chain.Options{GasTipCap: big.NewInt(1e9)})
	ctx := t.Context()
	to := randomAddress(t)
	q, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: big.NewInt(1)}, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, first.Raw); err != nil {
		t.Fatal(err)
	}
	bumped, err := c.Bump(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if bumped.GasTipCap.Cmp(big.NewInt(1.1e9)) != 0 || bumped.GasFeeCap.Cmp(tenPercentUp(q.GasFeeCap)) != 0 {
		t.Fatalf("bumped %+v from %+v, want exactly 10 %% up", bumped, q)
	}
	short := bumped
	short.GasTipCap = new(big.Int).Sub(bumped.GasTipCap, big.NewInt(1))
	low, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: big.NewInt(1)}, short)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, low.Raw); !errors.Is(err, chain.ErrUnderpriced) {
		t.Fatalf("tip a wei short of 10 %%: %v, want ErrUnderpriced", err)
	}
	enough, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: big.NewInt(1)}, bumped)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, enough.Raw); err != nil {
		t.Fatalf("exactly 10 %%: %v", err)
	}
}

func TestBumpFollowsTheNetwork(t *testing.T) {
	t.Parallel()
	// A tip raised by the operator since the first attempt wins over a
	// 10 % raise.
	sim, c := setup(t, &chain.Options{GasTipCap: big.NewInt(1)})
	to := randomAddress(t)
	q, err := c.Quote(t.Context(), consolidate.Transfer{To: to, Amount: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	higher, err := sim.NewChain(&chain.Options{GasTipCap: big.NewInt(5e9)})
	if err != nil {
		t.Fatal(err)
	}
	bumped, err := higher.Bump(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	head, err := sim.Client().HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCap := new(big.Int).Add(new(big.Int).Lsh(head.BaseFee, 1), big.NewInt(5e9))
	if bumped.GasTipCap.Int64() != 5e9 || bumped.GasFeeCap.Cmp(wantCap) != 0 {
		t.Fatalf("bumped %+v, want tip 5 gwei and fee cap %v", bumped, wantCap)
	}
}

func TestBumpFeeTooHigh(t *testing.T) {
	t.Parallel()
	sim, _ := setup(t, nil)
	head, err := sim.Client().HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Quote lowers the fee cap to the maximum; nothing is left to raise.
	maxFee := new(big.Int).Add(head.BaseFee, big.NewInt(1e9))
	c, err := sim.NewChain(&chain.Options{GasTipCap: big.NewInt(1), MaxFeePerGas: maxFee})
	if err != nil {
		t.Fatal(err)
	}
	to := randomAddress(t)
	q, err := c.Quote(t.Context(), consolidate.Transfer{To: to, Amount: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	if q.GasFeeCap.Cmp(maxFee) != 0 {
		t.Fatalf("quote %+v, want the fee cap at %v", q, maxFee)
	}
	_, err = c.Bump(t.Context(), q)
	if !errors.Is(err, chain.ErrFeeTooHigh) || !errors.Is(err, consolidate.ErrFeeTooHigh) {
		t.Fatalf("bump beyond MaxFeePerGas: %v, want ErrFeeTooHigh", err)
	}
}

func TestBumpRejectsBadQuote(t *testing.T) {
	t.Parallel()
	_, c := setup(t, nil)
	for _, q := range []consolidate.Quote{
		{},
		{GasLimit: 21000, GasTipCap: big.NewInt(2), GasFeeCap: big.NewInt(1)},
		{GasLimit: 21000, GasTipCap: big.NewInt(-1), GasFeeCap: big.NewInt(1)},
	} {
		if _, err := c.Bump(t.Context(), q); !errors.Is(err, chain.ErrInvalidQuote) {
			t.Errorf("Bump(%+v): %v, want ErrInvalidQuote", q, err)
		}
	}
}

func TestCancelReplacesPendingTransfer(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	ctx := t.Context()
	to := randomAddress(t)
	amount := big.NewInt(1e15)
	before := balance(t, sim, c.Sender())
	q, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	transfer, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: amount}, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, transfer.Raw); err != nil {
		t.Fatal(err)
	}

	unbumped, err := c.SignCancel(t.Context(), 0, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, unbumped.Raw); !errors.Is(err, chain.ErrUnderpriced) {
		t.Fatalf("cancel at the transfer's price: %v, want ErrUnderpriced", err)
	}
	bq, err := c.Bump(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	cancel, err := c.SignCancel(t.Context(), 0, bq)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, cancel.Raw); err != nil {
		t.Fatalf("bumped cancel: %v", err)
	}
	sim.Commit()

	st := statuses(t, c, transfer.Hash, cancel.Hash)
	if st[0].State != consolidate.TxUnknown || st[1].State != consolidate.TxFinal || !st[1].Success {
		t.Fatalf("transfer %+v, cancel %+v: want unknown and final", st[0], st[1])
	}
	if got := balance(t, sim, to); got.Sign() != 0 {
		t.Fatalf("recipient got %v despite the cancel", got)
	}
	if spent := new(big.Int).Sub(before, balance(t, sim, c.Sender())); spent.Cmp(st[1].Fee) != 0 {
		t.Fatalf("sender spent %v, want only the cancel's fee %v", spent, st[1].Fee)
	}
	if n, err := c.FinalizedNonce(ctx); err != nil || n != 1 {
		t.Fatalf("finalized nonce %d, %v, want 1", n, err)
	}
	// The transfer's bytes can never land now.
	if err := broadcastMined(t, c, transfer.Raw); !errors.Is(err, chain.ErrNonceTooLow) {
		t.Fatalf("transfer after the cancel: %v, want ErrNonceTooLow", err)
	}
	if st := status(t, c, transfer.Hash); st.State != consolidate.TxUnknown {
		t.Fatalf("transfer after resending: %+v", st)
	}
}

func TestSignCancel(t *testing.T) {
	t.Parallel()
	c, sender := offlineChain(t)
	q := testQuote()
	q.GasLimit = 100_000 // ignored: a cancel needs exactly 21000
	a, err := c.SignCancel(t.Context(), 9, q)
	if err != nil {
		t.Fatal(err)
	}
	tx := decode(t, a)
	switch {
	case *tx.To() != sender || tx.Value().Sign() != 0 || tx.Gas() != 21000 || tx.Nonce() != 9 || len(tx.Data()) != 0:
		t.Errorf("to %s, value %v, gas %d, nonce %d, data %x", tx.To(), tx.Value(), tx.Gas(), tx.Nonce(), tx.Data())
	case tx.GasTipCap().Cmp(q.GasTipCap) != 0 || tx.GasFeeCap().Cmp(q.GasFeeCap) != 0:
		t.Errorf("tip %v, fee cap %v", tx.GasTipCap(), tx.GasFeeCap())
	case signer(t, tx) != sender:
		t.Errorf("signed by %s, want %s", signer(t, tx), sender)
	}
	q.GasLimit = 0
	b, err := c.SignCancel(t.Context(), 9, q)
	if err != nil || b.Hash != a.Hash {
		t.Fatalf("same nonce and fees: %s, %v, want %s", b.Hash, err, a.Hash)
	}

	for name, bad := range map[string]consolidate.Quote{
		"no fees":           {GasLimit: 21000},
		"tip above fee cap": {GasLimit: 21000, GasTipCap: big.NewInt(2), GasFeeCap: big.NewInt(1)},
	} {
		if tx, err := c.SignCancel(t.Context(), 0, bad); !errors.Is(err, chain.ErrInvalidQuote) || tx.Raw != nil || tx.Hash != (common.Hash{}) {
			t.Errorf("%s: %v, want ErrInvalidQuote and no transaction", name, err)
		}
	}
}

func decode(t *testing.T, tx consolidate.SignedTx) *types.Transaction {
	t.Helper()
	out := new(types.Transaction)
	if err := out.UnmarshalBinary(tx.Raw); err != nil {
		t.Fatal(err)
	}
	if out.Hash() != tx.Hash {
		t.Fatalf("hash %s, raw hashes to %s", tx.Hash, out.Hash())
	}
	return out
}

func signer(t *testing.T, tx *types.Transaction) common.Address {
	t.Helper()
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	if err != nil {
		t.Fatal(err)
	}
	return from
}
