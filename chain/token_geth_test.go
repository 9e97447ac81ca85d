package chain_test

import (
	"context"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
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

	key := node.newWallet(t)
	wallet := crypto.PubkeyToAddress(key.PublicKey)
	c := node.dial(ctx, t, key, nil)

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

	// The same through a Service: an account in the token pays for a
	// transfer that settles on the evidence of its Transfer event.
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The developer node mines only when sent a transaction: final at one
	// confirmation.
	sc := node.dial(ctx, t, key, &chain.Options{Confirmations: 1})
	svc, err := consolidate.New(store, sc, &consolidate.Config{
		Tokens:  []consolidate.Token{{Address: token, Fee: big.NewInt(10_000)}},
		Backoff: consolidate.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := svc.CreateTokenAccount(ctx, token, "")
	if err == nil {
		acct, err = svc.Credit(ctx, acct.ID, big.NewInt(5_000_000), "deposit")
	}
	if err != nil {
		t.Fatal(err)
	}
	sent, err := svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: to, Amount: big.NewInt(1_500_000)})
	if err != nil {
		t.Fatal(err)
	}
	var settled consolidate.Transaction
	waitFor(t, "the token transfer to settle", func() bool {
		settled, err = svc.Reconcile(ctx, sent.ID)
		return err == nil && settled.Status.Final()
	})
	if settled.Status != consolidate.StatusSuccessful || settled.Token != token {
		t.Fatalf("token transfer settled %s (%s)", settled.Status, settled.Token)
	}
	if b, err := svc.Account(ctx, acct.ID); err != nil || b.Current.Int64() != 5_000_000-1_500_000-10_000 {
		t.Fatalf("account after the transfer: %+v, %v", b, err)
	}
	var held []byte
	if err := node.rpc.CallContext(ctx, (*hexutil.Bytes)(&held), "eth_call", map[string]any{"to": token, "data": hexutil.Bytes(append(common.FromHex("0x70a08231"), common.LeftPadBytes(to[:], 32)...))}, "latest"); err != nil || new(big.Int).SetBytes(held).Int64() != 4_000_000 {
		t.Fatalf("recipient holds %x (%v), want 4000000", held, err)
	}
}
