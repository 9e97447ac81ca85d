package postgres

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/go-consolidate/consolidate/internal/bytecol"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// Amounts cross the wire as decimal text, cast to and from NUMERIC in
// SQL: exact for every uint256, with no float or 64-bit integer on the
// way.

// maxUint256 is the largest amount, 2^256 − 1.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// encodeAmount returns x as decimal text, or ErrInvalidAmount if x is
// nil, negative or does not fit in 256 bits.
func encodeAmount(x *big.Int) (string, error) {
	if x == nil || x.Sign() < 0 || x.Cmp(maxUint256) > 0 {
		return "", consolidate.ErrInvalidAmount
	}
	return x.String(), nil
}

// decodeAmount reads NUMERIC text. Anything but a uint256 means the row
// was not written by this package.
func decodeAmount(s string) (*big.Int, error) {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok || x.Sign() < 0 || x.Cmp(maxUint256) > 0 {
		return nil, fmt.Errorf("corrupt amount %q", s)
	}
	return x, nil
}

// decodeOptionalAmount is decodeAmount for nullable columns: NULL is nil.
func decodeOptionalAmount(s *string) (*big.Int, error) {
	if s == nil {
		return nil, nil
	}
	return decodeAmount(*s)
}

// optionalAmount is the text of an optional amount: nil stays NULL.
func optionalAmount(x *big.Int) (*string, error) {
	if x == nil {
		return nil, nil
	}
	s, err := encodeAmount(x)
	return &s, err
}

// The range of times this package stores: timestamptz holds more, but
// these keep every value clear of its limits.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// dbTime is t as timestamptz keeps it: microseconds, clamped to the
// storable range, so a value a method returns equals the one read back.
func dbTime(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		t = minTime
	case t.After(maxTime):
		t = maxTime
	}
	return t.Truncate(time.Microsecond)
}

// nullTime stores the zero time as NULL: "not set".
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	d := dbTime(t)
	return &d
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// nowOr returns t, or the current time if t is zero.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// toInt64 checks that a uint64 from the chain (a nonce, a block number, a
// gas limit) fits PostgreSQL's BIGINT. Real values are far below it.
func toInt64(what string, v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %s %d exceeds %d", consolidate.ErrInvalidArgument, what, v, int64(math.MaxInt64))
	}
	return int64(v), nil
}

// The byte columns are stored as the other store stores them.
var (
	decodeAddress = bytecol.Address
	decodeToken   = bytecol.Token
	nullToken     = bytecol.NullToken
	decodeHash    = bytecol.Hash
	nullHash      = bytecol.NullHash
)

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// checkSigned refuses signed bytes that could never be broadcast or told
// apart: the store keys attempts by hash, and rebroadcasts raw as it is.
func checkSigned(st consolidate.SignedTx) error {
	if st.Hash == (common.Hash{}) {
		return errors.New("signed transaction has the zero hash")
	}
	if len(st.Raw) == 0 {
		return errors.New("signed transaction has no bytes")
	}
	return nil
}
