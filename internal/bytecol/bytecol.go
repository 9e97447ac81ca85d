// Package bytecol reads and writes the byte columns both stores keep the
// same way: addresses, hashes and tokens, with NULL for "not set".
package bytecol

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// Address reads a 20-byte address column.
func Address(b []byte) (common.Address, error) {
	if len(b) != common.AddressLength {
		return common.Address{}, fmt.Errorf("corrupt address: %d bytes", len(b))
	}
	return common.BytesToAddress(b), nil
}

// Token reads a token column; NULL is ether, the zero address.
func Token(b []byte) (common.Address, error) {
	if b == nil {
		return common.Address{}, nil
	}
	return Address(b)
}

// NullToken stores ether, the zero address, as NULL.
func NullToken(t common.Address) []byte {
	if t == (common.Address{}) {
		return nil
	}
	return t.Bytes()
}

// Hash reads a hash column; NULL is the zero hash.
func Hash(b []byte) (common.Hash, error) {
	if b == nil {
		return common.Hash{}, nil
	}
	if len(b) != common.HashLength {
		return common.Hash{}, fmt.Errorf("corrupt hash: %d bytes", len(b))
	}
	return common.BytesToHash(b), nil
}

// NullHash stores the zero hash as NULL: "not set".
func NullHash(h common.Hash) []byte {
	if h == (common.Hash{}) {
		return nil
	}
	return h.Bytes()
}
