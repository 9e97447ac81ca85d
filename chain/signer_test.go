package chain_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate/chain"
)

// testSignerContract checks what every Signer promises: a transfer signed
// as asked (CheckSigned accepts it), the request left untouched, safe
// concurrent use, and a cancelled context honoured.
func testSignerContract(t *testing.T, s chain.Signer, chainID *big.Int) {
	t.Helper()
	ctx := t.Context()
	t.Run("signs as asked", func(t *testing.T) {
		intent := types.NewTx(transferIntent())
		before := intent.Hash()
		signed, err := s.SignTx(ctx, intent, chainID)
		if err != nil {
			t.Fatalf("SignTx: %v", err)
		}
		if err := chain.CheckSigned(intent, signed, chainID, s.Address()); err != nil {
			t.Fatalf("CheckSigned: %v", err)
		}
		if intent.Hash() != before {
			t.Fatal("SignTx modified the request")
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				tx := transferIntent()
				tx.Nonce = uint64(i)
				intent := types.NewTx(tx)
				signed, err := s.SignTx(ctx, intent, chainID)
				if err == nil {
					err = chain.CheckSigned(intent, signed, chainID, s.Address())
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.SignTx(cctx, types.NewTx(transferIntent()), chainID)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("SignTx with a cancelled context: %v", err)
		}
	})
}

func TestLocalSigner(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	s, err := chain.NewLocalSigner(key.key)
	if err != nil {
		t.Fatal(err)
	}
	if s.Address() != key.addr {
		t.Fatalf("Address() = %s, want %s", s.Address(), key.addr)
	}
	testSignerContract(t, s, devChainID)
}

// The local signer gives the same bytes as types.SignTx, for whichever
// chain it is asked, also when the chain changes between calls.
func TestLocalSignerMatchesSignTx(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	s, err := chain.NewLocalSigner(key.key)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1337, 1, 1337, 11155111} {
		chainID := big.NewInt(id)
		tx := transferIntent()
		tx.ChainID = chainID
		got, err := s.SignTx(t.Context(), types.NewTx(tx), chainID)
		if err != nil {
			t.Fatalf("chain %d: %v", id, err)
		}
		want := signDynamic(t, tx, chainID, key)
		if got.Hash() != want.Hash() {
			t.Fatalf("chain %d: hash %s, want %s", id, got.Hash(), want.Hash())
		}
	}
}

func TestLocalSignerRejects(t *testing.T) {
	t.Parallel()
	if _, err := chain.NewLocalSigner(nil); err == nil {
		t.Error("NewLocalSigner(nil) succeeded")
	}
	if _, err := chain.NewLocalSigner(&ecdsa.PrivateKey{D: new(big.Int)}); err == nil {
		t.Error("NewLocalSigner with a zero scalar succeeded")
	}
	// A key whose public half is someone else's signs for its scalar.
	key, other := newTestKey(t), newTestKey(t)
	mixed := &ecdsa.PrivateKey{PublicKey: other.key.PublicKey, D: key.key.D}
	s, err := chain.NewLocalSigner(mixed)
	if err != nil || s.Address() != key.addr {
		t.Fatalf("mixed key: %v, %v; want the address of the scalar", s, err)
	}
	for _, id := range []*big.Int{nil, big.NewInt(0)} {
		if _, err := s.SignTx(t.Context(), types.NewTx(transferIntent()), id); !errors.Is(err, chain.ErrSignerRefused) {
			t.Errorf("chain ID %v: %v, want ErrSignerRefused", id, err)
		}
	}
	// The intent says chain 1337; it cannot be signed for another.
	if _, err := s.SignTx(t.Context(), types.NewTx(transferIntent()), big.NewInt(1)); !errors.Is(err, chain.ErrSignerRefused) {
		t.Errorf("chain ID other than the intent's: %v, want ErrSignerRefused", err)
	}
}

// fakeSigner wraps an honest Signer with the ways a remote one misbehaves.
type fakeSigner struct {
	chain.Signer
	delay  time.Duration             // answer after this long, if ctx allows
	hang   bool                      // never answer; only ctx ends the call
	refuse bool                      // decline every request for good
	lie    func(*types.DynamicFeeTx) // change what is signed
	fail   atomic.Int64              // fail this many calls first, temporarily
	calls  atomic.Int64
}

var (
	_ chain.Signer = (*fakeSigner)(nil)

	errFakeOutage = errors.New("fake signer: backend briefly unavailable")
)

func (f *fakeSigner) SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	f.calls.Add(1)
	wait := f.delay
	if f.hang {
		wait = time.Hour
	}
	if wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", chain.ErrSignerUnavailable, ctx.Err())
		}
	}
	switch {
	case f.fail.Add(-1) >= 0:
		return nil, errFakeOutage
	case f.refuse:
		return nil, fmt.Errorf("%w: fake signer: policy forbids it", chain.ErrSignerRefused)
	case f.lie != nil:
		d := dynamicFields(tx)
		f.lie(d)
		tx = types.NewTx(d)
	}
	return f.Signer.SignTx(ctx, tx, chainID)
}

// dynamicFields copies the fields of a type 2 transaction.
func dynamicFields(tx *types.Transaction) *types.DynamicFeeTx {
	return &types.DynamicFeeTx{
		ChainID:    tx.ChainId(),
		Nonce:      tx.Nonce(),
		GasTipCap:  tx.GasTipCap(),
		GasFeeCap:  tx.GasFeeCap(),
		Gas:        tx.Gas(),
		To:         tx.To(),
		Value:      tx.Value(),
		Data:       tx.Data(),
		AccessList: tx.AccessList(),
	}
}

func newFakeSigner(t testing.TB) (*fakeSigner, *testKey) {
	t.Helper()
	key := newTestKey(t)
	s, err := chain.NewLocalSigner(key.key)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeSigner{Signer: s}, key
}

// The library's checks hold against a signer that misbehaves in process:
// its temporary errors match neither permanent sentinel, its refusals
// match ErrSignerRefused, a deadline ends a hung call, and a lie is caught
// by CheckSigned.
func TestFakeSignerMisbehaves(t *testing.T) {
	t.Parallel()
	intent := types.NewTx(transferIntent())

	t.Run("fails for a moment", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		f.fail.Store(2)
		for range 2 {
			_, err := f.SignTx(t.Context(), intent, devChainID)
			if err == nil || errors.Is(err, chain.ErrSignerRefused) || errors.Is(err, chain.ErrSignerMismatch) {
				t.Fatalf("SignTx: %v, want a temporary error", err)
			}
		}
		if _, err := f.SignTx(t.Context(), intent, devChainID); err != nil {
			t.Fatalf("SignTx after the outage: %v", err)
		}
	})
	t.Run("refuses", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		f.refuse = true
		if _, err := f.SignTx(t.Context(), intent, devChainID); !errors.Is(err, chain.ErrSignerRefused) {
			t.Fatalf("SignTx: %v, want ErrSignerRefused", err)
		}
	})
	t.Run("hangs", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		f.hang = true
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := f.SignTx(ctx, intent, devChainID)
		if !errors.Is(err, chain.ErrSignerUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("SignTx: %v, want ErrSignerUnavailable after the deadline", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("SignTx returned %v after a 50ms deadline", d)
		}
	})
	t.Run("lies", func(t *testing.T) {
		t.Parallel()
		f, key := newFakeSigner(t)
		f.lie = func(tx *types.DynamicFeeTx) { tx.Value = new(big.Int).Mul(tx.Value, big.NewInt(1000)) }
		signed, err := f.SignTx(t.Context(), intent, devChainID)
		if err != nil {
			t.Fatal(err)
		}
		var m *chain.SignatureMismatchError
		if err := chain.CheckSigned(intent, signed, devChainID, key.addr); !errors.As(err, &m) || m.Field != "value" {
			t.Fatalf("CheckSigned: %v, want a mismatch of the value", err)
		}
	})
}

// BenchmarkLocalSigner compares NewLocalSigner's SignTx with what
// Chain.Sign does today: types.SignTx with a types.Signer made once.
func BenchmarkLocalSigner(b *testing.B) {
	key, err := crypto.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	intent := types.NewTx(transferIntent())
	b.Run("types.SignTx", func(b *testing.B) {
		signer := types.LatestSignerForChainID(devChainID)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := types.SignTx(intent, signer, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("LocalSigner", func(b *testing.B) {
		s, err := chain.NewLocalSigner(key)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.SignTx(ctx, intent, devChainID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheckSigned is the cost of checking a signature: mostly the
// public key recovery. A transaction caches its sender, so each round
// decodes a fresh one, as a remote signer's answer is.
func BenchmarkCheckSigned(b *testing.B) {
	key := newTestKey(b)
	intent := types.NewTx(transferIntent())
	raw, err := signDynamic(b, transferIntent(), devChainID, key).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		signed := new(types.Transaction)
		if err := signed.UnmarshalBinary(raw); err != nil {
			b.Fatal(err)
		}
		if err := chain.CheckSigned(intent, signed, devChainID, key.addr); err != nil {
			b.Fatal(err)
		}
	}
}
