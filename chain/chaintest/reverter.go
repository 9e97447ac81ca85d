package chaintest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
)

// reverterCode is the runtime code of the contract DeployReverter deploys:
// PUSH1 0, PUSH1 0, REVERT. Every call to it, including a plain transfer,
// reverts.
var reverterCode = []byte{0x60, 0x00, 0x60, 0x00, 0xfd}

// reverterInit is init code that returns reverterCode: it stores the five
// bytes right-aligned in the first memory word and returns them.
//
//	PUSH5 0x60006000fd  PUSH1 0  MSTORE  PUSH1 5  PUSH1 27  RETURN
var reverterInit = []byte{
	0x64, 0x60, 0x00, 0x60, 0x00, 0xfd, // PUSH5 runtime
	0x60, 0x00, 0x52, // PUSH1 0, MSTORE
	0x60, 0x05, 0x60, 0x1b, 0xf3, // PUSH1 5, PUSH1 27, RETURN
}

// DeployReverter deploys a contract whose code always reverts and returns
// its address. A transfer to it is mined with receipt status 0 and its fee
// charged. It is paid for by a separate funded wallet, so the sending
// wallet's nonces are untouched, and it mines one block, which also
// includes whatever else is in the mempool.
func (c *Chain) DeployReverter(ctx context.Context) (common.Address, error) {
	receipt, err := c.fromDeployer(ctx, nil, reverterInit)
	if err != nil {
		return common.Address{}, fmt.Errorf("chaintest: deploy reverter: %w", err)
	}
	code, err := c.Client().CodeAt(ctx, receipt.ContractAddress, nil)
	if err != nil {
		return common.Address{}, fmt.Errorf("chaintest: deploy reverter: code: %w", err)
	}
	if !bytes.Equal(code, reverterCode) {
		return common.Address{}, fmt.Errorf("chaintest: deploy reverter: deployed code %x, want %x", code, reverterCode)
	}
	return receipt.ContractAddress, nil
}

// fromDeployer sends a transaction from the deployer wallet, a contract
// creation when to is nil, and mines blocks until it is included. A
// reverted transaction is an error.
func (c *Chain) fromDeployer(ctx context.Context, to *common.Address, data []byte) (*types.Receipt, error) {
	client := c.Client()
	from := crypto.PubkeyToAddress(c.deployer.PublicKey)
	nonce, err := client.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	tip, err := client.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("tip: %w", err)
	}
	// Estimated, not fixed: the cost of creating storage varies between
	// forks, and a first write to a slot costs several times a later one.
	gas, err := client.EstimateGas(ctx, ethereum.CallMsg{From: from, To: to, Data: data})
	if err != nil {
		return nil, fmt.Errorf("estimate gas: %w", err)
	}
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID:   big.NewInt(ChainID),
		Nonce:     nonce,
		GasTipCap: tip,
		GasFeeCap: new(big.Int).Add(new(big.Int).Lsh(head.BaseFee, 1), tip),
		Gas:       gas + gas/4,
		To:        to,
		Data:      data,
	}), types.LatestSignerForChainID(big.NewInt(ChainID)), c.deployer)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	receipt, err := c.mined(ctx, tx.Hash())
	if err != nil {
		return nil, err
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		return nil, errors.New("transaction reverted")
	}
	return receipt, nil
}

// mined commits blocks until the transaction with hash has a receipt. It
// tries more than once because a concurrent Commit (AutoMine's, say) may
// have sealed a block before the transaction reached the pool.
func (c *Chain) mined(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	for range 50 {
		if c.Commit() == (common.Hash{}) {
			return nil, consolidate.ErrClosed
		}
		r, err := c.Client().TransactionReceipt(ctx, hash)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("transaction %s not mined after 50 blocks", hash)
}
