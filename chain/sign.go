package chain

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/go-consolidate/consolidate"
)

// Sign builds an EIP-1559 transaction for t with the given nonce and
// quote: a transfer of t.Amount wei to t.To, or for a token the call
// SignToken builds. It signs it with the wallet's key and returns its hash
// and binary encoding. With a key in process memory it does no I/O, and
// the same inputs always give the same bytes (RFC 6979). Any other Signer
// is called with ctx, and what it returns must match the request
// (CheckSigned): anything else fails with an error wrapping
// ErrSignerMismatch, and nothing of it is returned.
func (c *Chain) Sign(ctx context.Context, nonce uint64, t consolidate.Transfer, q consolidate.Quote) (consolidate.SignedTx, error) {
	if t.Token != (common.Address{}) {
		return c.SignToken(ctx, nonce, t.Token, t.To, t.Amount, q)
	}
	if err := c.checkTransfer(t.To, t.Amount); err != nil {
		return consolidate.SignedTx{}, err
	}
	return c.signQuoted(ctx, nonce, t.To, t.Amount, nil, q)
}

// signQuoted signs a call of to with value and data, priced by q.
func (c *Chain) signQuoted(ctx context.Context, nonce uint64, to common.Address, value *big.Int, data []byte, q consolidate.Quote) (consolidate.SignedTx, error) {
	if err := checkQuote(q); err != nil {
		return consolidate.SignedTx{}, err
	}
	return c.sign(ctx, &types.DynamicFeeTx{
		Nonce:     nonce,
		GasTipCap: q.GasTipCap,
		GasFeeCap: q.GasFeeCap,
		Gas:       q.GasLimit,
		To:        &to,
		Value:     value,
		Data:      data,
	})
}

// SignCancel builds and signs a transaction that voids whatever else was
// signed with nonce: a transfer of 0 wei from the wallet to itself with
// the gas limit of a plain transfer (21000, whatever q.GasLimit says) and
// q's fee caps. Once it is included, no other transaction with that nonce
// can be. To replace a transaction still waiting in the mempool, price q
// with Bump from that transaction's quote, or nodes refuse it with
// ErrUnderpriced. It signs as Sign does.
//
// A wallet with code of its own (delegated under EIP-7702) runs that code
// on the self-transfer, which then fails for lack of gas; it is still
// included and still consumes the nonce.
func (c *Chain) SignCancel(ctx context.Context, nonce uint64, q consolidate.Quote) (consolidate.SignedTx, error) {
	if c.signer == nil {
		return consolidate.SignedTx{}, errNotNew
	}
	q.GasLimit = params.TxGas
	if err := checkQuote(q); err != nil {
		return consolidate.SignedTx{}, err
	}
	return c.sign(ctx, &types.DynamicFeeTx{
		Nonce:     nonce,
		GasTipCap: q.GasTipCap,
		GasFeeCap: q.GasFeeCap,
		Gas:       q.GasLimit,
		To:        &c.sender,
		Value:     new(big.Int),
	})
}

// sign signs tx for the Chain's network and encodes it. A key in process
// memory signs directly; any other signer's answer is checked against tx
// before it is returned.
func (c *Chain) sign(ctx context.Context, tx *types.DynamicFeeTx) (consolidate.SignedTx, error) {
	tx.ChainID = c.chainID
	// NewTx copies every big integer and the recipient, so the caller's
	// values stay theirs.
	intent := types.NewTx(tx)
	var signed *types.Transaction
	var err error
	if c.local != nil {
		signed, err = types.SignTx(intent, c.txSigner, c.local.key)
	} else {
		signed, err = c.signer.SignTx(ctx, intent, c.chainID)
		if err == nil {
			err = CheckSigned(intent, signed, c.chainID, c.sender)
		}
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "consolidate: ") {
			return consolidate.SignedTx{}, err // says what happened already
		}
		return consolidate.SignedTx{}, fmt.Errorf("consolidate: chain: sign: %w", err)
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		return consolidate.SignedTx{}, fmt.Errorf("consolidate: chain: encode: %w", err)
	}
	return consolidate.SignedTx{Hash: signed.Hash(), Raw: raw}, nil
}

// checkTransfer rejects what the Service would reject anyway, so a Chain
// used on its own cannot sign a transfer that burns or loops money.
func (c *Chain) checkTransfer(to common.Address, amount *big.Int) error {
	switch {
	case c.signer == nil:
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
