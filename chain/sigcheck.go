package chain

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/go-consolidate/consolidate"
)

// ErrSignerMismatch: a Signer returned something other than what it was
// asked to sign: a transaction that differs from the request in a signed
// field or in its sender, or an answer that is not a transaction at all.
// It is permanent: asking the same signer again is no cure, since one that
// does this is misconfigured (another key, another chain) or compromised.
// It is consolidate.ErrSignerMismatch.
var ErrSignerMismatch = consolidate.ErrSignerMismatch

// SignatureMismatchError says which field of a signed transaction differs
// from the request. It wraps ErrSignerMismatch.
type SignatureMismatchError struct {
	Field string // "transaction", "chain id", "type", "nonce", "to", "value", "data", "gas", "tip", "fee cap", "access list", "signed fields", "signature" or "from"
	Want  string // the requested value
	Got   string // the signed value
}

func (e *SignatureMismatchError) Error() string {
	return fmt.Sprintf("%v: %s is %s, want %s", ErrSignerMismatch, e.Field, e.Got, e.Want)
}

func (e *SignatureMismatchError) Unwrap() error { return ErrSignerMismatch }

// CheckSigned verifies that signed is intent, signed by from for chainID:
// same type, nonce, recipient, value, data, gas limit, fee caps and access
// list, a valid signature, and from as the recovered sender. intent's own
// chain ID and signature are ignored; a signer fills them in. A mismatch
// is a *SignatureMismatchError naming the first field that differs.
//
// Call it on everything a Signer returns before the bytes are stored or
// sent: a remote signer answers over a network, and what it signed is what
// the chain executes.
func CheckSigned(intent, signed *types.Transaction, chainID *big.Int, from common.Address) error {
	if intent == nil || chainID == nil || chainID.Sign() <= 0 {
		return errors.New("consolidate: chain: CheckSigned needs an intent and a positive chain ID")
	}
	if signed == nil {
		return mismatch("transaction", "a signed transaction", "none")
	}
	if err := checkFields(intent, signed, chainID); err != nil {
		return err
	}
	// The signing hash covers every field the signature does, including
	// those of transaction types this file does not name (blobs,
	// authorizations), so nothing signed can differ unnoticed.
	s := types.LatestSignerForChainID(chainID)
	if s.Hash(intent) != s.Hash(signed) {
		return mismatch("signed fields", s.Hash(intent).Hex(), s.Hash(signed).Hex())
	}
	sender, err := types.Sender(s, signed)
	if err != nil {
		return mismatch("signature", "valid", "invalid: "+err.Error())
	}
	if sender != from {
		return mismatch("from", from.Hex(), sender.Hex())
	}
	return nil
}

// checkFields compares the fields a transfer is made of, one by one, so a
// mismatch names the field.
func checkFields(intent, signed *types.Transaction, chainID *big.Int) error {
	switch {
	case signed.ChainId().Cmp(chainID) != 0:
		return mismatch("chain id", chainID.String(), signed.ChainId().String())
	case signed.Type() != intent.Type():
		return mismatch("type", fmt.Sprint(intent.Type()), fmt.Sprint(signed.Type()))
	case signed.Nonce() != intent.Nonce():
		return mismatch("nonce", fmt.Sprint(intent.Nonce()), fmt.Sprint(signed.Nonce()))
	case !sameTo(intent.To(), signed.To()):
		return mismatch("to", toString(intent.To()), toString(signed.To()))
	case signed.Value().Cmp(intent.Value()) != 0:
		return mismatch("value", intent.Value().String(), signed.Value().String())
	case !bytes.Equal(signed.Data(), intent.Data()):
		return mismatch("data", dataString(intent.Data()), dataString(signed.Data()))
	case signed.Gas() != intent.Gas():
		return mismatch("gas", fmt.Sprint(intent.Gas()), fmt.Sprint(signed.Gas()))
	case signed.GasTipCap().Cmp(intent.GasTipCap()) != 0:
		return mismatch("tip", intent.GasTipCap().String(), signed.GasTipCap().String())
	case signed.GasFeeCap().Cmp(intent.GasFeeCap()) != 0:
		return mismatch("fee cap", intent.GasFeeCap().String(), signed.GasFeeCap().String())
	case len(signed.AccessList()) != len(intent.AccessList()):
		return mismatch("access list", fmt.Sprintf("%d entries", len(intent.AccessList())), fmt.Sprintf("%d entries", len(signed.AccessList())))
	}
	return nil
}

func mismatch(field, want, got string) error {
	return &SignatureMismatchError{Field: field, Want: want, Got: got}
}

func sameTo(a, b *common.Address) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func toString(a *common.Address) string {
	if a == nil {
		return "none (contract creation)"
	}
	return a.Hex()
}

// dataString shows calldata in hex, cut short: enough to tell two apart in
// a log line.
func dataString(b []byte) string {
	const show = 36
	if len(b) == 0 {
		return "0x"
	}
	if len(b) <= show {
		return fmt.Sprintf("%#x", b)
	}
	return fmt.Sprintf("%#x… (%d bytes)", b[:show], len(b))
}
