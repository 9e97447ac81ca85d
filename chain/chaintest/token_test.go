package chaintest_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

func TestDeployToken(t *testing.T) {
	t.Parallel()
	for _, kind := range []chaintest.TokenKind{chaintest.PlainToken, chaintest.FalseToken, chaintest.FeeToken} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			c := chaintest.NewT(t, nil)
			ctx := t.Context()
			supply := big.NewInt(5_000_000)
			token, err := c.DeployToken(ctx, kind, "USDT", 6, supply)
			if err != nil {
				t.Fatal(err)
			}
			holder := common.HexToAddress("0x00000000000000000000000000000000000000b0")
			if err := c.MintToken(ctx, token, holder, big.NewInt(300)); err != nil {
				t.Fatal(err)
			}
			for a, want := range map[common.Address]int64{c.Sender(): 5_000_000, holder: 300} {
				if got, err := c.TokenBalanceOf(ctx, token, a); err != nil || got.Int64() != want {
					t.Fatalf("balance of %s: %v, %v, want %d", a, got, err, want)
				}
			}
			if n, err := c.Client().NonceAt(ctx, c.Sender(), nil); err != nil || n != 0 {
				t.Fatalf("sending wallet's nonce %d, %v, want 0: the deployer pays", n, err)
			}

			// Minting emits Transfer events from the zero address, no fee taken.
			logs, err := c.Client().FilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{token}})
			if err != nil {
				t.Fatal(err)
			}
			ptrs := make([]*types.Log, len(logs))
			for i := range logs {
				ptrs[i] = &logs[i]
			}
			// The constructor's mint of nothing to the deployer comes first.
			want := []chain.TokenTransfer{
				{Amount: new(big.Int)},
				{To: c.Sender(), Amount: supply},
				{To: holder, Amount: big.NewInt(300)},
			}
			got := chain.TokenTransfers(token, ptrs)
			if len(got) != len(want) {
				t.Fatalf("transfers %+v, want %+v", got, want)
			}
			for i, w := range want {
				g := got[i]
				if g.Token != token || g.From != (common.Address{}) || (i > 0 && g.To != w.To) || g.Amount.Cmp(w.Amount) != 0 {
					t.Fatalf("transfer %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestTokenInitCodeRejects(t *testing.T) {
	t.Parallel()
	if _, err := chaintest.TokenInitCode(chaintest.TokenKind(9), "X", 18, big.NewInt(1)); err == nil {
		t.Fatal("unknown kind accepted")
	}
	for _, supply := range []*big.Int{nil, big.NewInt(-1), new(big.Int).Lsh(big.NewInt(1), 256)} {
		if _, err := chaintest.TokenInitCode(chaintest.PlainToken, "X", 18, supply); err == nil {
			t.Fatalf("supply %v accepted", supply)
		}
	}
}
