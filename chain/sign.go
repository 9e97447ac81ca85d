package chain

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/go-consolidate/consolidate"
)

// Sign builds an EIP-1559 transfer of amount wei to to with the given nonce
// and quote, signs it with the wallet's key, and returns its hash and
// binary encoding. It does no I/O. The same inputs always give the same
// bytes (signatures are deterministic, RFC 6979), so signing again after a
// crash reproduces the transaction already stored.
func (c *Chain) Sign(nonce uint64, to common.Address, amount *big.Int, q consolidate.Quote) (consolidate.SignedTx, error) {
	if err := c.checkTransfer(to, amount); err != nil {
		return consolidate.SignedTx{}, err
	}
	if err := checkQuote(q); err != nil {
		return consolidate.SignedTx{}, err
	}
	// NewTx copies every big integer, so the caller's values stay theirs.
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID:   c.chainID,
		Nonce:     nonce,
		GasTipCap: q.GasTipCap,
		GasFeeCap: q.GasFeeCap,
		Gas:       q.GasLimit,
		To:        &to,
		Value:     amount,
	}), c.signer, c.key)
	if err != nil {
		return consolidate.SignedTx{}, fmt.Errorf("consolidate: chain: sign: %w", err)
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return consolidate.SignedTx{}, fmt.Errorf("consolidate: chain: encode: %w", err)
	}
	return consolidate.SignedTx{Hash: tx.Hash(), Raw: raw}, nil
}

// checkTransfer rejects what the Service would reject anyway, so a Chain
// used on its own cannot sign a transfer that burns or loops money.
func (c *Chain) checkTransfer(to common.Address, amount *big.Int) error {
	switch {
	case c.key == nil:
		return errNotNew
	case to == (common.Address{}):
		return fmt.Errorf("%w: zero recipient", consolidate.ErrInvalidAddress)
	case to == c.sender:
		return fmt.Errorf("%w: %s", consolidate.ErrSelfTransfer, to)
	case amount == nil:
		return fmt.Errorf("%w: nil", consolidate.ErrInvalidAmount)
	case amount.Sign() <= 0 || amount.BitLen() > 256:
		return fmt.Errorf("%w: %v", consolidate.ErrInvalidAmount, amount)
	}
	return nil
}

func checkQuote(q consolidate.Quote) error {
	switch {
	case q.GasLimit < params.TxGas:
		return fmt.Errorf("%w: gas limit %d below the %d of a transfer", ErrInvalidQuote, q.GasLimit, params.TxGas)
	case q.GasTipCap == nil || q.GasFeeCap == nil:
		return fmt.Errorf("%w: missing fee caps", ErrInvalidQuote)
	case q.GasTipCap.Sign() < 0 || q.GasFeeCap.Sign() < 0:
		return fmt.Errorf("%w: negative fee caps", ErrInvalidQuote)
	case q.GasTipCap.BitLen() > 256 || q.GasFeeCap.BitLen() > 256:
		return fmt.Errorf("%w: fee caps above 2^256-1", ErrInvalidQuote)
	case q.GasTipCap.Cmp(q.GasFeeCap) > 0:
		return fmt.Errorf("%w: tip %v above fee cap %v", ErrInvalidQuote, q.GasTipCap, q.GasFeeCap)
	}
	return nil
}
