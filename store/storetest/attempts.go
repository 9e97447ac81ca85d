package storetest

import (
	"errors"
	"math"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

func testAddAttempt(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	events := len(unsent(t, s))
	want := mustAttempts(t, s, tx.ID)

	bump := replacement(tx.Nonce, quote(3e9, 40e9), false, t0.Add(time.Minute))
	cancel := replacement(tx.Nonce, quote(4e9, 50e9), true, t0.Add(2*time.Minute))
	for _, at := range []consolidate.Attempt{bump, cancel} {
		if err := s.AddAttempt(ctx, tx.ID, at); err != nil {
			t.Fatalf("AddAttempt: %v", err)
		}
		want = append(want, at)
		wantAttempts(t, s, tx.ID, want...)
	}

	// A retry, later or of the original, changes nothing.
	retry := bump
	retry.CreatedAt = t0.Add(time.Hour)
	for _, at := range []consolidate.Attempt{retry, want[0]} {
		if err := s.AddAttempt(ctx, tx.ID, at); err != nil {
			t.Errorf("AddAttempt of a recorded attempt: %v", err)
		}
	}
	wantAttempts(t, s, tx.ID, want...)

	// The same hash with other contents is no retry: hashes name bytes.
	forged := bump
	forged.Raw = append([]byte("forged:"), bump.Raw...)
	flipped := bump
	flipped.Cancel = true
	repriced := bump
	repriced.Quote = quote(3e9, 41e9)
	for name, at := range map[string]consolidate.Attempt{"other bytes": forged, "cancel flag": flipped, "other quote": repriced} {
		if err := s.AddAttempt(ctx, tx.ID, at); !errors.Is(err, consolidate.ErrIdempotencyConflict) {
			t.Errorf("AddAttempt(recorded hash, %s) error = %v, want ErrIdempotencyConflict", name, err)
		}
	}
	wantAttempts(t, s, tx.ID, want...)

	// Attempts are bookkeeping: the transaction, its Version (so cached
	// copies stay exact), the balances and the outbox are untouched.
	if d := diffTx(mustTransaction(t, s, tx.ID), tx); d != "" {
		t.Errorf("AddAttempt changed the transaction: %s", d)
	}
	wantBalances(t, s, a.ID, big.NewInt(4*hold), big.NewInt(5*hold))
	if n := len(unsent(t, s)); n != events {
		t.Errorf("AddAttempt wrote %d events, want none", n-events)
	}

	if err := s.AddAttempt(ctx, tx.ID+1000, replacement(0, quote(1, 1), false, t0)); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("AddAttempt(unknown transaction) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Attempts(ctx, tx.ID+1000); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Attempts(unknown transaction) error = %v, want ErrNotFound", err)
	}

	// A parked transfer can still be replaced: that is how an operator
	// cancels one that is stuck.
	if err := s.Park(ctx, tx.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Park: %v", err)
	}
	again := replacement(tx.Nonce, quote(5e9, 60e9), true, t0.Add(3*time.Minute))
	if err := s.AddAttempt(ctx, tx.ID, again); err != nil {
		t.Errorf("AddAttempt to a parked transaction: %v", err)
	}
	wantAttempts(t, s, tx.ID, append(want, again)...)
	CheckInvariants(t, s, a.ID)
}

func testAddAttemptFinal(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	bump := replacement(tx.Nonce, quote(3e9, 40e9), false, t0.Add(time.Minute))
	if err := s.AddAttempt(ctx, tx.ID, bump); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	want := mustAttempts(t, s, tx.ID)
	settled, err := s.Settle(ctx, tx.ID, mined(consolidate.OutcomeSuccess))
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	// Even a recorded attempt is refused: the caller must not send for a
	// settled transfer.
	for name, at := range map[string]consolidate.Attempt{
		"new":      replacement(tx.Nonce, quote(4e9, 50e9), true, t0.Add(2*time.Minute)),
		"recorded": bump,
	} {
		if err := s.AddAttempt(ctx, tx.ID, at); !errors.Is(err, consolidate.ErrNotPending) {
			t.Errorf("AddAttempt(%s) to a settled transaction error = %v, want ErrNotPending", name, err)
		}
	}
	wantAttempts(t, s, tx.ID, want...)
	if d := diffTx(mustTransaction(t, s, tx.ID), settled); d != "" {
		t.Errorf("AddAttempt changed a settled transaction: %s", d)
	}
	CheckInvariants(t, s, a.ID)
}

// testAddAttemptForeignHash records one transfer's attempt for another: a
// signed transaction belongs to one transfer, and a mix-up must surface.
func testAddAttemptForeignHash(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 5*hold)
	tx1 := mustSubmit(t, s, transfer(a.ID))
	tx2 := mustSubmit(t, s, transfer(a.ID))
	bump1 := replacement(tx1.Nonce, quote(3e9, 40e9), false, t0.Add(time.Minute))
	if err := s.AddAttempt(ctx, tx1.ID, bump1); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	want1, want2 := mustAttempts(t, s, tx1.ID), mustAttempts(t, s, tx2.ID)
	check := func(when string) {
		t.Helper()
		for name, at := range map[string]consolidate.Attempt{"original": want1[0], "bump": bump1} {
			if err := s.AddAttempt(ctx, tx2.ID, at); !errors.Is(err, consolidate.ErrIdempotencyConflict) {
				t.Errorf("%s: AddAttempt(another transaction's %s) error = %v, want ErrIdempotencyConflict", when, name, err)
			}
		}
		wantAttempts(t, s, tx1.ID, want1...)
		wantAttempts(t, s, tx2.ID, want2...)
	}
	check("pending")
	if _, err := s.Settle(ctx, tx1.ID, mined(consolidate.OutcomeSuccess)); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	check("settled")
	CheckInvariants(t, s, a.ID)
}

func testAddAttemptInvalid(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	want := mustAttempts(t, s, tx.ID)
	valid := replacement(tx.Nonce, quote(3e9, 40e9), false, t0.Add(time.Minute))
	for _, tc := range []struct {
		name   string
		change func(*consolidate.Attempt)
		want   error // nil: any error
	}{
		{"zero hash", func(a *consolidate.Attempt) { a.Hash = common.Hash{} }, nil},
		{"nil raw", func(a *consolidate.Attempt) { a.Raw = nil }, nil},
		{"empty raw", func(a *consolidate.Attempt) { a.Raw = []byte{} }, nil},
		{"negative tip cap", func(a *consolidate.Attempt) { a.Quote.GasTipCap = big.NewInt(-1) }, consolidate.ErrInvalidAmount},
		{"negative fee cap", func(a *consolidate.Attempt) { a.Quote.GasFeeCap = big.NewInt(-1) }, consolidate.ErrInvalidAmount},
		{"tip cap 2^256", func(a *consolidate.Attempt) { a.Quote.GasTipCap = pow2(256) }, consolidate.ErrInvalidAmount},
		{"fee cap 2^256", func(a *consolidate.Attempt) { a.Quote.GasFeeCap = pow2(256) }, consolidate.ErrInvalidAmount},
		{"nil tip cap", func(a *consolidate.Attempt) { a.Quote.GasTipCap = nil }, consolidate.ErrInvalidAmount},
		{"nil fee cap", func(a *consolidate.Attempt) { a.Quote.GasFeeCap = nil }, consolidate.ErrInvalidAmount},
	} {
		at := valid
		tc.change(&at)
		err := s.AddAttempt(ctx, tx.ID, at)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("AddAttempt(%s) error = %v, want %v", tc.name, err, describe(tc.want))
		}
	}
	wantAttempts(t, s, tx.ID, want...)

	// A refused attempt does not use up its hash.
	if err := s.AddAttempt(ctx, tx.ID, valid); err != nil {
		t.Fatalf("AddAttempt after refused ones with its hash: %v", err)
	}
	want = append(want, valid)

	// Bounds that are valid: the top uint256 caps, and no quote at all
	// (both caps nil: not known).
	top := replacement(tx.Nonce, consolidate.Quote{GasLimit: 21_000, GasTipCap: maxUint256, GasFeeCap: maxUint256}, false, t0.Add(2*time.Minute))
	unknown := replacement(tx.Nonce, consolidate.Quote{}, true, t0.Add(3*time.Minute))
	for _, at := range []consolidate.Attempt{top, unknown} {
		if err := s.AddAttempt(ctx, tx.ID, at); err != nil {
			t.Fatalf("AddAttempt(%+v): %v", at.Quote, err)
		}
		want = append(want, at)
	}
	wantAttempts(t, s, tx.ID, want...)

	// A gas limit beyond what a store can hold is refused or kept exactly,
	// never truncated.
	huge := replacement(tx.Nonce, quote(5e9, 60e9), false, t0.Add(4*time.Minute))
	huge.Quote.GasLimit = math.MaxUint64
	if err := s.AddAttempt(ctx, tx.ID, huge); err == nil {
		want = append(want, huge)
	}
	wantAttempts(t, s, tx.ID, want...)
	CheckInvariants(t, s, a.ID)
}

// describe names an expected error for a failure message.
func describe(want error) any {
	if want == nil {
		return "an error"
	}
	return want
}

// testAddAttemptConcurrent records distinct attempts from many goroutines,
// each twice, as duplicate reconcile deliveries do, while another settles
// a second transfer under racing AddAttempts.
func testAddAttemptConcurrent(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	const n = 16
	added := make([]consolidate.Attempt, n)
	var wg sync.WaitGroup
	for i := range n {
		added[i] = replacement(tx.Nonce, quote(3e9+int64(i), 40e9), i%4 == 3, t0.Add(time.Duration(i)*time.Second))
		wg.Go(func() {
			for range 2 {
				if err := s.AddAttempt(ctx, tx.ID, added[i]); err != nil {
					t.Errorf("AddAttempt: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got := mustAttempts(t, s, tx.ID)
	if len(got) != n+1 {
		t.Fatalf("%d attempts, want %d", len(got), n+1)
	}
	if got[0].Hash != tx.Hash {
		t.Errorf("first attempt %s, want the original %s", got[0].Hash, tx.Hash)
	}
	// Concurrent calls have no order among themselves: each is there once.
	byHash := map[common.Hash]consolidate.Attempt{}
	for _, at := range got[1:] {
		if _, dup := byHash[at.Hash]; dup {
			t.Errorf("attempt %s listed twice", at.Hash)
		}
		byHash[at.Hash] = at
	}
	for i, at := range added {
		if d := diffAttempts([]consolidate.Attempt{byHash[at.Hash]}, []consolidate.Attempt{at}); d != "" {
			t.Errorf("added attempt %d: %s", i, d)
		}
	}

	// Racing a Settle: an attempt is either recorded before it (nil) or
	// refused after it (ErrNotPending), never lost in between.
	tx2 := mustSubmit(t, s, transfer(a.ID))
	var (
		mu       sync.Mutex
		recorded []common.Hash
	)
	for i := range n {
		at := replacement(tx2.Nonce, quote(3e9+int64(i), 40e9), false, t0)
		wg.Go(func() {
			err := s.AddAttempt(ctx, tx2.ID, at)
			switch {
			case err == nil:
				mu.Lock()
				recorded = append(recorded, at.Hash)
				mu.Unlock()
			case !errors.Is(err, consolidate.ErrNotPending):
				t.Errorf("AddAttempt racing Settle: %v", err)
			}
		})
		if i == n/2 {
			wg.Go(func() {
				if _, err := s.Settle(ctx, tx2.ID, dropped); err != nil {
					t.Errorf("Settle: %v", err)
				}
			})
		}
	}
	wg.Wait()
	var listed []common.Hash
	for _, at := range mustAttempts(t, s, tx2.ID)[1:] {
		listed = append(listed, at.Hash)
	}
	less := func(x, y common.Hash) int { return x.Cmp(y) }
	slices.SortFunc(listed, less)
	slices.SortFunc(recorded, less)
	if !slices.Equal(listed, recorded) {
		t.Errorf("after racing Settle: %d attempts listed, %d reported recorded; want the same", len(listed), len(recorded))
	}
	CheckInvariants(t, s, a.ID)
}

// testSettleAttempt settles with the attempt that landed: the transaction
// takes its hash and bytes, and the history stays.
func testSettleAttempt(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		outcome consolidate.Outcome
		landed  int // index into the attempts
		// after settling
		available, current int64
	}{
		{"bump succeeded", consolidate.OutcomeSuccess, 1, 4 * hold, 4 * hold},
		{"bump reverted", consolidate.OutcomeReverted, 1, 5*hold - fee, 5*hold - fee},
		{"original succeeded", consolidate.OutcomeSuccess, 0, 4 * hold, 4 * hold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fund(t, s, 5*hold)
			tx := mustSubmit(t, s, transfer(a.ID))
			bump := replacement(tx.Nonce, quote(3e9, 40e9), false, t0.Add(time.Minute))
			if err := s.AddAttempt(ctx, tx.ID, bump); err != nil {
				t.Fatalf("AddAttempt: %v", err)
			}
			attempts := mustAttempts(t, s, tx.ID)
			landed := attempts[tc.landed]

			st := mined(tc.outcome)
			st.Hash = landed.Hash
			got, err := s.Settle(ctx, tx.ID, st)
			if err != nil {
				t.Fatalf("Settle: %v", err)
			}
			want := tx
			want.Hash, want.Raw = landed.Hash, landed.Raw
			want.Status = tc.outcome.Status()
			want.Version = got.Version
			want.FeeBlockchain, want.BlockNumber, want.BlockHash = st.FeeBlockchain, st.BlockNumber, st.BlockHash
			want.NextCheckAt = time.Time{}
			if d := diffTx(got, want); d != "" {
				t.Errorf("Settle returned %s", d)
			}
			if got.Version <= tx.Version {
				t.Errorf("Version %d after Settle, want > %d", got.Version, tx.Version)
			}
			if d := diffTx(mustTransaction(t, s, tx.ID), got); d != "" {
				t.Errorf("Transaction after Settle: %s", d)
			}
			wantAttempts(t, s, tx.ID, attempts...)
			wantBalances(t, s, a.ID, big.NewInt(tc.available), big.NewInt(tc.current))
			CheckInvariants(t, s, a.ID)
		})
	}
}

// testSettleForeignAttempt settles naming a hash that is not one of the
// transaction's attempts: refused, and nothing changes.
func testSettleForeignAttempt(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	other := mustSubmit(t, s, transfer(a.ID))
	otherBump := replacement(other.Nonce, quote(3e9, 40e9), false, t0.Add(time.Minute))
	if err := s.AddAttempt(ctx, other.ID, otherBump); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	attempts, otherAttempts := mustAttempts(t, s, tx.ID), mustAttempts(t, s, other.ID)
	events := len(unsent(t, s))

	for name, h := range map[string]common.Hash{
		"another transaction's hash": other.Hash,
		"another transaction's bump": otherBump.Hash,
		"an unknown hash":            common.HexToHash("0xdead"),
	} {
		for _, o := range []consolidate.Outcome{consolidate.OutcomeSuccess, consolidate.OutcomeDropped} {
			st := mined(o)
			st.Hash = h
			if _, err := s.Settle(ctx, tx.ID, st); !errors.Is(err, consolidate.ErrNotFound) {
				t.Errorf("Settle(%s, %s) error = %v, want ErrNotFound", o, name, err)
			}
		}
	}
	for id, want := range map[int64]consolidate.Transaction{tx.ID: tx, other.ID: other} {
		if d := diffTx(mustTransaction(t, s, id), want); d != "" {
			t.Errorf("refused Settle changed transaction %d: %s", id, d)
		}
	}
	wantAttempts(t, s, tx.ID, attempts...)
	wantAttempts(t, s, other.ID, otherAttempts...)
	wantBalances(t, s, a.ID, big.NewInt(3*hold), big.NewInt(5*hold))
	if n := len(unsent(t, s)); n != events {
		t.Errorf("refused Settle wrote %d events", n-events)
	}

	// A final transaction answers ErrNotPending with the stored row, whatever
	// the hash: a duplicate delivery learns the outcome.
	settled, err := s.Settle(ctx, tx.ID, mined(consolidate.OutcomeSuccess))
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	st := mined(consolidate.OutcomeSuccess)
	st.Hash = otherBump.Hash
	got, err := s.Settle(ctx, tx.ID, st)
	if !errors.Is(err, consolidate.ErrNotPending) {
		t.Errorf("Settle(settled, foreign hash) error = %v, want ErrNotPending", err)
	}
	if d := diffTx(got, settled); d != "" {
		t.Errorf("Settle(settled, foreign hash) returned %s; want the stored row", d)
	}
	CheckInvariants(t, s, a.ID)
}

// testSettleCancelled settles a transfer whose cancel landed: it failed,
// the account gets everything back, and what the cancel cost the wallet
// is recorded.
func testSettleCancelled(t *testing.T, s consolidate.Store) {
	ctx := t.Context()
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	cancel := replacement(tx.Nonce, quote(3e9, 40e9), true, t0.Add(time.Minute))
	if err := s.AddAttempt(ctx, tx.ID, cancel); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	events := len(unsent(t, s))
	st := consolidate.Settlement{
		Outcome:       consolidate.OutcomeDropped,
		Hash:          cancel.Hash,
		FeeBlockchain: add(pow2(64), big.NewInt(21_000)), // wider than 64 bits on purpose
		BlockNumber:   43,
		BlockHash:     common.HexToHash("0x43"),
		At:            t0.Add(time.Hour),
	}
	got, err := s.Settle(ctx, tx.ID, st)
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	want := tx
	want.Hash, want.Raw = cancel.Hash, cancel.Raw
	want.Status = consolidate.StatusFailed
	want.Version = got.Version
	want.FeeBlockchain, want.BlockNumber, want.BlockHash = st.FeeBlockchain, st.BlockNumber, st.BlockHash
	want.NextCheckAt = time.Time{}
	if d := diffTx(got, want); d != "" {
		t.Errorf("Settle returned %s", d)
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), got); d != "" {
		t.Errorf("Transaction after Settle: %s", d)
	}
	// The wallet paid for the cancel; the account is refunded in full.
	wantBalances(t, s, a.ID, big.NewInt(5*hold), big.NewInt(5*hold))
	evs := unsent(t, s)
	if len(evs) != events+1 || evs[len(evs)-1].Type != consolidate.EventFailed {
		t.Errorf("events after Settle = %+v, want one more, %s", evs, consolidate.EventFailed)
	}
	CheckInvariants(t, s, a.ID)
}
