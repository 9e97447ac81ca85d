package redis

import (
	"math"
	"testing"
	"time"
)

// Redis counts expiry in whole milliseconds; a TTL must round up, since
// rounding a sub-millisecond TTL down to PEXPIRE 0 would delete the key.
func TestRedisCeilMillis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want time.Duration }{
		{0, 0},
		{1, time.Millisecond},
		{500 * time.Microsecond, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{time.Millisecond + 1, 2 * time.Millisecond},
		{time.Minute, time.Minute},
		{math.MaxInt64, time.Duration(math.MaxInt64 - math.MaxInt64%int64(time.Millisecond))},
	} {
		if got := ceilMillis(tc.in); got != tc.want {
			t.Errorf("ceilMillis(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
