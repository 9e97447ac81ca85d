package sqlite_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// TestGroupCommitAnswers sends many Submits at once, some of which must be
// rejected (insufficient funds, idempotency conflict, failed signature),
// and checks that the writes sharing a commit each get their own answer
// and that the balances add up.
func TestGroupCommitAnswers(t *testing.T) {
	t.Parallel()
	for _, wait := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(fmt.Sprintf("BatchWait=%v", wait), func(t *testing.T) {
			t.Parallel()
			s, err := sqlite.Open(filepath.Join(t.TempDir(), "gc.db"), &sqlite.Options{BatchWait: wait})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			testGroupCommitAnswers(t, s)
		})
	}
}

func testGroupCommitAnswers(t *testing.T, s *sqlite.Store) {
	ctx := t.Context()
	const (
		amount = 1000
		fee    = 10
		hold   = amount + fee
	)
	fund := func(n int64) consolidate.Account {
		a, err := s.CreateAccount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Credit(ctx, a.ID, big.NewInt(n*hold), "fund"); err != nil {
			t.Fatal(err)
		}
		return a
	}
	poor, rich := fund(10), fund(1000)
	params := func(acct int64, from byte, key string, hash byte) consolidate.SubmitParams {
		return consolidate.SubmitParams{
			AccountID: acct, From: common.Address{19: from}, To: common.HexToAddress("0x02"),
			Amount: big.NewInt(amount), FeeTotal: big.NewInt(fee),
			IdempotencyKey: key, RequestHash: [32]byte{hash},
		}
	}
	signer := func(from byte, fail, panics bool) consolidate.SignFunc {
		return func(nonce uint64) (consolidate.SignedTx, error) {
			if panics {
				panic("signer broken")
			}
			if fail {
				return consolidate.SignedTx{}, errors.New("signer offline")
			}
			var b [9]byte
			b[0] = from
			binary.BigEndian.PutUint64(b[1:], nonce)
			h := common.Hash(sha256.Sum256(b[:]))
			return consolidate.SignedTx{Hash: h, Raw: h[:]}, nil
		}
	}

	type call struct {
		p       consolidate.SubmitParams
		sign    consolidate.SignFunc
		tx      consolidate.Transaction
		created bool
		err     error
	}
	var calls []*call
	// 30 distinct requests against 10 holds: 10 pass, 20 are refused.
	for i := range 30 {
		calls = append(calls, &call{p: params(poor.ID, 1, fmt.Sprint("poor-", i), 1), sign: signer(1, false, false)})
	}
	// One key reused with two different requests: whichever runs first
	// wins, every other use of its request replays it, the other request
	// conflicts.
	for i := range 10 {
		calls = append(calls, &call{p: params(rich.ID, 2, "shared", byte(1+i%2)), sign: signer(2, false, false)})
	}
	// Plain transfers, and some whose signature fails or panics.
	for i := range 20 {
		calls = append(calls, &call{p: params(rich.ID, 2, "", 0), sign: signer(2, i%4 == 0, i == 8)})
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			<-start
			c.tx, c.created, c.err = s.Submit(ctx, c.p, c.sign)
		})
	}
	close(start)
	wg.Wait()

	var poorOK, poorFunds int
	for _, c := range calls[:30] {
		switch {
		case c.err == nil && c.created:
			poorOK++
		case errors.Is(c.err, consolidate.ErrInsufficientFunds):
			poorFunds++
		default:
			t.Errorf("poor account: created %v, err %v", c.created, c.err)
		}
	}
	if poorOK != 10 || poorFunds != 20 {
		t.Errorf("poor account: %d accepted, %d refused; want 10 and 20", poorOK, poorFunds)
	}

	var winner consolidate.Transaction
	var created, replayed, conflicts int
	for _, c := range calls[30:40] {
		switch {
		case c.err == nil && c.created:
			created++
			winner = c.tx
		case c.err == nil:
			replayed++
		case errors.Is(c.err, consolidate.ErrIdempotencyConflict):
			conflicts++
		default:
			t.Errorf("shared key: %v", c.err)
		}
	}
	if created != 1 || replayed != 4 || conflicts != 5 {
		t.Errorf("shared key: %d created, %d replayed, %d conflicts; want 1, 4, 5", created, replayed, conflicts)
	}
	for _, c := range calls[30:40] {
		if c.err == nil && c.tx.ID != winner.ID {
			t.Errorf("shared key replayed transaction %d, want %d", c.tx.ID, winner.ID)
		}
	}

	var plain, signFails int
	for i, c := range calls[40:] {
		switch {
		case i%4 == 0 && c.err != nil && !errors.Is(c.err, consolidate.ErrInsufficientFunds):
			signFails++
		case i%4 != 0 && c.err == nil && c.created:
			plain++
		default:
			t.Errorf("plain transfer %d: created %v, err %v", i, c.created, c.err)
		}
	}
	if plain != 15 || signFails != 5 {
		t.Errorf("plain transfers: %d accepted, %d failed signatures; want 15 and 5", plain, signFails)
	}

	check := func(id int64, available, current int64) {
		t.Helper()
		a, err := s.Account(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Available.Cmp(big.NewInt(available)) != 0 || a.Current.Cmp(big.NewInt(current)) != 0 {
			t.Errorf("account %d: available %v, current %v; want %d, %d", id, a.Available, a.Current, available, current)
		}
	}
	check(poor.ID, 0, 10*hold)
	check(rich.ID, (1000-16)*hold, 1000*hold)

	// Every accepted transfer is stored, with its own nonce per sender.
	nonces := map[common.Address]map[uint64]bool{}
	for _, id := range []int64{poor.ID, rich.ID} {
		txs, err := s.Transactions(ctx, id, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range txs {
			if nonces[tx.From] == nil {
				nonces[tx.From] = map[uint64]bool{}
			}
			if nonces[tx.From][tx.Nonce] {
				t.Errorf("sender %s nonce %d used twice", tx.From, tx.Nonce)
			}
			nonces[tx.From][tx.Nonce] = true
		}
	}
	if n1, n2 := len(nonces[common.Address{19: 1}]), len(nonces[common.Address{19: 2}]); n1 != 10 || n2 != 16 {
		t.Errorf("stored %d and %d transfers, want 10 and 16", n1, n2)
	}
	// Failed signatures left no gaps.
	for from, used := range nonces {
		for n := range uint64(len(used)) {
			if !used[n] {
				t.Errorf("sender %s: nonce %d unused, %d stored", from, n, len(used))
			}
		}
	}
}
