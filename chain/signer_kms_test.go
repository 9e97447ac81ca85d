package chain_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate/chain"
)

// The cloud KMS signer that docs/signers.md sketches, run against a fake
// KMS that answers as AWS KMS and Google Cloud KMS do: DER signatures
// that know nothing of EIP-2, every other one with a high s.

// kms is the part of a KMS client the signer needs.
type kms interface {
	// PublicKey returns the key's DER SubjectPublicKeyInfo.
	PublicKey(ctx context.Context) ([]byte, error)
	// SignDigest signs a 32-byte digest with the secp256k1 key and returns
	// an ASN.1 DER ECDSA signature.
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
}

type kmsSigner struct {
	kms  kms
	addr common.Address
}

func newKMSSigner(ctx context.Context, k kms) (*kmsSigner, error) {
	der, err := k.PublicKey(ctx)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	pub, err := crypto.UnmarshalPubkey(spki.Key.Bytes)
	if err != nil {
		return nil, err
	}
	return &kmsSigner{kms: k, addr: crypto.PubkeyToAddress(*pub)}, nil
}

func (s *kmsSigner) Address() common.Address { return s.addr }

func (s *kmsSigner) SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	signer := types.LatestSignerForChainID(chainID)
	hash := signer.Hash(tx)
	der, err := s.kms.SignDigest(ctx, hash[:])
	if err != nil {
		return nil, err // temporary, unless the KMS said no for good
	}
	sig, err := derToRSV(der, hash[:], s.addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", chain.ErrSignerRefused, err)
	}
	return tx.WithSignature(signer, sig)
}

// derToRSV turns a DER signature into go-ethereum's [R || S || V]: s in
// the lower half of the curve order (EIP-2), V the recovery id that gives
// addr back.
func derToRSV(der, hash []byte, addr common.Address) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		return nil, err
	}
	n := crypto.S256().Params().N
	if rs.R.Sign() <= 0 || rs.R.Cmp(n) >= 0 || rs.S.Sign() <= 0 || rs.S.Cmp(n) >= 0 {
		return nil, errors.New("signature out of range")
	}
	if rs.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		rs.S.Sub(n, rs.S)
	}
	sig := make([]byte, 65)
	rs.R.FillBytes(sig[:32])
	rs.S.FillBytes(sig[32:64])
	for v := range byte(2) {
		sig[64] = v
		if pub, err := crypto.SigToPub(hash, sig); err == nil && crypto.PubkeyToAddress(*pub) == addr {
			return sig, nil
		}
	}
	return nil, errors.New("signature does not recover to the key's address")
}

// fakeKMS holds a key in memory and signs like a cloud KMS: DER, any s.
type fakeKMS struct {
	key   *ecdsa.PrivateKey
	calls atomic.Int64
}

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

func (k *fakeKMS) PublicKey(ctx context.Context) ([]byte, error) {
	params, err := asn1.Marshal(oidSecp256k1)
	if err != nil {
		return nil, err
	}
	pub := crypto.FromECDSAPub(&k.key.PublicKey)
	return asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}{
		pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
		asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)},
	})
}

func (k *fakeKMS) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sig, err := crypto.Sign(digest, k.key)
	if err != nil {
		return nil, err
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
	if k.calls.Add(1)%2 == 0 {
		s.Sub(crypto.S256().Params().N, s) // as valid to ECDSA, refused by Ethereum
	}
	return asn1.Marshal(struct{ R, S *big.Int }{r, s})
}

func TestKMSSignerSketch(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	s, err := newKMSSigner(t.Context(), &fakeKMS{key: key.key})
	if err != nil {
		t.Fatal(err)
	}
	if s.Address() != key.addr {
		t.Fatalf("address from the public key: %s, want %s", s.Address(), key.addr)
	}
	testSignerContract(t, s, devChainID)
	for i := range 4 { // both halves of s, twice
		tx := transferIntent()
		tx.Nonce = uint64(i)
		intent := types.NewTx(tx)
		signed, err := s.SignTx(t.Context(), intent, devChainID)
		if err != nil {
			t.Fatal(err)
		}
		if err := chain.CheckSigned(intent, signed, devChainID, key.addr); err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
	}
	if _, err := derToRSV([]byte{0x30, 0x00}, make([]byte, 32), key.addr); err == nil {
		t.Fatal("an empty DER signature converted")
	}
}
