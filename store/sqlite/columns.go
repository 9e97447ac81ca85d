package sqlite

import (
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Times are stored as unix nanoseconds. The zero time.Time has no unix
// nanosecond value, so it is NULL in nullable columns.

// The range unix nanoseconds can hold: years 1678 to 2262.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// unixNano clamps times outside the storable range instead of letting
// time.UnixNano return an undefined value: a Due query for "the year 1"
// still means "before everything".
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: unixNano(t), Valid: true}
}

func fromUnixNano(n int64) time.Time { return time.Unix(0, n) }

func fromNullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}

// nowOr returns t, or the current time if t is zero.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// toInt64 checks that a uint64 from the chain (a nonce, a block number)
// fits SQLite's signed INTEGER. Real values are far below the limit.
func toInt64(what string, v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%s %d exceeds %d", what, v, int64(math.MaxInt64))
	}
	return int64(v), nil
}

func decodeAddress(b []byte) (common.Address, error) {
	if len(b) != common.AddressLength {
		return common.Address{}, fmt.Errorf("corrupt address: %d bytes", len(b))
	}
	return common.BytesToAddress(b), nil
}

// decodeToken reads a token column; NULL is ether, the zero address.
func decodeToken(b []byte) (common.Address, error) {
	if b == nil {
		return common.Address{}, nil
	}
	return decodeAddress(b)
}

// nullToken stores ether, the zero address, as NULL.
func nullToken(t common.Address) []byte {
	if t == (common.Address{}) {
		return nil
	}
	return t.Bytes()
}

// decodeHash reads a hash column; NULL is the zero hash.
func decodeHash(b []byte) (common.Hash, error) {
	if b == nil {
		return common.Hash{}, nil
	}
	if len(b) != common.HashLength {
		return common.Hash{}, fmt.Errorf("corrupt hash: %d bytes", len(b))
	}
	return common.BytesToHash(b), nil
}

// nullHash stores the zero hash as NULL: "not set".
func nullHash(h common.Hash) []byte {
	if h == (common.Hash{}) {
		return nil
	}
	return h.Bytes()
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
