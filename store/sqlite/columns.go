package sqlite

import (
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/bytecol"
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

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
