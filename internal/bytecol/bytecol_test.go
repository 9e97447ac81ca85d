package bytecol

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	tok := common.HexToAddress("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
	for _, in := range []common.Address{{}, tok} {
		if got, err := Token(NullToken(in)); err != nil || got != in {
			t.Errorf("token %s: %s, %v", in, got, err)
		}
	}
	if NullToken(common.Address{}) != nil {
		t.Error("ether is not stored as NULL")
	}
	h := common.HexToHash("0x01")
	for _, in := range []common.Hash{{}, h} {
		if got, err := Hash(NullHash(in)); err != nil || got != in {
			t.Errorf("hash %s: %s, %v", in, got, err)
		}
	}
	for _, bad := range [][]byte{{}, make([]byte, 19), make([]byte, 32)} {
		if _, err := Address(bad); err == nil {
			t.Errorf("Address of %d bytes accepted", len(bad))
		}
		if _, err := Token(bad); err == nil {
			t.Errorf("Token of %d bytes accepted", len(bad))
		}
	}
	if _, err := Hash(make([]byte, 20)); err == nil {
		t.Error("Hash of 20 bytes accepted")
	}
}
