package chain_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// geth signs for its unlocked developer account with eth_signTransaction:
// the RPCSigner against a real server, and the signed bytes against a
// real chain.
func TestRPCSignerGethDev(t *testing.T) {
	t.Parallel()
	node := startGeth(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	s, err := chain.NewRPCSigner(node.rpc, node.dev, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("contract", func(t *testing.T) {
		testSignerContract(t, s, devChainID)
	})

	t.Run("transfer lands", func(t *testing.T) {
		to := randomAddress(t)
		intent := types.NewTx(gethTransfer(t, node, to, big.NewInt(12345)))
		signed, err := s.SignTx(ctx, intent, devChainID)
		if err != nil {
			t.Fatalf("SignTx: %v", err)
		}
		if err := chain.CheckSigned(intent, signed, devChainID, node.dev); err != nil {
			t.Fatalf("CheckSigned: %v", err)
		}
		raw, err := signed.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var hash common.Hash
		if err := node.rpc.CallContext(ctx, &hash, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil || hash != signed.Hash() {
			t.Fatalf("eth_sendRawTransaction: %s, %v; want %s", hash, err, signed.Hash())
		}
		var receipt *types.Receipt
		waitFor(t, "the transfer to be mined", func() bool {
			return node.rpc.CallContext(ctx, &receipt, "eth_getTransactionReceipt", hash) == nil && receipt != nil
		})
		if receipt.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("receipt status %d", receipt.Status)
		}
		var got hexutil.Big
		if err := node.rpc.CallContext(ctx, &got, "eth_getBalance", to, "latest"); err != nil || got.ToInt().Int64() != 12345 {
			t.Fatalf("recipient has %v, %v; want 12345", got.ToInt(), err)
		}
	})

	t.Run("dialed", func(t *testing.T) {
		d := dialSigner(t, node.url, node.dev, nil)
		intent := types.NewTx(transferIntent())
		signed, err := d.SignTx(ctx, intent, devChainID)
		if err != nil {
			t.Fatal(err)
		}
		if err := chain.CheckSigned(intent, signed, devChainID, node.dev); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		stranger, err := chain.NewRPCSigner(node.rpc, randomAddress(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stranger.SignTx(ctx, types.NewTx(transferIntent()), devChainID); !errors.Is(err, chain.ErrSignerRefused) {
			t.Errorf("an account geth does not hold: %v, want ErrSignerRefused", err)
		}
		tx := transferIntent()
		tx.ChainID = big.NewInt(1)
		if _, err := s.SignTx(ctx, types.NewTx(tx), tx.ChainID); !errors.Is(err, chain.ErrSignerRefused) {
			t.Errorf("another chain: %v, want ErrSignerRefused", err)
		}
	})
}

// gethTransfer is a transfer from the developer account at its next nonce,
// priced to be mined at once.
func gethTransfer(t *testing.T, node *gethNode, to common.Address, amount *big.Int) *types.DynamicFeeTx {
	t.Helper()
	var nonce hexutil.Uint64
	if err := node.rpc.CallContext(t.Context(), &nonce, "eth_getTransactionCount", node.dev, "pending"); err != nil {
		t.Fatal(err)
	}
	var head *types.Header
	if err := node.rpc.CallContext(t.Context(), &head, "eth_getBlockByNumber", "latest", false); err != nil || head == nil || head.BaseFee == nil {
		t.Fatalf("latest header: %v, %v", head, err)
	}
	tip := big.NewInt(params.GWei)
	return &types.DynamicFeeTx{
		ChainID:   devChainID,
		Nonce:     uint64(nonce),
		GasTipCap: tip,
		GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip),
		Gas:       params.TxGas,
		To:        &to,
		Value:     amount,
	}
}

// A Service whose wallet is geth's developer account, signing through
// eth_signTransaction: its transfers settle SUCCESSFUL on a real node. A
// signer that answers with another recipient is refused, and nothing
// reaches the node.
func TestServiceRPCSignerGethDev(t *testing.T) {
	t.Parallel()
	node := startGeth(t)
	ctx := t.Context()
	client := ethclient.NewClient(node.rpc)
	honest, err := chain.NewRPCSigner(node.rpc, node.dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	newService := func(s chain.Signer) (*consolidate.Service, *sqlite.Store, *chain.Chain, consolidate.Account) {
		c, err := chain.NewWithSigner(ctx, client, s, &chain.Options{Confirmations: 1})
		if err != nil {
			t.Fatal(err)
		}
		store, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		svc, err := consolidate.New(store, c, &consolidate.Config{
			Backoff: consolidate.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		acct, err := svc.CreateAccount(ctx)
		if err == nil {
			acct, err = svc.Credit(ctx, acct.ID, big.NewInt(params.Ether), "deposit")
		}
		if err != nil {
			t.Fatal(err)
		}
		return svc, store, c, acct
	}

	svc, _, c, acct := newService(honest)
	to := randomAddress(t)
	var txs []consolidate.Transaction
	for i := range 2 {
		tx, err := svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: to, Amount: big.NewInt(int64(1000 + i))})
		if err != nil || tx.Hash == (common.Hash{}) {
			t.Fatalf("Submit: %v, hash %s; want a signed transfer", err, tx.Hash)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		var got consolidate.Transaction
		waitFor(t, "the transfer to settle", func() bool {
			got, err = svc.Reconcile(ctx, tx.ID)
			return err == nil && got.Status.Final()
		})
		if got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash {
			t.Fatalf("transaction %d: %s, hash %s; want SUCCESSFUL with %s", tx.ID, got.Status, got.Hash, tx.Hash)
		}
	}
	if b, err := client.BalanceAt(ctx, to, nil); err != nil || b.Int64() != 2001 {
		t.Fatalf("recipient holds %v wei (%v), want 2001", b, err)
	}

	thief := randomAddress(t)
	lying := &fakeSigner{Signer: honest, lie: func(d *types.DynamicFeeTx) { d.To = &thief }}
	svc2, store2, _, acct2 := newService(lying)
	before, err := c.Nonce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := svc2.Submit(ctx, consolidate.SubmitRequest{AccountID: acct2.ID, To: to, Amount: big.NewInt(5)})
	if err != nil || tx.Hash != (common.Hash{}) || tx.Status != consolidate.StatusPending {
		t.Fatalf("Submit with a lying signer: %v, %s, hash %s; want reserved, unsigned", err, tx.Status, tx.Hash)
	}
	if lying.calls.Load() == 0 {
		t.Fatal("the lying signer was never asked")
	}
	if after, err := c.Nonce(ctx); err != nil || after != before {
		t.Fatalf("the node's nonce moved from %d to %d (%v): a tampered transaction reached it", before, after, err)
	}
	if as, err := store2.Attempts(ctx, tx.ID); err != nil || len(as) != 0 {
		t.Fatalf("%d attempts stored (%v), want none", len(as), err)
	}
	if b, err := client.BalanceAt(ctx, thief, nil); err != nil || b.Sign() != 0 {
		t.Fatalf("the tampered recipient holds %v (%v)", b, err)
	}
	evs, err := store2.Events(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		found = found || (e.Type == consolidate.EventSignatureRejected && e.TransactionID == tx.ID)
	}
	if !found {
		t.Fatalf("no %s event among %+v", consolidate.EventSignatureRejected, evs)
	}
}
