package postgres_test

import (
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
)

var (
	wallet    = common.HexToAddress("0x5E4dE70000000000000000000000000000000A11")
	recipient = common.HexToAddress("0x7EC1F1E4700000000000000000000000000CAFE5")
)

const (
	amount = 1000
	fee    = 10
	hold   = amount + fee
)

// signatures makes every signature of the test binary unique, as real
// ones are; the process ID keeps those of test binaries run side by side
// apart.
var signatures atomic.Uint64

func sign(nonce uint64) (consolidate.SignedTx, error) {
	var b [36]byte
	binary.BigEndian.PutUint64(b[:], nonce)
	binary.BigEndian.PutUint64(b[8:], signatures.Add(1))
	binary.BigEndian.PutUint64(b[16:], uint64(os.Getpid()))
	copy(b[24:], "test signat")
	return consolidate.SignedTx{Hash: sha256.Sum256(b[:]), Raw: append([]byte("raw:"), b[:]...)}, nil
}

// transfer is a request of amount+fee from account, under key if not
// empty.
func transfer(account int64, key string) consolidate.SubmitParams {
	return consolidate.SubmitParams{
		AccountID:      account,
		From:           wallet,
		To:             recipient,
		Amount:         big.NewInt(amount),
		FeeTotal:       big.NewInt(fee),
		IdempotencyKey: key,
		RequestHash:    sha256.Sum256([]byte("transfer " + key)),
		NextCheckAt:    time.Now().Add(time.Minute),
	}
}

// fund creates n accounts holding balance each.
func fund(t testing.TB, s consolidate.Store, n int, balance int64) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		a, err := s.CreateAccount(t.Context(), consolidate.NewAccount{})
		if err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		if _, err := s.Credit(t.Context(), a.ID, big.NewInt(balance), "fund"); err != nil {
			t.Fatalf("Credit: %v", err)
		}
		ids[i] = a.ID
	}
	return ids
}

// wantGapFree checks that the wallet's stored nonces are 0..n-1, each
// once, and that the nonce counter stands at n.
func wantGapFree(t testing.TB, c *pgx.Conn) {
	t.Helper()
	rows, err := c.Query(t.Context(), `SELECT nonce FROM transactions WHERE sender = $1 ORDER BY nonce`, wallet.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	nonces, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, len(nonces))
	for i := range want {
		want[i] = int64(i)
	}
	if !slices.Equal(nonces, want) {
		t.Errorf("stored nonces %v, want 0..%d each once", nonces, len(nonces)-1)
	}
	var next int64
	err = c.QueryRow(t.Context(), `SELECT next FROM nonces WHERE sender = $1`, wallet.Bytes()).Scan(&next)
	if err != nil && len(nonces) > 0 || next != int64(len(nonces)) {
		t.Errorf("nonce counter %d (%v), want %d", next, err, len(nonces))
	}
}

// count returns the number of rows of table.
func count(t testing.TB, c *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
