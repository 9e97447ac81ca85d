package chain_test

import (
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate/chain"
)

var devChainID = big.NewInt(1337)

// transferIntent is the unsigned transfer the signer tests ask for.
func transferIntent() *types.DynamicFeeTx {
	to := common.HexToAddress("0x00000000000000000000000000000000000000b0")
	return &types.DynamicFeeTx{
		ChainID:   devChainID,
		Nonce:     7,
		GasTipCap: big.NewInt(2e9),
		GasFeeCap: big.NewInt(30e9),
		Gas:       21000,
		To:        &to,
		Value:     big.NewInt(12345),
	}
}

func signDynamic(t testing.TB, tx *types.DynamicFeeTx, chainID *big.Int, s *testKey) *types.Transaction {
	t.Helper()
	signed, err := types.SignTx(types.NewTx(tx), types.LatestSignerForChainID(chainID), s.key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestCheckSigned(t *testing.T) {
	t.Parallel()
	key, other := newTestKey(t), newTestKey(t)
	intent := types.NewTx(transferIntent())
	tampered := func(f func(*types.DynamicFeeTx)) *types.Transaction {
		tx := transferIntent()
		f(tx)
		return signDynamic(t, tx, devChainID, key)
	}
	elsewhere := common.HexToAddress("0x00000000000000000000000000000000000000e1")

	tests := []struct {
		name   string
		signed *types.Transaction
		field  string // "" when CheckSigned accepts it
	}{
		{"as asked", signDynamic(t, transferIntent(), devChainID, key), ""},
		{"no transaction", nil, "transaction"},
		{"another chain", onChain(t, big.NewInt(1), key), "chain id"},
		{"legacy type", legacyOf(t, transferIntent(), key), "type"},
		{"nonce", tampered(func(tx *types.DynamicFeeTx) { tx.Nonce++ }), "nonce"},
		{"recipient", tampered(func(tx *types.DynamicFeeTx) { tx.To = &elsewhere }), "to"},
		{"contract creation", tampered(func(tx *types.DynamicFeeTx) { tx.To = nil }), "to"},
		{"value", tampered(func(tx *types.DynamicFeeTx) { tx.Value = big.NewInt(12346) }), "value"},
		{"data", tampered(func(tx *types.DynamicFeeTx) { tx.Data = []byte{0xa9, 0x05, 0x9c, 0xbb} }), "data"},
		{"gas", tampered(func(tx *types.DynamicFeeTx) { tx.Gas = 100_000 }), "gas"},
		{"tip", tampered(func(tx *types.DynamicFeeTx) { tx.GasTipCap = big.NewInt(3e9) }), "tip"},
		{"fee cap", tampered(func(tx *types.DynamicFeeTx) { tx.GasFeeCap = big.NewInt(300e9) }), "fee cap"},
		{"access list added", tampered(func(tx *types.DynamicFeeTx) {
			tx.AccessList = types.AccessList{{Address: elsewhere}}
		}), "access list"},
		{"unsigned", types.NewTx(transferIntent()), "signature"},
		{"high s", highS(t, signDynamic(t, transferIntent(), devChainID, key)), "signature"},
		{"another key", signDynamic(t, transferIntent(), devChainID, other), "from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := chain.CheckSigned(intent, tt.signed, devChainID, key.addr)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("CheckSigned: %v", err)
				}
				return
			}
			var m *chain.SignatureMismatchError
			if !errors.Is(err, chain.ErrSignerMismatch) || !errors.As(err, &m) || m.Field != tt.field {
				t.Fatalf("CheckSigned: %v, want a mismatch of %q", err, tt.field)
			}
			if m.Want == m.Got {
				t.Fatalf("mismatch of %s shows %q twice", m.Field, m.Want)
			}
		})
	}
}

// An access list of the same length but other contents is caught by the
// signing hash, which covers every signed field.
func TestCheckSignedComparesEverySignedField(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	withList := func(a common.Address) *types.DynamicFeeTx {
		tx := transferIntent()
		tx.AccessList = types.AccessList{{Address: a}}
		return tx
	}
	intent := types.NewTx(withList(common.HexToAddress("0x01")))
	signed := signDynamic(t, withList(common.HexToAddress("0x02")), devChainID, key)
	var m *chain.SignatureMismatchError
	if err := chain.CheckSigned(intent, signed, devChainID, key.addr); !errors.As(err, &m) || m.Field != "signed fields" {
		t.Fatalf("CheckSigned: %v, want a mismatch of the signed fields", err)
	}
}

// The intent's own chain ID (even none) does not matter: the signer fills
// it in, and the chain ID checked is the one passed.
func TestCheckSignedIntentWithoutChainID(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	bare := transferIntent()
	bare.ChainID = nil
	signed := signDynamic(t, transferIntent(), devChainID, key)
	if err := chain.CheckSigned(types.NewTx(bare), signed, devChainID, key.addr); err != nil {
		t.Fatalf("CheckSigned: %v", err)
	}
}

func TestCheckSignedBadArguments(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	signed := signDynamic(t, transferIntent(), devChainID, key)
	for _, id := range []*big.Int{nil, big.NewInt(0), big.NewInt(-1)} {
		err := chain.CheckSigned(types.NewTx(transferIntent()), signed, id, key.addr)
		if err == nil || errors.Is(err, chain.ErrSignerMismatch) {
			t.Errorf("chain ID %v: %v, want an argument error", id, err)
		}
	}
	if err := chain.CheckSigned(nil, signed, devChainID, key.addr); err == nil || errors.Is(err, chain.ErrSignerMismatch) {
		t.Errorf("nil intent: %v, want an argument error", err)
	}
}

func TestSignatureMismatchErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(&chain.SignatureMismatchError{Field: "nonce", Want: "7", Got: "8"})
	const want = "consolidate: signed transaction does not match the request: nonce is 8, want 7"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err, want)
	}
}

// testKey is a private key and its address.
type testKey struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

func newTestKey(t testing.TB) *testKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{key: k, addr: crypto.PubkeyToAddress(k.PublicKey)}
}

// onChain signs the intent for another chain.
func onChain(t *testing.T, id *big.Int, key *testKey) *types.Transaction {
	t.Helper()
	tx := transferIntent()
	tx.ChainID = id
	return signDynamic(t, tx, id, key)
}

// legacyOf signs tx's fields as a legacy (type 0) EIP-155 transaction.
func legacyOf(t *testing.T, tx *types.DynamicFeeTx, key *testKey) *types.Transaction {
	t.Helper()
	signed, err := types.SignTx(types.NewTx(&types.LegacyTx{
		Nonce: tx.Nonce, GasPrice: tx.GasFeeCap, Gas: tx.Gas, To: tx.To, Value: tx.Value,
	}), types.LatestSignerForChainID(devChainID), key.key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// highS returns tx with its signature's malleable twin: s replaced by
// n − s and the recovery bit flipped. It recovers to the same address but
// is invalid since Homestead.
func highS(t *testing.T, tx *types.Transaction) *types.Transaction {
	t.Helper()
	v, r, s := tx.RawSignatureValues()
	sig := make([]byte, 65)
	r.FillBytes(sig[:32])
	new(big.Int).Sub(crypto.S256().Params().N, s).FillBytes(sig[32:64])
	sig[64] = byte(v.Uint64()) ^ 1
	out, err := tx.WithSignature(types.LatestSignerForChainID(devChainID), sig)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
