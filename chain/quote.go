package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
)

// Quote returns the gas limit and EIP-1559 fee caps for transfer t, priced
// for the next block; a token transfer is priced by QuoteToken. For ether:
//
//   - gas limit: Options.GasLimit, or Options.ContractGasLimit when to has
//     code, because the recipient's code runs on receipt;
//   - tip: Options.GasTipCap, or the node's suggestion;
//   - fee cap: 2 × the latest base fee + tip, so the transaction stays
//     includable through several blocks of rising base fee, lowered to
//     Options.MaxFeePerGas when that still covers base fee + tip.
//
// When base fee + tip is above Options.MaxFeePerGas the error wraps
// ErrFeeTooHigh.
func (c *Chain) Quote(ctx context.Context, t consolidate.Transfer) (consolidate.Quote, error) {
	if t.Token != (common.Address{}) {
		return c.QuoteToken(ctx, t.Token, t.To, t.Amount)
	}
	to, amount := t.To, t.Amount
	if err := c.checkTransfer(to, amount); err != nil {
		return consolidate.Quote{}, err
	}
	code, err := c.client.CodeAt(ctx, to, nil)
	if err != nil {
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: quote: code at %s: %w", to, err)
	}
	gas := c.opts.GasLimit
	if len(code) > 0 {
		gas = c.opts.ContractGasLimit
	}

	baseFee, tip, err := c.market(ctx)
	if err != nil {
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: quote: %w", err)
	}
	return feeQuote(gas, baseFee, tip, c.opts.MaxFeePerGas)
}

// market returns the latest block's base fee and the tip to offer now:
// Options.GasTipCap, or the node's suggestion.
func (c *Chain) market(ctx context.Context) (baseFee, tip *big.Int, err error) {
	head, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("latest header: %w", err)
	}
	if head == nil || head.BaseFee == nil {
		return nil, nil, errors.New("node has no base fee (chain before EIP-1559)")
	}
	if c.opts.GasTipCap != nil {
		return head.BaseFee, copyBig(c.opts.GasTipCap), nil
	}
	tip, err = c.client.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("suggested tip: %w", err)
	}
	if tip == nil || tip.Sign() < 0 || tip.BitLen() > 256 {
		return nil, nil, fmt.Errorf("node suggested tip %v", tip)
	}
	return head.BaseFee, tip, nil
}

// feeQuote prices a transaction from the base fee and tip within maxFee.
func feeQuote(gas uint64, baseFee, tip, maxFee *big.Int) (consolidate.Quote, error) {
	least := new(big.Int).Add(baseFee, tip)
	if least.Cmp(maxFee) > 0 {
		return consolidate.Quote{}, fmt.Errorf("%w: base fee %v + tip %v wei > %v wei per gas", ErrFeeTooHigh, baseFee, tip, maxFee)
	}
	feeCap := new(big.Int).Lsh(baseFee, 1)
	feeCap.Add(feeCap, tip)
	if feeCap.Cmp(maxFee) > 0 {
		feeCap.Set(maxFee)
	}
	return consolidate.Quote{GasLimit: gas, GasTipCap: new(big.Int).Set(tip), GasFeeCap: feeCap}, nil
}
