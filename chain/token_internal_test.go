package chain

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func TestSelectors(t *testing.T) {
	t.Parallel()
	for sig, sel := range map[string][]byte{
		"transfer(address,uint256)": transferSelector,
		"balanceOf(address)":        balanceOfSelector,
		"symbol()":                  symbolSelector,
		"decimals()":                decimalsSelector,
	} {
		if want := crypto.Keccak256([]byte(sig))[:4]; !bytes.Equal(sel, want) {
			t.Errorf("%s: selector %x, want %x", sig, sel, want)
		}
	}
}

func TestDecodeSymbol(t *testing.T) {
	t.Parallel()
	word := func(n int) []byte { return common.LeftPadBytes([]byte{byte(n)}, wordLen) }
	str := func(off, n int, s string) []byte {
		out := append(word(off), word(n)...)
		return append(out, common.RightPadBytes([]byte(s), wordLen)...)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		out  []byte
		want string // "" for ErrNotToken
	}{
		{"string", str(32, 4, "USDC"), "USDC"},
		{"string, one word long", str(32, 32, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"), "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"},
		{"string at a later offset", cat(word(64), word(0), word(3), common.RightPadBytes([]byte("DAI"), 32)), "DAI"},
		{"bytes32", common.RightPadBytes([]byte("MKR"), wordLen), "MKR"},
		{"bytes32 full", []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"), "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"},
		{"bytes32 zero", make([]byte, wordLen), ""},
		{"empty string", str(32, 0, ""), ""},
		{"length past the end", str(32, 33, "X"), ""},
		{"offset past the end", str(96, 1, "X"), ""},
		{"huge offset", cat(bytes.Repeat([]byte{0xff}, 32), word(1), word(1)), ""},
		{"huge length", cat(word(32), bytes.Repeat([]byte{0xff}, 32), word(1)), ""},
		{"one word of offset only", cat(word(32), word(1)[:16]), ""},
		{"short", []byte{1, 2, 3}, ""},
		{"not UTF-8", str(32, 2, "\xff\xfe"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeSymbol(tt.out)
			if tt.want == "" {
				if !errors.Is(err, ErrNotToken) {
					t.Fatalf("got %q, %v; want ErrNotToken", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzDecodeSymbol(f *testing.F) {
	f.Add([]byte{})
	f.Add(common.RightPadBytes([]byte("MKR"), wordLen))
	f.Fuzz(func(t *testing.T, out []byte) {
		s, err := decodeSymbol(out)
		if err == nil && s == "" {
			t.Fatal("empty symbol without an error")
		}
	})
}
