package chain

import (
	"context"
	"fmt"
	"math/big"

	"github.com/go-consolidate/consolidate"
)

// priceBump is the percentage by which a replacement must raise both the
// tip and the fee cap of the transaction it replaces before a node takes
// it in that transaction's place: go-ethereum's default (txpool.pricebump),
// which other clients share.
const priceBump = 10

// Bump returns the quote for another attempt at a nonce whose last attempt
// was signed with prev (a transfer re-signed with higher fees, or a
// cancel), such that nodes take it in place of that attempt:
//
//   - tip: prev's tip raised by 10 %, or the tip Quote would offer now
//     (Options.GasTipCap, or the node's suggestion) if that is higher;
//   - fee cap: prev's fee cap raised by 10 %, or 2 × the latest base fee +
//     the new tip if that is higher, lowered to Options.MaxFeePerGas when
//     that is still a 10 % raise and still covers base fee + tip;
//   - gas limit: prev's.
//
// Raised by 10 % means to at least prev × 110 / 100, rounded up, and at
// least one wei above prev: the rule of go-ethereum's pool, which compares
// against prev × 110 / 100 and requires both fees to grow.
//
// When the raised fee cap, or the base fee plus the new tip, is above
// Options.MaxFeePerGas, the error wraps ErrFeeTooHigh: no replacement can
// be priced within the limit now. A prev that Sign would refuse gives
// ErrInvalidQuote.
func (c *Chain) Bump(ctx context.Context, prev consolidate.Quote) (consolidate.Quote, error) {
	if c.client == nil {
		return consolidate.Quote{}, errNotNew
	}
	if err := checkQuote(prev); err != nil {
		return consolidate.Quote{}, err
	}
	baseFee, tip, err := c.market(ctx)
	if err != nil {
		return consolidate.Quote{}, fmt.Errorf("consolidate: chain: bump: %w", err)
	}
	return bumpQuote(prev, baseFee, tip, c.opts.MaxFeePerGas)
}

// bumpQuote prices a replacement of a transaction signed with prev, given
// the latest base fee and the tip to offer now, within maxFee.
func bumpQuote(prev consolidate.Quote, baseFee, tip, maxFee *big.Int) (consolidate.Quote, error) {
	newTip := raise(prev.GasTipCap)
	if tip.Cmp(newTip) > 0 {
		newTip.Set(tip)
	}
	least := raise(prev.GasFeeCap)
	if covers := new(big.Int).Add(baseFee, newTip); covers.Cmp(least) > 0 {
		least = covers
	}
	if least.Cmp(maxFee) > 0 {
		return consolidate.Quote{}, fmt.Errorf("%w: replacing fee cap %v, tip %v at base fee %v needs %v wei > %v wei per gas",
			ErrFeeTooHigh, prev.GasFeeCap, prev.GasTipCap, baseFee, least, maxFee)
	}
	feeCap := new(big.Int).Lsh(baseFee, 1)
	feeCap.Add(feeCap, newTip)
	switch {
	case feeCap.Cmp(least) < 0:
		feeCap.Set(least)
	case feeCap.Cmp(maxFee) > 0:
		feeCap.Set(maxFee)
	}
	return consolidate.Quote{GasLimit: prev.GasLimit, GasTipCap: newTip, GasFeeCap: feeCap}, nil
}

// raise returns x raised by priceBump percent, rounded up, and by at least
// one: the least a replacement may offer where the original offered x.
func raise(x *big.Int) *big.Int {
	r := new(big.Int).Mul(x, big.NewInt(100+priceBump))
	r.Add(r, big.NewInt(99))
	r.Div(r, big.NewInt(100))
	if r.Cmp(x) <= 0 {
		r.Add(x, big.NewInt(1))
	}
	return r
}
