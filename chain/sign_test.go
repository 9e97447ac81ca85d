package chain_test

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
)

// offline is a Client that must not be called: Sign does no I/O, and a
// Chain with ChainID set does none in New. A call panics on the nil
// embedded interface and fails the test.
type offline struct{ chain.Client }

func offlineKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.HexToECDSA("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func offlineChain(t *testing.T) (*chain.Chain, common.Address) {
	t.Helper()
	key := offlineKey(t)
	c, err := chain.New(t.Context(), offline{}, key, &chain.Options{ChainID: big.NewInt(5)})
	if err != nil {
		t.Fatal(err)
	}
	return c, crypto.PubkeyToAddress(key.PublicKey)
}

func testQuote() consolidate.Quote {
	return consolidate.Quote{GasLimit: 21000, GasTipCap: big.NewInt(2e9), GasFeeCap: big.NewInt(30e9)}
}

func TestSignIsDeterministic(t *testing.T) {
	t.Parallel()
	c, sender := offlineChain(t)
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	amount, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	q := testQuote()

	a, err := c.Sign(t.Context(), 7, consolidate.Transfer{To: to, Amount: amount}, q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Sign(t.Context(), 7, consolidate.Transfer{To: to, Amount: new(big.Int).Set(amount)}, testQuote())
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash != b.Hash || !bytes.Equal(a.Raw, b.Raw) {
		t.Fatal("same inputs gave different transactions")
	}

	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(a.Raw); err != nil {
		t.Fatal(err)
	}
	from, err := types.Sender(types.LatestSignerForChainID(big.NewInt(5)), tx)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case tx.Hash() != a.Hash:
		t.Errorf("hash %s, raw hashes to %s", a.Hash, tx.Hash())
	case from != sender || c.Sender() != sender:
		t.Errorf("signed by %s, Sender %s, want %s", from, c.Sender(), sender)
	case tx.Type() != types.DynamicFeeTxType || tx.ChainId().Int64() != 5 || tx.Nonce() != 7:
		t.Errorf("type %d, chain %v, nonce %d", tx.Type(), tx.ChainId(), tx.Nonce())
	case *tx.To() != to || tx.Value().Cmp(amount) != 0 || tx.Gas() != q.GasLimit:
		t.Errorf("to %s, value %v, gas %d", tx.To(), tx.Value(), tx.Gas())
	case tx.GasTipCap().Cmp(q.GasTipCap) != 0 || tx.GasFeeCap().Cmp(q.GasFeeCap) != 0:
		t.Errorf("tip %v, fee cap %v", tx.GasTipCap(), tx.GasFeeCap())
	case len(tx.Data()) != 0:
		t.Errorf("data %x", tx.Data())
	}

	other, err := c.Sign(t.Context(), 8, consolidate.Transfer{To: to, Amount: amount}, q)
	if err != nil || other.Hash == a.Hash {
		t.Errorf("another nonce: %v, same hash %v", err, other.Hash == a.Hash)
	}
}

func TestSignRejectsBadInput(t *testing.T) {
	t.Parallel()
	c, sender := offlineChain(t)
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	tooBig := new(big.Int).Lsh(big.NewInt(1), 256)
	q := testQuote()
	with := func(f func(*consolidate.Quote)) consolidate.Quote {
		q := testQuote()
		f(&q)
		return q
	}
	for _, tc := range []struct {
		name   string
		to     common.Address
		amount *big.Int
		q      consolidate.Quote
		want   error
	}{
		{"nil amount", to, nil, q, consolidate.ErrInvalidAmount},
		{"zero amount", to, big.NewInt(0), q, consolidate.ErrInvalidAmount},
		{"negative amount", to, big.NewInt(-1), q, consolidate.ErrInvalidAmount},
		{"amount of 2^256", to, tooBig, q, consolidate.ErrInvalidAmount},
		{"zero address", common.Address{}, big.NewInt(1), q, consolidate.ErrInvalidAddress},
		{"self transfer", sender, big.NewInt(1), q, consolidate.ErrSelfTransfer},
		{"zero quote", to, big.NewInt(1), consolidate.Quote{}, chain.ErrInvalidQuote},
		{"gas below 21000", to, big.NewInt(1), with(func(q *consolidate.Quote) { q.GasLimit = 20999 }), chain.ErrInvalidQuote},
		{"nil tip", to, big.NewInt(1), with(func(q *consolidate.Quote) { q.GasTipCap = nil }), chain.ErrInvalidQuote},
		{"nil fee cap", to, big.NewInt(1), with(func(q *consolidate.Quote) { q.GasFeeCap = nil }), chain.ErrInvalidQuote},
		{"negative tip", to, big.NewInt(1), with(func(q *consolidate.Quote) { q.GasTipCap = big.NewInt(-1) }), chain.ErrInvalidQuote},
		{"fee cap of 2^256", to, big.NewInt(1), with(func(q *consolidate.Quote) { q.GasFeeCap = tooBig }), chain.ErrInvalidQuote},
		{"tip above fee cap", to, big.NewInt(1), with(func(q *consolidate.Quote) { q.GasTipCap = big.NewInt(31e9) }), chain.ErrInvalidQuote},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tx, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: tc.to, Amount: tc.amount}, tc.q)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tx.Raw != nil || tx.Hash != (common.Hash{}) {
				t.Fatalf("returned a transaction with the error: %+v", tx)
			}
		})
	}
}

func TestZeroChainDoesNotPanic(t *testing.T) {
	t.Parallel()
	var c chain.Chain
	ctx := t.Context()
	to := common.HexToAddress("0xaa")
	if _, err := c.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: big.NewInt(1)}, testQuote()); err == nil {
		t.Error("Sign on a zero Chain succeeded")
	}
	if _, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: big.NewInt(1)}); err == nil {
		t.Error("Quote on a zero Chain succeeded")
	}
	if _, err := c.Nonce(ctx); err == nil {
		t.Error("Nonce on a zero Chain succeeded")
	}
	if err := c.Broadcast(ctx, nil); err == nil {
		t.Error("Broadcast on a zero Chain succeeded")
	}
	if _, err := c.Status(ctx, common.Hash{}); err == nil {
		t.Error("Status on a zero Chain succeeded")
	}
	if _, err := c.Statuses(ctx, []common.Hash{{}}); err == nil {
		t.Error("Statuses on a zero Chain succeeded")
	}
	if _, err := c.FinalizedNonce(ctx); err == nil {
		t.Error("FinalizedNonce on a zero Chain succeeded")
	}
	if _, err := c.Bump(ctx, testQuote()); err == nil {
		t.Error("Bump on a zero Chain succeeded")
	}
	if _, err := c.SignCancel(t.Context(), 0, testQuote()); err == nil {
		t.Error("SignCancel on a zero Chain succeeded")
	}
	c.Close()
}
