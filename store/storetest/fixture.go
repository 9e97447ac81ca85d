package storetest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

var (
	sender    = common.HexToAddress("0x5E4dE700000000000000000000000000000A11CE")
	sender2   = common.HexToAddress("0x5E4dE70000000000000000000000000000000B0B")
	recipient = common.HexToAddress("0x7EC1F1E4700000000000000000000000000CAFE5")

	// t0 is a whole second, so stores with coarser time precision than
	// nanoseconds still round-trip every time the suite writes.
	t0 = time.Unix(1_700_000_000, 0)
)

// Small amounts keep the arithmetic in failures readable; LargeAmounts
// covers the full range.
const (
	amount = 1000
	fee    = 10
	hold   = amount + fee
)

// signed makes every signature in a process unique, as real ones are, so a
// store's unique hash constraint never trips on test data.
var signed atomic.Uint64

// signer returns a SignFunc that derives the hash and raw bytes from the
// sender and nonce, and records the nonces it was called with.
func signer(from common.Address, nonces *[]uint64) consolidate.SignFunc {
	return func(nonce uint64) (consolidate.SignedTx, error) {
		if nonces != nil {
			*nonces = append(*nonces, nonce)
		}
		var b [20 + 8 + 8]byte
		copy(b[:], from.Bytes())
		binary.BigEndian.PutUint64(b[20:], nonce)
		binary.BigEndian.PutUint64(b[28:], signed.Add(1))
		return consolidate.SignedTx{
			Hash: sha256.Sum256(b[:]),
			Raw:  append([]byte("raw:"), b[:]...),
		}, nil
	}
}

// sign is a signer for sender that records nothing.
var sign = signer(sender, nil)

var errSign = errors.New("storetest: signer unavailable")

func failingSigner(nonce uint64) (consolidate.SignedTx, error) {
	return consolidate.SignedTx{}, fmt.Errorf("nonce %d: %w", nonce, errSign)
}

func requestHash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// transfer is a request of amount+fee from sender to recipient.
func transfer(accountID int64) consolidate.SubmitParams {
	return consolidate.SubmitParams{
		AccountID:   accountID,
		From:        sender,
		To:          recipient,
		Amount:      big.NewInt(amount),
		FeeTotal:    big.NewInt(fee),
		RequestHash: requestHash("transfer"),
		Quote:       quote(2_000_000_000, 30_000_000_000),
		NextCheckAt: t0.Add(time.Minute),
		Now:         t0,
	}
}

// quote is a transfer's gas quote with the given caps.
func quote(tip, feeCap int64) consolidate.Quote {
	return consolidate.Quote{GasLimit: 21_000, GasTipCap: big.NewInt(tip), GasFeeCap: big.NewInt(feeCap)}
}

// replacement signs another attempt for nonce, as a fee bump (or a cancel)
// does; unique like every signature of the suite.
func replacement(nonce uint64, q consolidate.Quote, cancel bool, at time.Time) consolidate.Attempt {
	st, _ := sign(nonce)
	return consolidate.Attempt{SignedTx: st, Quote: q, Cancel: cancel, CreatedAt: at}
}

// withKey returns p with an idempotency key and a request hash that
// identifies the request.
func withKey(p consolidate.SubmitParams, key, request string) consolidate.SubmitParams {
	p.IdempotencyKey = key
	p.RequestHash = requestHash(request)
	return p
}

// pow2 returns 2^n.
func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

// maxUint256 is 2^256 − 1, the largest amount.
var maxUint256 = new(big.Int).Sub(pow2(256), big.NewInt(1))

func add(xs ...*big.Int) *big.Int {
	r := new(big.Int)
	for _, x := range xs {
		r.Add(r, x)
	}
	return r
}

func sub(x, y *big.Int) *big.Int { return new(big.Int).Sub(x, y) }

// fund creates an account holding balance.
func fund(t testing.TB, s consolidate.Store, balance int64) consolidate.Account {
	t.Helper()
	a, err := s.CreateAccount(t.Context(), consolidate.NewAccount{})
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if balance == 0 {
		return a
	}
	a, err = s.Credit(t.Context(), a.ID, big.NewInt(balance), "fund")
	if err != nil {
		t.Fatalf("Credit: %v", err)
	}
	return a
}

// mustSubmit submits p and fails the test unless a transaction is created.
func mustSubmit(t testing.TB, s consolidate.Store, p consolidate.SubmitParams) consolidate.Transaction {
	t.Helper()
	tx, created, err := s.Submit(t.Context(), p, sign)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if !created {
		t.Fatalf("Submit: created = false for a new request")
	}
	return tx
}

func mustTransaction(t testing.TB, s consolidate.Store, id int64) consolidate.Transaction {
	t.Helper()
	tx, err := s.Transaction(t.Context(), id)
	if err != nil {
		t.Fatalf("Transaction(%d): %v", id, err)
	}
	return tx
}

// wantBalances checks an account's balances.
func wantBalances(t testing.TB, s consolidate.Store, id int64, available, current *big.Int) {
	t.Helper()
	a, err := s.Account(t.Context(), id)
	if err != nil {
		t.Fatalf("Account(%d): %v", id, err)
	}
	if a.Available.Cmp(available) != 0 || a.Current.Cmp(current) != 0 {
		t.Errorf("account %d: available %s, current %s; want %s, %s", id, a.Available, a.Current, available, current)
	}
}

// unsent returns every unsent event.
func unsent(t testing.TB, s consolidate.Store) []consolidate.Event {
	t.Helper()
	evs, err := s.Events(t.Context(), 1<<20)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return evs
}

// wantNextNonce checks, by submitting, that the store hands out nonce next
// for sender. It spends from the account, so the account must be funded.
func wantNextNonce(t *testing.T, s consolidate.Store, accountID int64, from common.Address, next uint64) {
	t.Helper()
	p := transfer(accountID)
	p.From = from
	var got []uint64
	tx, _, err := s.Submit(t.Context(), p, signer(from, &got))
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if tx.Nonce != next || len(got) != 1 || got[0] != next {
		t.Errorf("next nonce of %s: got tx nonce %d, signed with %v; want %d", from, tx.Nonce, got, next)
	}
}

// diffTx describes the first difference between two transactions, or "".
func diffTx(got, want consolidate.Transaction) string {
	type field struct {
		name      string
		got, want any
		equal     bool
	}
	fields := []field{
		{"ID", got.ID, want.ID, got.ID == want.ID},
		{"AccountID", got.AccountID, want.AccountID, got.AccountID == want.AccountID},
		{"From", got.From, want.From, got.From == want.From},
		{"To", got.To, want.To, got.To == want.To},
		{"Token", got.Token, want.Token, got.Token == want.Token},
		{"Amount", got.Amount, want.Amount, eqInt(got.Amount, want.Amount)},
		{"FeeTotal", got.FeeTotal, want.FeeTotal, eqInt(got.FeeTotal, want.FeeTotal)},
		{"FeeBlockchain", got.FeeBlockchain, want.FeeBlockchain, eqInt(got.FeeBlockchain, want.FeeBlockchain)},
		{"Nonce", got.Nonce, want.Nonce, got.Nonce == want.Nonce},
		{"Hash", got.Hash, want.Hash, got.Hash == want.Hash},
		{"Raw", got.Raw, want.Raw, string(got.Raw) == string(want.Raw)},
		{"Status", got.Status, want.Status, got.Status == want.Status},
		{"Version", got.Version, want.Version, got.Version == want.Version},
		{"IdempotencyKey", got.IdempotencyKey, want.IdempotencyKey, got.IdempotencyKey == want.IdempotencyKey},
		{"BlockNumber", got.BlockNumber, want.BlockNumber, got.BlockNumber == want.BlockNumber},
		{"BlockHash", got.BlockHash, want.BlockHash, got.BlockHash == want.BlockHash},
		{"Checks", got.Checks, want.Checks, got.Checks == want.Checks},
		{"NextCheckAt", got.NextCheckAt, want.NextCheckAt, got.NextCheckAt.Equal(want.NextCheckAt)},
		{"CreatedAt", got.CreatedAt, want.CreatedAt, got.CreatedAt.Equal(want.CreatedAt)},
	}
	for _, f := range fields {
		if !f.equal {
			return fmt.Sprintf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	return ""
}

// diffAttempts describes the first difference between two lists of
// attempts, or "".
func diffAttempts(got, want []consolidate.Attempt) string {
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		fields := []struct {
			name      string
			got, want any
			equal     bool
		}{
			{"Hash", g.Hash, w.Hash, g.Hash == w.Hash},
			{"Raw", g.Raw, w.Raw, string(g.Raw) == string(w.Raw)},
			{"Quote.GasLimit", g.Quote.GasLimit, w.Quote.GasLimit, g.Quote.GasLimit == w.Quote.GasLimit},
			{"Quote.GasTipCap", g.Quote.GasTipCap, w.Quote.GasTipCap, eqInt(g.Quote.GasTipCap, w.Quote.GasTipCap)},
			{"Quote.GasFeeCap", g.Quote.GasFeeCap, w.Quote.GasFeeCap, eqInt(g.Quote.GasFeeCap, w.Quote.GasFeeCap)},
			{"Cancel", g.Cancel, w.Cancel, g.Cancel == w.Cancel},
			{"CreatedAt", g.CreatedAt, w.CreatedAt, g.CreatedAt.Equal(w.CreatedAt)},
		}
		for _, f := range fields {
			if !f.equal {
				return fmt.Sprintf("attempt %d: %s = %v, want %v", i, f.name, f.got, f.want)
			}
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d attempts, want %d", len(got), len(want))
	}
	return ""
}

func mustAttempts(t testing.TB, s consolidate.Store, id int64) []consolidate.Attempt {
	t.Helper()
	as, err := s.Attempts(t.Context(), id)
	if err != nil {
		t.Fatalf("Attempts(%d): %v", id, err)
	}
	return as
}

// wantAttempts checks a transaction's attempts, in order.
func wantAttempts(t testing.TB, s consolidate.Store, id int64, want ...consolidate.Attempt) {
	t.Helper()
	if d := diffAttempts(mustAttempts(t, s, id), want); d != "" {
		t.Errorf("Attempts(%d): %s", id, d)
	}
}

// eqInt compares amounts; nil only equals nil.
func eqInt(x, y *big.Int) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	return x.Cmp(y) == 0
}
