// Package token makes owner tokens for leases and claims.
package token

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// New returns 128 random bits, hex encoded: an owner token that no other
// holder can guess or collide with.
func New() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("consolidate: random token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
