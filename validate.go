package consolidate

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// maxUint256 is 2^256 − 1, the largest amount of wei Ethereum can express.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// maxReferenceLen bounds idempotency keys and credit references.
const maxReferenceLen = 255

// ParseAddress parses a 0x-prefixed hex address. Mixed-case input must carry
// a valid EIP-55 checksum; all-lower or all-upper input is accepted as is.
// The zero address is refused. Errors wrap ErrInvalidAddress.
func ParseAddress(s string) (common.Address, error) {
	if !common.IsHexAddress(s) || !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return common.Address{}, fmt.Errorf("%w: %q is not a 0x-prefixed 20-byte hex address", ErrInvalidAddress, truncate(s))
	}
	a := common.HexToAddress(s)
	hex := s[2:]
	if hex != strings.ToLower(hex) && hex != strings.ToUpper(hex) && a.Hex()[2:] != hex {
		return common.Address{}, fmt.Errorf("%w: %q fails its EIP-55 checksum", ErrInvalidAddress, s)
	}
	if a == (common.Address{}) {
		return common.Address{}, fmt.Errorf("%w: the zero address", ErrInvalidAddress)
	}
	return a, nil
}

// ParseAmount parses a non-negative decimal integer amount of wei, with no
// sign, exponent, fraction or spaces, up to 2^256 − 1, and returns it if it
// is positive. Input longer than 78 digits (the length of 2^256 − 1) is
// refused even when zero-padded, which bounds the work any input costs.
// Errors wrap ErrInvalidAmount.
func ParseAmount(s string) (*big.Int, error) {
	if s == "" || len(s) > 78 {
		return nil, fmt.Errorf("%w: %q is not a decimal amount of wei", ErrInvalidAmount, truncate(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return nil, fmt.Errorf("%w: %q is not a decimal amount of wei", ErrInvalidAmount, truncate(s))
		}
	}
	v, _ := new(big.Int).SetString(s, 10)
	if err := checkAmount(v); err != nil {
		return nil, err
	}
	return v, nil
}

// checkAmount accepts amounts in (0, 2^256).
func checkAmount(v *big.Int) error {
	if v == nil || v.Sign() <= 0 {
		return fmt.Errorf("%w: must be positive", ErrInvalidAmount)
	}
	if v.Cmp(maxUint256) > 0 {
		return fmt.Errorf("%w: above 2^256-1", ErrInvalidAmount)
	}
	return nil
}

// checkReference accepts 1..255 printable ASCII characters without spaces.
func checkReference(what, s string) error {
	if s == "" || len(s) > maxReferenceLen {
		return fmt.Errorf("%w: %s must be 1 to %d characters", ErrInvalidReference, what, maxReferenceLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("%w: %s has a character %q that is a space or outside printable ASCII", ErrInvalidReference, what, s[i])
		}
	}
	return nil
}

// truncate keeps error messages short whatever the input.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
