package storetest

import (
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
)

func testCreateAccount(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	b, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if a.ID == b.ID {
		t.Errorf("two accounts share ID %d", a.ID)
	}
	if a.Available == nil || a.Available.Sign() != 0 || a.Current == nil || a.Current.Sign() != 0 {
		t.Errorf("new account balances = %v, %v; want 0, 0", a.Available, a.Current)
	}
	if a.CreatedAt.IsZero() {
		t.Error("new account has zero CreatedAt")
	}
	got, err := s.Account(ctx, a.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	if got.ID != a.ID || got.Available.Sign() != 0 || got.Current.Sign() != 0 {
		t.Errorf("Account = %+v, want %+v", got, a)
	}
	if _, err := s.Account(ctx, b.ID+1000); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Account(unknown) error = %v, want ErrNotFound", err)
	}
}

func testCreateAccountWithKey(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a, err := s.CreateAccount(ctx, consolidate.NewAccount{Key: "open-1"})
	if err != nil {
		t.Fatalf("CreateAccount with a key: %v", err)
	}
	if _, err := s.Credit(ctx, a.ID, big.NewInt(7), "dep"); err != nil {
		t.Fatalf("Credit: %v", err)
	}
	// A retry returns the same account, as it stands.
	again, err := s.CreateAccount(ctx, consolidate.NewAccount{Key: "open-1"})
	if err != nil {
		t.Fatalf("CreateAccount with the key again: %v", err)
	}
	if again.ID != a.ID || again.Available.Int64() != 7 || again.Current.Int64() != 7 {
		t.Errorf("repeated key returned %d: %s/%s, want %d: 7/7", again.ID, again.Available, again.Current, a.ID)
	}
	other, err := s.CreateAccount(ctx, consolidate.NewAccount{Key: "open-2"})
	if err != nil || other.ID == a.ID {
		t.Errorf("another key: account %d, %v; want a new account", other.ID, err)
	}
	plain, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil || plain.ID == a.ID || plain.ID == other.ID {
		t.Errorf("CreateAccount after keyed ones: %d, %v", plain.ID, err)
	}
	if _, err := s.CreateAccount(ctx, consolidate.NewAccount{Key: string(make([]byte, 256))}); !errors.Is(err, consolidate.ErrInvalidReference) {
		t.Errorf("CreateAccount with a key of 256 bytes: %v, want ErrInvalidReference", err)
	}

	// Concurrent creations with one key open one account.
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	for i := range ids {
		wg.Go(func() {
			got, err := s.CreateAccount(ctx, consolidate.NewAccount{Key: "open-concurrent"})
			if err != nil {
				t.Errorf("concurrent CreateAccount with one key: %v", err)
			}
			ids[i] = got.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one key opened accounts %v", ids)
		}
	}
}

// tokenA and tokenB are ERC-20 contracts as far as a store knows: an
// address an account's asset is named by.
var (
	tokenA = common.HexToAddress("0x00000000000000000000000000000000000a5de1")
	tokenB = common.HexToAddress("0x00000000000000000000000000000000000a5de2")
)

func testCreateTokenAccount(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a, err := s.CreateAccount(ctx, consolidate.NewAccount{Token: tokenA})
	if err != nil {
		t.Fatalf("CreateAccount in a token: %v", err)
	}
	if a.Token != tokenA {
		t.Errorf("new account holds %s, want %s", a.Token, tokenA)
	}
	if got, err := s.Account(ctx, a.ID); err != nil || got.Token != tokenA {
		t.Errorf("Account(%d) holds %s (%v), want %s", a.ID, got.Token, err, tokenA)
	}
	ether, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil || ether.Token != (common.Address{}) {
		t.Errorf("CreateAccount: holds %s (%v), want ether", ether.Token, err)
	}

	keyed, err := s.CreateAccount(ctx, consolidate.NewAccount{Token: tokenB, Key: "open-token"})
	if err != nil || keyed.Token != tokenB {
		t.Fatalf("CreateAccount in a token with a key: %+v, %v", keyed, err)
	}
	again, err := s.CreateAccount(ctx, consolidate.NewAccount{Token: tokenB, Key: "open-token"})
	if err != nil || again.ID != keyed.ID || again.Token != tokenB {
		t.Errorf("the key again: %+v, %v; want account %d", again, err, keyed.ID)
	}
	for _, other := range []common.Address{{}, tokenA} {
		if _, err := s.CreateAccount(ctx, consolidate.NewAccount{Token: other, Key: "open-token"}); !errors.Is(err, consolidate.ErrIdempotencyConflict) {
			t.Errorf("the key with asset %s: %v, want ErrIdempotencyConflict", other, err)
		}
	}
}

func testCredit(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 0)
	other := fund(t, s, 0)

	got, err := s.Credit(ctx, a.ID, big.NewInt(500), "dep-1")
	if err != nil {
		t.Fatalf("Credit: %v", err)
	}
	if got.ID != a.ID || got.Available.Int64() != 500 || got.Current.Int64() != 500 {
		t.Errorf("Credit returned %d: %s/%s, want %d: 500/500", got.ID, got.Available, got.Current, a.ID)
	}
	if _, err := s.Credit(ctx, a.ID, big.NewInt(250), "dep-2"); err != nil {
		t.Fatalf("Credit: %v", err)
	}
	wantBalances(t, s, a.ID, big.NewInt(750), big.NewInt(750))

	// Same reference, same amount: a retry, applied once.
	got, err = s.Credit(ctx, a.ID, big.NewInt(500), "dep-1")
	if err != nil {
		t.Fatalf("Credit retry: %v", err)
	}
	if got.Available.Int64() != 750 || got.Current.Int64() != 750 {
		t.Errorf("Credit retry returned %s/%s, want the unchanged 750/750", got.Available, got.Current)
	}
	// Same reference, different amount: a conflict.
	if _, err := s.Credit(ctx, a.ID, big.NewInt(501), "dep-1"); !errors.Is(err, consolidate.ErrIdempotencyConflict) {
		t.Errorf("Credit(same reference, other amount) error = %v, want ErrIdempotencyConflict", err)
	}
	wantBalances(t, s, a.ID, big.NewInt(750), big.NewInt(750))

	// References are per account.
	if _, err := s.Credit(ctx, other.ID, big.NewInt(7), "dep-1"); err != nil {
		t.Fatalf("Credit(other account, same reference): %v", err)
	}
	wantBalances(t, s, other.ID, big.NewInt(7), big.NewInt(7))
	wantBalances(t, s, a.ID, big.NewInt(750), big.NewInt(750))

	if _, err := s.Credit(ctx, other.ID+1000, big.NewInt(1), "dep-x"); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Credit(unknown account) error = %v, want ErrNotFound", err)
	}
	CheckInvariants(t, s, a.ID, other.ID)
}

func testCreditInvalid(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 100)
	for _, tc := range []struct {
		name   string
		amount *big.Int
		want   error
	}{
		{"nil", nil, consolidate.ErrInvalidAmount},
		{"zero", big.NewInt(0), consolidate.ErrInvalidAmount},
		{"negative", big.NewInt(-1), consolidate.ErrInvalidAmount},
		{"2^256", pow2(256), consolidate.ErrInvalidAmount},
		{"overflows balance", maxUint256, consolidate.ErrInvalidAmount},
	} {
		if _, err := s.Credit(t.Context(), a.ID, tc.amount, "bad-"+tc.name); !errors.Is(err, tc.want) {
			t.Errorf("Credit(%s) error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.Credit(t.Context(), a.ID, big.NewInt(1), ""); !errors.Is(err, consolidate.ErrInvalidReference) {
		t.Errorf("Credit(empty reference) error = %v, want ErrInvalidReference", err)
	}
	wantBalances(t, s, a.ID, big.NewInt(100), big.NewInt(100))
	// A rejected credit does not use up its reference.
	if _, err := s.Credit(t.Context(), a.ID, big.NewInt(5), "bad-zero"); err != nil {
		t.Errorf("Credit after a rejected one with the same reference: %v", err)
	}
	wantBalances(t, s, a.ID, big.NewInt(105), big.NewInt(105))
}

func testCreditConcurrent(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 0)
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.Credit(t.Context(), a.ID, big.NewInt(42), "once"); err != nil {
				t.Errorf("Credit: %v", err)
			}
		})
	}
	wg.Wait()
	wantBalances(t, s, a.ID, big.NewInt(42), big.NewInt(42))
}
