package chain_test

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// deployToken deploys a token of kind with six decimals whose supply the
// sending wallet holds.
func deployToken(t *testing.T, sim *chaintest.Chain, kind chaintest.TokenKind, supply int64) common.Address {
	t.Helper()
	token, err := sim.DeployToken(t.Context(), kind, "USDC", 6, big.NewInt(supply))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// sendToken quotes, signs and broadcasts a token transfer with the next
// nonce, mines it and returns its receipt.
func sendToken(t *testing.T, sim *chaintest.Chain, c *chain.Chain, token, to common.Address, amount *big.Int) *types.Receipt {
	t.Helper()
	ctx := t.Context()
	q, err := c.QuoteToken(ctx, token, to, amount)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := c.Nonce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.SignToken(ctx, nonce, token, to, amount, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, tx.Raw); err != nil {
		t.Fatal(err)
	}
	sim.Commit()
	r, err := sim.Client().TransactionReceipt(ctx, tx.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if r.GasUsed >= q.GasLimit {
		t.Fatalf("used all %d gas of the quote", q.GasLimit)
	}
	return r
}

func TestTokenTransferSettles(t *testing.T) {
	t.Parallel()
	to := randomAddress(t)
	amount := big.NewInt(1_250_000)
	for _, tc := range []struct {
		kind     chaintest.TokenKind
		supply   int64
		received int64 // by to
		spent    int64 // by the sending wallet
	}{
		{chaintest.PlainToken, 5_000_000, 1_250_000, 1_250_000},
		// Too little to send: returns false, moves nothing, and the
		// transaction still succeeds.
		{chaintest.FalseToken, 1_000_000, 0, 0},
		// 1 % burned on the way.
		{chaintest.FeeToken, 5_000_000, 1_237_500, 1_250_000},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			t.Parallel()
			sim, c := setup(t, nil)
			token := deployToken(t, sim, tc.kind, tc.supply)
			r := sendToken(t, sim, c, token, to, amount)
			if r.Status != types.ReceiptStatusSuccessful {
				t.Fatalf("receipt status %d, want 1", r.Status)
			}
			var got *big.Int
			for _, tr := range chain.TokenTransfers(token, r.Logs) {
				if tr.From != c.Sender() {
					t.Fatalf("transfer %+v not from the sending wallet", tr)
				}
				if tr.To == to {
					if got != nil {
						t.Fatalf("two transfers to the recipient in %+v", r.Logs)
					}
					got = tr.Amount
				}
			}
			switch {
			case tc.received == 0 && got != nil:
				t.Fatalf("Transfer of %v logged, want none", got)
			case tc.received != 0 && (got == nil || got.Int64() != tc.received):
				t.Fatalf("Transfer to the recipient of %v, want %d", got, tc.received)
			}
			if b, _, err := c.TokenBalance(t.Context(), token); err != nil || b.Int64() != tc.supply-tc.spent {
				t.Fatalf("wallet's balance %v, %v, want %d", b, err, tc.supply-tc.spent)
			}
			if b, err := sim.TokenBalanceOf(t.Context(), token, to); err != nil || b.Int64() != tc.received {
				t.Fatalf("recipient's balance %v, %v, want %d", b, err, tc.received)
			}
		})
	}
}

func TestTokenInfo(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, nil)
	ctx := t.Context()
	token := deployToken(t, sim, chaintest.PlainToken, 1)
	reverter, err := sim.DeployReverter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	symbol, decimals, err := c.TokenInfo(ctx, token)
	if err != nil || symbol != "USDC" || decimals != 6 {
		t.Fatalf("TokenInfo: %q, %d, %v", symbol, decimals, err)
	}
	for name, a := range map[string]common.Address{"no code": randomAddress(t), "reverts": reverter} {
		if s, d, err := c.TokenInfo(ctx, a); !errors.Is(err, chain.ErrNotToken) {
			t.Errorf("TokenInfo of %s: %q, %d, %v, want ErrNotToken", name, s, d, err)
		}
		if b, _, err := c.TokenBalance(ctx, a); !errors.Is(err, chain.ErrNotToken) {
			t.Errorf("TokenBalance of %s: %v, %v, want ErrNotToken", name, b, err)
		}
	}
}

func TestQuoteToken(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, &chain.Options{GasTipCap: big.NewInt(7)})
	ctx := t.Context()
	token := deployToken(t, sim, chaintest.PlainToken, 1000)
	falseToken := deployToken(t, sim, chaintest.FalseToken, 1000)
	to := randomAddress(t)

	q, err := c.QuoteToken(ctx, token, to, big.NewInt(1000))
	if err != nil {
		t.Fatal(err)
	}
	head, err := sim.Client().HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantFeeCap := new(big.Int).Add(new(big.Int).Lsh(head.BaseFee, 1), big.NewInt(7))
	if q.GasLimit <= 21000 || q.GasTipCap.Int64() != 7 || q.GasFeeCap.Cmp(wantFeeCap) != 0 {
		t.Fatalf("quote %+v, want more than 21000 gas, tip 7, fee cap %v", q, wantFeeCap)
	}

	tooBig := new(big.Int).Lsh(big.NewInt(1), 256)
	for _, tc := range []struct {
		name      string
		token, to common.Address
		amount    *big.Int
		want      error
	}{
		{"more than the wallet holds", token, to, big.NewInt(1001), chain.ErrTransferReverts},
		{"no code at the token", randomAddress(t), to, big.NewInt(1), chain.ErrNotToken},
		{"zero token", common.Address{}, to, big.NewInt(1), consolidate.ErrInvalidAddress},
		{"to the token itself", token, token, big.NewInt(1), consolidate.ErrInvalidAddress},
		{"to the zero address", token, common.Address{}, big.NewInt(1), consolidate.ErrInvalidAddress},
		{"to the wallet", token, c.Sender(), big.NewInt(1), consolidate.ErrSelfTransfer},
		{"zero", token, to, new(big.Int), consolidate.ErrInvalidAmount},
		{"negative", token, to, big.NewInt(-1), consolidate.ErrInvalidAmount},
		{"nil", token, to, nil, consolidate.ErrInvalidAmount},
		{"above uint256", token, to, tooBig, consolidate.ErrInvalidAmount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if q, err := c.QuoteToken(ctx, tc.token, tc.to, tc.amount); !errors.Is(err, tc.want) {
				t.Fatalf("QuoteToken: %+v, %v, want %v", q, err, tc.want)
			}
			if tc.want == chain.ErrTransferReverts || tc.want == chain.ErrNotToken {
				return // SignToken does no I/O and cannot tell
			}
			if _, err := c.SignToken(ctx, 0, tc.token, tc.to, tc.amount, q); !errors.Is(err, tc.want) {
				t.Fatalf("SignToken: %v, want %v", err, tc.want)
			}
		})
	}
	// A token that returns false passes the estimate: only the receipt's
	// events tell.
	if _, err := c.QuoteToken(ctx, falseToken, to, big.NewInt(1001)); err != nil {
		t.Fatalf("QuoteToken of a false-returning token: %v", err)
	}
}

// A remote signer that signs other calldata than asked is caught.
func TestSignTokenChecksData(t *testing.T) {
	t.Parallel()
	sim := chaintest.NewT(t, nil)
	f, _ := newFakeSigner(t)
	f.lie = func(tx *types.DynamicFeeTx) {
		tx.Data = append([]byte(nil), tx.Data...)
		tx.Data[len(tx.Data)-1]++ // one more token
	}
	c, err := chain.NewWithSigner(t.Context(), sim.Client(), f, &chain.Options{ChainID: big.NewInt(chaintest.ChainID)})
	if err != nil {
		t.Fatal(err)
	}
	q := consolidate.Quote{GasLimit: 100_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2)}
	token := common.HexToAddress("0x7070")
	_, err = c.SignToken(t.Context(), 0, token, randomAddress(t), big.NewInt(5), q)
	var m *chain.SignatureMismatchError
	if !errors.As(err, &m) || m.Field != "data" || !errors.Is(err, chain.ErrSignerMismatch) {
		t.Fatalf("SignToken with a lying signer: %v, want a mismatch in data", err)
	}

	f.lie = nil
	tx, err := c.SignToken(t.Context(), 0, token, randomAddress(t), big.NewInt(5), q)
	if err != nil {
		t.Fatal(err)
	}
	var signed types.Transaction
	if err := signed.UnmarshalBinary(tx.Raw); err != nil {
		t.Fatal(err)
	}
	if _, amount, err := chain.ParseTransferData(signed.Data()); err != nil || amount.Int64() != 5 || *signed.To() != token || signed.Value().Sign() != 0 {
		t.Fatalf("signed to %s, value %v, amount %v, %v", signed.To(), signed.Value(), amount, err)
	}
}
