package chain_test

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/go-consolidate/consolidate/chain"
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
