package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// TestGroupCommitIsolation runs writes that fail in different ways in one
// batch: each failure is rolled back alone, the rest commit.
func TestGroupCommitIsolation(t *testing.T) {
	t.Parallel()
	s, a := openWithAccount(t, filepath.Join(t.TempDir(), "iso.db"), &Options{BatchWait: 20 * time.Millisecond})
	ctx := t.Context()
	credit := func(ctx context.Context, tx *wtx, ref string) error {
		_, err := tx.ExecContext(ctx, sqlInsertCredit, a.ID, ref, make([]byte, 32), 0)
		return err
	}
	errBoom := errors.New("boom")
	writes := []func(context.Context, *wtx) error{
		func(ctx context.Context, tx *wtx) error { return credit(ctx, tx, "ok-1") },
		func(ctx context.Context, tx *wtx) error {
			if err := credit(ctx, tx, "failed"); err != nil {
				return err
			}
			return errBoom
		},
		func(ctx context.Context, tx *wtx) error { return credit(ctx, tx, "ok-2") },
		func(ctx context.Context, tx *wtx) error {
			if err := credit(ctx, tx, "panicked"); err != nil {
				return err
			}
			panic("bad write")
		},
		func(ctx context.Context, tx *wtx) error { return credit(ctx, tx, "ok-1") }, // duplicate key
		func(ctx context.Context, tx *wtx) error { return credit(ctx, tx, "ok-3") },
	}
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Go(func() { errs[i] = s.write(ctx, w) })
	}
	wg.Wait()
	for i, want := range []bool{true, false, true, false, true, true} {
		if i == 0 || i == 4 {
			continue // the two uses of one key, checked below
		}
		if (errs[i] == nil) != want {
			t.Errorf("write %d: err = %v, want success %v", i, errs[i], want)
		}
	}
	if (errs[0] == nil) == (errs[4] == nil) {
		t.Errorf("two writes of one key: errors %v and %v, want exactly one to fail", errs[0], errs[4])
	}
	if !errors.Is(errs[1], errBoom) {
		t.Errorf("write 1: err = %v, want %v", errs[1], errBoom)
	}
	refs := queryStrings(t, s.r.DB, `SELECT reference FROM credits ORDER BY reference`)
	if got := fmt.Sprint(refs); got != "[ok-1 ok-2 ok-3]" {
		t.Errorf("stored credits %s, want [ok-1 ok-2 ok-3]", got)
	}
}

// TestCloseWithQueuedWrites closes the store while writers wait: each
// either commits or fails with ErrClosed, and none hangs.
func TestCloseWithQueuedWrites(t *testing.T) {
	t.Parallel()
	s, a := openWithAccount(t, filepath.Join(t.TempDir(), "close.db"), nil)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.Credit(ctx, a.ID, big.NewInt(1), fmt.Sprint("c", i))
		})
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, consolidate.ErrClosed) {
			t.Errorf("credit %d: %v, want nil or ErrClosed", i, err)
		}
	}
}

// TestInsertSubmittedMatchesRows inserts signed transfers and
// reservations of two senders at the same nonces in one statement: each
// gets the ID of its own row back. (A batch that matched them wrong
// would fail on a foreign key and run again one Submit at a time, so
// TestGroupCommitReservations alone would not notice.)
func TestInsertSubmittedMatchesRows(t *testing.T) {
	t.Parallel()
	s, a := openWithAccount(t, filepath.Join(t.TempDir(), "match.db"), nil)
	ctx := t.Context()
	amount, _ := encodeAmount(big.NewInt(1000))
	fee, _ := encodeAmount(big.NewInt(10))
	got := make(map[*pendingSubmit]consolidate.Transaction)
	var pss []*pendingSubmit
	for i := range 16 {
		from := common.Address{19: byte(1 + i%2)}
		nonce := uint64(i / 2)
		ps := &pendingSubmit{
			sub: submission{
				p:      consolidate.SubmitParams{AccountID: a.ID, From: from, To: common.Address{19: 9}, IdempotencyKey: fmt.Sprint("k", i)},
				amount: amount, fee: fee, now: time.Unix(1_700_000_000, 0), next: time.Unix(1_700_000_000, 0),
			},
			nonce: nonce,
		}
		if i%3 != 1 { // the first reservation comes after a signed submit
			h := common.Hash{0: byte(i + 1)}
			ps.sign = func(uint64) (consolidate.SignedTx, error) { return consolidate.SignedTx{Hash: h, Raw: h[:]}, nil }
			if err := ps.signNonce(); err != nil {
				t.Fatal(err)
			}
		}
		ps.record = func(tx consolidate.Transaction) { got[ps] = tx }
		pss = append(pss, ps)
	}
	if err := s.write(ctx, func(ctx context.Context, tx *wtx) error { return insertSubmitted(ctx, tx, pss) }); err != nil {
		t.Fatal(err)
	}
	for _, ps := range pss {
		want := got[ps]
		stored, err := s.Transaction(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.From != ps.sub.p.From || stored.Nonce != ps.nonce || stored.Hash != ps.signed.Hash || stored.IdempotencyKey != ps.sub.p.IdempotencyKey {
			t.Errorf("submit of %s nonce %d got transaction %d: %s nonce %d, hash %s",
				ps.sub.p.From, ps.nonce, want.ID, stored.From, stored.Nonce, stored.Hash)
		}
		as, err := s.Attempts(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(as); ps.reserved() && n != 0 || !ps.reserved() && (n != 1 || as[0].Hash != ps.signed.Hash) {
			t.Errorf("transaction %d (reserved %v): %d attempts", want.ID, ps.reserved(), n)
		}
	}
}

// TestGroupCommitEventsOfFailedWrites: in a batch, outbox rows wait for
// its end, and a write that fails or panics after writing one takes it
// back; the others' are written, in the order of their writes.
func TestGroupCommitEventsOfFailedWrites(t *testing.T) {
	t.Parallel()
	s, a := openWithAccount(t, filepath.Join(t.TempDir(), "events.db"), &Options{BatchWait: 20 * time.Millisecond})
	ctx := t.Context()
	if _, err := s.Credit(ctx, a.ID, big.NewInt(1e6), "funds"); err != nil {
		t.Fatal(err)
	}
	sign := func(uint64) (consolidate.SignedTx, error) {
		return consolidate.SignedTx{Hash: common.Hash{1}, Raw: []byte{1}}, nil
	}
	tx, _, err := s.Submit(ctx, consolidate.SubmitParams{AccountID: a.ID, To: common.Address{2}, Amount: big.NewInt(1), FeeTotal: big.NewInt(0)}, sign)
	if err != nil {
		t.Fatal(err)
	}
	event := func(typ string, then func() error) func(context.Context, *wtx) error {
		return func(ctx context.Context, wt *wtx) error {
			if err := insertEvent(ctx, wt, typ, tx.ID, a.ID, consolidate.StatusPending, time.Unix(1, 0)); err != nil {
				return err
			}
			return then()
		}
	}
	ok := func() error { return nil }
	writes := []func(context.Context, *wtx) error{
		event("kept-1", ok),
		event("failed", func() error { return errors.New("boom") }),
		event("kept-2", ok),
		event("panicked", func() error { panic("bad write") }),
		event("kept-3", ok),
	}
	var wg sync.WaitGroup
	for _, w := range writes {
		wg.Go(func() { _ = s.write(ctx, w) })
		time.Sleep(2 * time.Millisecond) // queue in order
	}
	wg.Wait()
	types := queryStrings(t, s.r.DB, `SELECT type FROM events WHERE transaction_id = ? ORDER BY id`, tx.ID)
	want := fmt.Sprint([]string{consolidate.EventSubmitted, "kept-1", "kept-2", "kept-3"})
	if got := fmt.Sprint(types); got != want {
		t.Errorf("events %s, want %s", got, want)
	}
}
