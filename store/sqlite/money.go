package sqlite

import (
	"fmt"
	"math/big"

	"github.com/go-consolidate/consolidate"
)

// amountSize is the width of a stored amount: uint256, big-endian. Fixed
// width makes byte order equal numeric order, which the schema's CHECK
// constraints rely on.
const amountSize = 32

// encodeAmount returns x as a stored amount, or ErrInvalidAmount if x is
// nil, negative or does not fit in 256 bits.
func encodeAmount(x *big.Int) ([]byte, error) {
	if x == nil || x.Sign() < 0 || x.BitLen() > 8*amountSize {
		return nil, consolidate.ErrInvalidAmount
	}
	return x.FillBytes(make([]byte, amountSize)), nil
}

// decodeAmount reads a stored amount. Any other length means the row was
// not written by this package.
func decodeAmount(b []byte) (*big.Int, error) {
	if len(b) != amountSize {
		return nil, fmt.Errorf("corrupt amount: %d bytes", len(b))
	}
	return new(big.Int).SetBytes(b), nil
}

// decodeOptionalAmount is decodeAmount for nullable columns: NULL is nil.
func decodeOptionalAmount(b []byte) (*big.Int, error) {
	if b == nil {
		return nil, nil
	}
	return decodeAmount(b)
}

// balances is an account's two balances while a write transaction
// changes them.
type balances struct {
	available, current *big.Int
}

// check enforces the account invariant 0 ≤ available ≤ current ≤ 2^256−1
// before anything is written, so a bug or a corrupt row fails the
// transaction instead of storing a wrong balance.
func (b balances) check() error {
	if b.available.Sign() < 0 || b.available.Cmp(b.current) > 0 {
		return fmt.Errorf("balance invariant violated: available %s, current %s", b.available, b.current)
	}
	if b.current.BitLen() > 8*amountSize {
		return fmt.Errorf("%w: balance would exceed 2^256-1", consolidate.ErrInvalidAmount)
	}
	return nil
}
