package consolidate_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// FuzzParseAmount checks that ParseAmount accepts exactly the decimals of at
// most 78 digits (zero padding allowed) in (0, 2^256), returns their value,
// and never panics.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"1", "0", "00", "007", "-1", "+1", "1e18", "1.5", " 1", "0x10", "",
		"115792089237316195423570985008687907853269984665640564039457584007913129639935",
		"115792089237316195423570985008687907853269984665640564039457584007913129639936",
		strings.Repeat("9", 79), "١٢٣",
	} {
		f.Add(s)
	}
	maxWei := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	f.Fuzz(func(t *testing.T, s string) {
		v, err := consolidate.ParseAmount(s)
		want, ok := new(big.Int).SetString(s, 10)
		// 78 digits hold any uint256; longer input is refused before
		// parsing, even zero-padded, so that its cost stays bounded.
		digits := s != "" && len(s) <= 78 && strings.Trim(s, "0123456789") == ""
		valid := digits && ok && want.Sign() > 0 && want.Cmp(maxWei) <= 0
		if !valid {
			if err == nil {
				t.Fatalf("ParseAmount(%q) = %s, want an error", s, v)
			}
			if !errors.Is(err, consolidate.ErrInvalidAmount) {
				t.Fatalf("ParseAmount(%q): %v does not wrap ErrInvalidAmount", s, err)
			}
			if len(err.Error()) > 500 { // 80 input bytes, each quoted as at most \xNN
				t.Fatalf("ParseAmount(%q): error of %d bytes", s, len(err.Error()))
			}
			return
		}
		if err != nil || v.Cmp(want) != 0 {
			t.Fatalf("ParseAmount(%q) = %v, %v; want %s", s, v, err, want)
		}
	})
}

// FuzzParseAddress checks that an accepted address is non-zero and
// round-trips through its checksummed form, and that rejections wrap
// ErrInvalidAddress.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"0x1111111111111111111111111111111111111111",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",
		"0x0000000000000000000000000000000000000000",
		"1111111111111111111111111111111111111111",
		"0x11", "", "0x", "0xzz11111111111111111111111111111111111111",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := consolidate.ParseAddress(s)
		if err != nil {
			if !errors.Is(err, consolidate.ErrInvalidAddress) {
				t.Fatalf("ParseAddress(%q): %v does not wrap ErrInvalidAddress", s, err)
			}
			return
		}
		if a == ([20]byte{}) {
			t.Fatalf("ParseAddress(%q) accepted the zero address", s)
		}
		if !strings.EqualFold(a.Hex(), s) {
			t.Fatalf("ParseAddress(%q) = %s", s, a.Hex())
		}
		if b, err := consolidate.ParseAddress(a.Hex()); err != nil || b != a {
			t.Fatalf("checksummed form %s does not parse back: %v, %v", a.Hex(), b, err)
		}
	})
}

// FuzzValidateMessage checks that every message ValidateMessage accepts
// has names Redis keys and hash tags can hold, and that the in-process
// queue takes every such message.
func FuzzValidateMessage(f *testing.F) {
	f.Add("reconcile", "tx:1", int64(0))
	f.Add("events", "evt_9", int64(time.Second))
	f.Add("", "x", int64(0))
	f.Add("q{1}", "id", int64(0))
	f.Add("q", "id with space", int64(-1))
	f.Add("q", strings.Repeat("i", 257), int64(0))
	f.Fuzz(func(t *testing.T, queue, id string, delay int64) {
		m := consolidate.Message{Queue: queue, ID: id, Body: []byte("1"), Delay: time.Duration(delay)}
		err := consolidate.ValidateMessage(m)
		if err != nil {
			if !errors.Is(err, consolidate.ErrInvalidMessage) {
				t.Fatalf("ValidateMessage: %v does not wrap ErrInvalidMessage", err)
			}
			return
		}
		if qerr := consolidate.NewMemoryQueue().Enqueue(t.Context(), m); qerr != nil {
			t.Fatalf("MemoryQueue refused a valid message: %v", qerr)
		}
		for _, s := range []string{queue, id} {
			if strings.ContainsAny(s, "{} \t\r\n") {
				t.Fatalf("accepted %q", s)
			}
			for _, r := range []byte(s) {
				if r < '!' || r > '~' {
					t.Fatalf("accepted byte %q in %q", r, s)
				}
			}
		}
		if delay < 0 {
			t.Fatalf("accepted negative delay %d", delay)
		}
	})
}
