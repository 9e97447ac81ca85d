package chain_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// devSend sends a transaction from the developer account, which the node
// signs, and returns its receipt once mined.
func (n *gethNode) devSend(t *testing.T, tx map[string]any) *types.Receipt {
	t.Helper()
	tx["from"] = n.dev
	var hash common.Hash
	if err := n.rpc.CallContext(t.Context(), &hash, "eth_sendTransaction", tx); err != nil {
		t.Fatalf("eth_sendTransaction: %v", err)
	}
	var r *types.Receipt
	waitFor(t, "a developer transaction to be mined", func() bool {
		return n.rpc.CallContext(t.Context(), &r, "eth_getTransactionReceipt", hash) == nil && r != nil
	})
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("developer transaction %s reverted", hash)
	}
	return r
}

func TestGethDevToken(t *testing.T) {
	t.Parallel()
	node := startGeth(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	wallet := crypto.PubkeyToAddress(key.PublicKey)
	node.fund(t, wallet, big.NewInt(1e18))
	c, err := chain.Dial(ctx, node.url, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// The developer account deploys the token, holds its supply and hands
	// it to the wallet with calldata built by TransferData.
	supply := big.NewInt(1_000_000_000_000) // a million, six decimals
	code, err := chaintest.TokenInitCode(chaintest.PlainToken, "USDC", 6, supply)
	if err != nil {
		t.Fatal(err)
	}
	token := node.devSend(t, map[string]any{"data": hexutil.Bytes(code)}).ContractAddress
	fill, err := chain.TransferData(wallet, supply)
	if err != nil {
		t.Fatal(err)
	}
	node.devSend(t, map[string]any{"to": token, "data": hexutil.Bytes(fill)})

	symbol, decimals, err := c.TokenInfo(ctx, token)
	if err != nil || symbol != "USDC" || decimals != 6 {
		t.Fatalf("TokenInfo: %q, %d, %v", symbol, decimals, err)
	}
	if b, _, err := c.TokenBalance(ctx, token); err != nil || b.Cmp(supply) != 0 {
		t.Fatalf("wallet's balance %v, %v, want %v", b, err, supply)
	}

	to := randomAddress(t)
	amount := big.NewInt(2_500_000)
	q, err := c.QuoteToken(ctx, token, to, amount)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.SignToken(ctx, 0, token, to, amount, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(ctx, tx.Raw); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, c, tx.Hash, consolidate.TxMined, consolidate.TxFinal)
	if !st.Success || st.Fee.Sign() <= 0 {
		t.Fatalf("status %+v, want a successful transfer", st)
	}
	var r *types.Receipt
	if err := node.rpc.CallContext(ctx, &r, "eth_getTransactionReceipt", tx.Hash); err != nil || r == nil {
		t.Fatalf("receipt: %v, %v", r, err)
	}
	got := chain.TokenTransfers(token, r.Logs)
	if len(got) != 1 || got[0].From != wallet || got[0].To != to || got[0].Amount.Cmp(amount) != 0 {
		t.Fatalf("transfers %+v, want one of %v from %s to %s", got, amount, wallet, to)
	}
	if b, _, err := c.TokenBalance(ctx, token); err != nil || new(big.Int).Add(b, amount).Cmp(supply) != 0 {
		t.Fatalf("wallet's balance %v, %v, want %v less %v", b, err, supply, amount)
	}
}
