package consolidate

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

func TestParseAddress(t *testing.T) {
	t.Parallel()
	good := "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" // valid EIP-55
	tests := []struct {
		in   string
		want error
	}{
		{good, nil},
		{strings.ToLower(good), nil},
		{"0x" + strings.ToUpper(good[2:]), nil},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", ErrInvalidAddress}, // bad checksum
		{"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ErrInvalidAddress},   // no prefix
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", ErrInvalidAddress},  // 39 digits
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaedd", ErrInvalidAddress},
		{"0xzaaeb6053f3e94c9b9a09f33669435e7ef1beaed", ErrInvalidAddress},
		{"0x0000000000000000000000000000000000000000", ErrInvalidAddress},
		{"", ErrInvalidAddress},
		{" 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", ErrInvalidAddress},
		{strings.Repeat("0x", 1000), ErrInvalidAddress},
	}
	for _, tt := range tests {
		a, err := ParseAddress(tt.in)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("ParseAddress(%q) error = %v, want %v", truncate(tt.in), err, tt.want)
		}
		if err == nil && a != common.HexToAddress(good) {
			t.Errorf("ParseAddress(%q) = %s", tt.in, a)
		}
	}
}

func TestParseAmount(t *testing.T) {
	t.Parallel()
	max := maxUint256.String()
	over := new(big.Int).Add(maxUint256, big.NewInt(1)).String()
	tests := []struct {
		in   string
		want string // "" for an error
	}{
		{"1", "1"},
		{"1000000000000000000", "1000000000000000000"},
		{"18446744073709551617", "18446744073709551617"}, // 2^64+1
		{max, max},
		{"007", "7"},
		{over, ""},
		{"0", ""},
		{"-1", ""},
		{"+1", ""},
		{"1.5", ""},
		{"1e18", ""},
		{" 1", ""},
		{"0x10", ""},
		{"", ""},
		{strings.Repeat("9", 500), ""},
	}
	for _, tt := range tests {
		v, err := ParseAmount(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalidAmount) {
				t.Errorf("ParseAmount(%q) = %v, %v; want ErrInvalidAmount", truncate(tt.in), v, err)
			}
			continue
		}
		if err != nil || v.String() != tt.want {
			t.Errorf("ParseAmount(%q) = %v, %v; want %s", tt.in, v, err, tt.want)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := (&Config{}).withDefaults().Backoff
	want := []time.Duration{100, 200, 400, 800, 1600, 1600, 1600}
	for n, w := range want {
		if got := b.Delay(n); got != w*time.Second {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Second)
		}
	}
	if got := b.Delay(1000); got != 1600*time.Second {
		t.Errorf("Delay(1000) = %v, want the cap", got)
	}
	if b.Checks != 32 {
		t.Errorf("Checks = %d, want 32", b.Checks)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bad := []Config{
		{LockTTL: -time.Second},
		{Backoff: Backoff{Base: time.Minute, Max: time.Second}},
		{Fee: big.NewInt(-1)},
		{QueueName: "has space"},
		{EventQueues: []string{""}},
		{CacheJitter: 1.5},
		{Tokens: []Token{{}}},
		{Tokens: []Token{{Address: common.Address{1}}, {Address: common.Address{1}}}},
		{Tokens: []Token{{Address: common.Address{1}, Fee: big.NewInt(-1)}}},
	}
	for i, c := range bad {
		d := c.withDefaults()
		if err := d.validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("config %d: validate(%+v) = %v, want ErrInvalidConfig", i, c, err)
		}
	}
	d := (&Config{}).withDefaults()
	if err := d.validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	tk := (&Config{Tokens: []Token{{Address: common.Address{1}}}}).withDefaults()
	if err := tk.validate(); err != nil || tk.Tokens[0].Fee == nil || tk.Tokens[0].Fee.Sign() != 0 {
		t.Errorf("a token without a fee: %v, fee %v; want valid, fee 0", err, tk.Tokens[0].Fee)
	}
}

func TestTransactionCodecRoundTrip(t *testing.T) {
	t.Parallel()
	huge, _ := new(big.Int).SetString(maxUint256.String(), 10)
	tx := Transaction{
		ID: 7, AccountID: 3, From: common.HexToAddress("0x01"), To: common.HexToAddress("0x02"),
		Amount: huge, FeeTotal: big.NewInt(5), FeeBlockchain: big.NewInt(4), Nonce: 9,
		Hash: common.HexToHash("0xabc"), Raw: []byte{1, 2, 3}, Status: StatusSuccessful, Version: 4,
		IdempotencyKey: "k", BlockNumber: 12, BlockHash: common.HexToHash("0xdef"), Checks: 2,
		CreatedAt: time.Unix(0, 1700000000000000001), UpdatedAt: time.Unix(0, 1700000000000000002),
	}
	b, err := encodeTransaction(tx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeTransaction(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Amount.Cmp(huge) != 0 || got.FeeBlockchain.Int64() != 4 || got.Hash != tx.Hash ||
		got.Status != tx.Status || !got.CreatedAt.Equal(tx.CreatedAt) || got.Version != 4 || string(got.Raw) != string(tx.Raw) {
		t.Fatalf("round trip = %+v", got)
	}
	for _, junk := range []string{"", "{", `{"amount":"-1","fee_total":"0","status":"PENDING"}`, `{"amount":"1","fee_total":"0","status":"NOPE"}`} {
		if _, err := decodeTransaction([]byte(junk)); err == nil {
			t.Errorf("decodeTransaction(%q) succeeded", junk)
		}
	}
}

// jitterMax bounds what jitter returns, jitter disabled included, since
// the background delete of a stale cache entry retries until then.
func TestJitterMax(t *testing.T) {
	t.Parallel()
	for _, frac := range []float64{-0.5, 0, 0.1, 0.9} {
		d := time.Minute
		bound := jitterMax(d, frac)
		if frac <= 0 && bound != d {
			t.Errorf("jitterMax(%v, %v) = %v, want %v with jitter off", d, frac, bound, d)
		}
		for range 10_000 {
			if got := jitter(d, frac); got > bound || got < d-(bound-d) {
				t.Fatalf("jitter(%v, %v) = %v, outside %v ± %v", d, frac, got, d, bound-d)
			}
		}
	}
}
