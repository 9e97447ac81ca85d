package chain

import (
	"errors"
	"math/big"
	"testing"

	"github.com/go-consolidate/consolidate"
)

func TestRaise(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ x, want int64 }{
		{0, 1},   // 10 % of nothing is nothing; a replacement must still pay more
		{1, 2},   // 1.1 rounds up to 2
		{9, 10},  // 9.9 rounds up
		{10, 11}, // exact
		{11, 13}, // 12.1 rounds up
		{100, 110},
		{1_000_000_001, 1_100_000_002}, // 1100000001.1 rounds up
		{2_000_000_000, 2_200_000_000},
	} {
		if got := raise(big.NewInt(tc.x)); got.Int64() != tc.want {
			t.Errorf("raise(%d) = %v, want %d", tc.x, got, tc.want)
		}
	}
	huge, _ := new(big.Int).SetString("115792089237316195423570985008687907853269984665640564039457584007913129639935", 10)
	if got := raise(huge); got.Cmp(huge) <= 0 {
		t.Errorf("raise(2^256-1) = %v, not above it", got)
	}
}

// replaces is go-ethereum's legacy pool rule (core/txpool/legacypool,
// list.Add) for a new fee that replaces old: strictly higher, and at
// least old × (100 + bump) / 100 in integer division.
func replaces(newFee, old int64) bool {
	return newFee > old && newFee >= old*(100+priceBump)/100
}

func TestRaiseIsTheLeastThePoolAccepts(t *testing.T) {
	t.Parallel()
	for x := range int64(5000) {
		r := raise(big.NewInt(x)).Int64()
		if !replaces(r, x) {
			t.Fatalf("raise(%d) = %d: the pool refuses it", x, r)
		}
		// The pool's threshold rounds down, so it takes a little less than
		// 10 % (20 in place of 19); raise rounds up and never offers less
		// than 10 %, which other clients may insist on.
		if 100*r < (100+priceBump)*x {
			t.Fatalf("raise(%d) = %d is less than 10 %% more", x, r)
		}
		if r > x+1 && 100*(r-1) >= (100+priceBump)*x {
			t.Fatalf("raise(%d) = %d is not the least 10 %% raise", x, r)
		}
	}
}

func TestBumpQuote(t *testing.T) {
	t.Parallel()
	const gwei = 1_000_000_000
	q := func(gas uint64, tip, feeCap int64) consolidate.Quote {
		return consolidate.Quote{GasLimit: gas, GasTipCap: big.NewInt(tip), GasFeeCap: big.NewInt(feeCap)}
	}
	for _, tc := range []struct {
		name                 string
		prev                 consolidate.Quote
		baseFee, tip, maxFee int64
		want                 consolidate.Quote
		err                  error
	}{
		{
			name: "fees unchanged: 10 % up, rounded up",
			prev: q(21000, 1*gwei, 21*gwei), baseFee: 10 * gwei, tip: 1 * gwei, maxFee: 500 * gwei,
			want: q(21000, 1_100_000_000, 23_100_000_000),
		},
		{
			name: "gas limit kept",
			prev: q(100_000, 3, 33), baseFee: 5, tip: 1, maxFee: 1000,
			want: q(100_000, 4, 37),
		},
		{
			name: "tiny fees still rise by a wei",
			prev: q(21000, 0, 1), baseFee: 0, tip: 0, maxFee: 1000,
			want: q(21000, 1, 2),
		},
		{
			name: "network tip higher than the raise",
			prev: q(21000, 1*gwei, 21*gwei), baseFee: 10 * gwei, tip: 2 * gwei, maxFee: 500 * gwei,
			want: q(21000, 2*gwei, 23_100_000_000),
		},
		{
			name: "base fee risen: 2 × base fee + tip",
			prev: q(21000, 1*gwei, 21*gwei), baseFee: 30 * gwei, tip: 1 * gwei, maxFee: 500 * gwei,
			want: q(21000, 1_100_000_000, 61_100_000_000),
		},
		{
			name: "lowered to MaxFeePerGas",
			prev: q(21000, 1*gwei, 21*gwei), baseFee: 30 * gwei, tip: 1 * gwei, maxFee: 40 * gwei,
			want: q(21000, 1_100_000_000, 40*gwei),
		},
		{
			name: "raise exactly at MaxFeePerGas",
			prev: q(21000, 1*gwei, 20*gwei), baseFee: 5 * gwei, tip: 1 * gwei, maxFee: 22 * gwei,
			want: q(21000, 1_100_000_000, 22*gwei),
		},
		{
			name: "raise above MaxFeePerGas",
			prev: q(21000, 1*gwei, 20*gwei), baseFee: 5 * gwei, tip: 1 * gwei, maxFee: 22*gwei - 1,
			err: ErrFeeTooHigh,
		},
		{
			name: "base fee + tip above MaxFeePerGas",
			prev: q(21000, 1*gwei, 20*gwei), baseFee: 40 * gwei, tip: 1 * gwei, maxFee: 40 * gwei,
			err: ErrFeeTooHigh,
		},
		{
			name: "network tip above MaxFeePerGas",
			prev: q(21000, 1, 2), baseFee: 0, tip: 50, maxFee: 40,
			err: ErrFeeTooHigh,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prevTip, prevCap := new(big.Int).Set(tc.prev.GasTipCap), new(big.Int).Set(tc.prev.GasFeeCap)
			tip := big.NewInt(tc.tip)
			got, err := bumpQuote(tc.prev, big.NewInt(tc.baseFee), tip, big.NewInt(tc.maxFee))
			if tc.prev.GasTipCap.Cmp(prevTip) != 0 || tc.prev.GasFeeCap.Cmp(prevCap) != 0 || tip.Int64() != tc.tip {
				t.Fatal("bumpQuote changed its arguments")
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				if !errors.Is(err, consolidate.ErrFeeTooHigh) {
					t.Fatalf("%v does not match consolidate.ErrFeeTooHigh", err)
				}
				return
			}
			if got.GasLimit != tc.want.GasLimit || got.GasTipCap.Cmp(tc.want.GasTipCap) != 0 || got.GasFeeCap.Cmp(tc.want.GasFeeCap) != 0 {
				t.Fatalf("got %d %v %v, want %d %v %v", got.GasLimit, got.GasTipCap, got.GasFeeCap,
					tc.want.GasLimit, tc.want.GasTipCap, tc.want.GasFeeCap)
			}
			// Whatever the inputs, the result replaces prev in the pool and
			// can be signed.
			if !replaces(got.GasTipCap.Int64(), tc.prev.GasTipCap.Int64()) || !replaces(got.GasFeeCap.Int64(), tc.prev.GasFeeCap.Int64()) {
				t.Fatalf("%v/%v would not replace %v/%v", got.GasTipCap, got.GasFeeCap, tc.prev.GasTipCap, tc.prev.GasFeeCap)
			}
			if err := checkQuote(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFinalBlock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ head, finalized, confirmations, want uint64 }{
		{0, 0, 1, 0},
		{10, 0, 1, 10},        // mined is final
		{10, 0, 3, 8},         // 8, 9, 10: three confirmations
		{10, 9, 3, 9},         // the finalized block is newer
		{1, 0, 3, 0},          // not deep enough yet
		{2, 0, 3, 0},          // block 0 is three deep
		{5, 4, ^uint64(0), 4}, // finalized only
		{^uint64(0), 0, ^uint64(0), 1},
	} {
		if got := finalBlock(tc.head, tc.finalized, tc.confirmations); got != tc.want {
			t.Errorf("finalBlock(head %d, finalized %d, confirmations %d) = %d, want %d",
				tc.head, tc.finalized, tc.confirmations, got, tc.want)
		}
	}
}
