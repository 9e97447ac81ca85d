package sqlite_test

import (
	"bytes"
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
		a, err := s.CreateAccount(ctx, consolidate.NewAccount{})
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

// TestGroupCommitReservations submits signed transfers and reservations
// from two senders at once, so that batches mix them and hold the same
// nonce twice, once per sender: each Submit gets back the row stored for
// it, and a failed signature in the batch leaves the reservations intact.
func TestGroupCommitReservations(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "gc.db"), &sqlite.Options{BatchWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	a, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credit(ctx, a.ID, big.NewInt(1<<40), "fund"); err != nil {
		t.Fatal(err)
	}
	sign := func(from byte, fail bool) consolidate.SignFunc {
		return func(nonce uint64) (consolidate.SignedTx, error) {
			if fail {
				return consolidate.SignedTx{}, errors.New("signer offline")
			}
			var b [9]byte
			b[0] = from
			binary.BigEndian.PutUint64(b[1:], nonce)
			h := common.Hash(sha256.Sum256(b[:]))
			return consolidate.SignedTx{Hash: h, Raw: append([]byte("raw"), h[:]...)}, nil
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
	for i := range 40 {
		from := byte(1 + i%2)
		p := consolidate.SubmitParams{
			AccountID: a.ID, From: common.Address{19: from}, To: common.HexToAddress("0x02"),
			Amount: big.NewInt(1000), FeeTotal: big.NewInt(10),
		}
		var sf consolidate.SignFunc
		switch {
		case i%4 >= 2:
			// A reservation, some under a key that another call at the
			// same time replays.
			if i%8 == 2 {
				p.IdempotencyKey, p.RequestHash = fmt.Sprint("reserve-", i), [32]byte{byte(i)}
				calls = append(calls, &call{p: p})
			}
		case i == 17:
			sf = sign(from, true)
		default:
			sf = sign(from, false)
		}
		calls = append(calls, &call{p: p, sign: sf})
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

	nonces := map[common.Address]map[uint64]bool{}
	keyed := map[string]*call{} // the call that created the key's reservation
	stored := 0
	for i, c := range calls {
		if c.err != nil {
			if c.sign == nil || errors.Is(c.err, consolidate.ErrInsufficientFunds) {
				t.Errorf("call %d: %v", i, c.err)
			}
			continue
		}
		if k := c.p.IdempotencyKey; k != "" {
			if first, ok := keyed[k]; ok {
				if c.tx.ID != first.tx.ID || c.created == first.created {
					t.Errorf("key %s: transactions %d and %d, created %v and %v; want one, created once",
						k, first.tx.ID, c.tx.ID, first.created, c.created)
				}
				continue
			}
			keyed[k] = c
		}
		stored++
		got, err := s.Transaction(ctx, c.tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash != c.tx.Hash || !bytes.Equal(got.Raw, c.tx.Raw) || got.Nonce != c.tx.Nonce || got.From != c.p.From {
			t.Errorf("call %d: Submit returned %s nonce %d of %s, stored %s nonce %d of %s",
				i, c.tx.Hash, c.tx.Nonce, c.p.From, got.Hash, got.Nonce, got.From)
		}
		as, err := s.Attempts(ctx, c.tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.sign == nil {
			if got.Hash != (common.Hash{}) || got.Raw != nil || len(as) != 0 {
				t.Errorf("reservation %d: hash %s, %d raw bytes, %d attempts; want none", got.ID, got.Hash, len(got.Raw), len(as))
			}
		} else {
			want, _ := c.sign(got.Nonce)
			if got.Hash != want.Hash || len(as) != 1 || as[0].Hash != want.Hash {
				t.Errorf("transfer %d: hash %s, %d attempts; want %s, signed for its nonce", got.ID, got.Hash, len(as), want.Hash)
			}
		}
		if nonces[got.From] == nil {
			nonces[got.From] = map[uint64]bool{}
		}
		if nonces[got.From][got.Nonce] {
			t.Errorf("sender %s nonce %d used twice", got.From, got.Nonce)
		}
		nonces[got.From][got.Nonce] = true
	}
	// 40 transfers, one of whose signatures failed.
	if stored != 39 {
		t.Errorf("%d transfers stored, want 39", stored)
	}
	for from, used := range nonces {
		for n := range uint64(len(used)) {
			if !used[n] {
				t.Errorf("sender %s: nonce %d unused, %d stored", from, n, len(used))
			}
		}
	}
	evs, err := s.Events(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != stored {
		t.Errorf("%d events, want one %s per transfer: %d", len(evs), consolidate.EventSubmitted, stored)
	}
}
