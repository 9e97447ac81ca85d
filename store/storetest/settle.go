package storetest

import (
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// mined is a settlement of a transaction in block 42.
func mined(o consolidate.Outcome) consolidate.Settlement {
	return consolidate.Settlement{
		Outcome:       o,
		FeeBlockchain: big.NewInt(7),
		BlockNumber:   42,
		BlockHash:     common.HexToHash("0x42"),
		At:            t0.Add(time.Hour),
	}
}

var dropped = consolidate.Settlement{Outcome: consolidate.OutcomeDropped, At: t0.Add(time.Hour)}

func testSettleOutcomes(t *testing.T, s consolidate.Store) {
	const start = 5 * hold
	for _, tc := range []struct {
		settle             consolidate.Settlement
		available, current int64 // after settling
		status             consolidate.Status
		event              string
	}{
		// The hold leaves the account.
		{mined(consolidate.OutcomeSuccess), start - hold, start - hold, consolidate.StatusSuccessful, consolidate.EventSuccessful},
		// The amount comes back, the fee is charged.
		{mined(consolidate.OutcomeReverted), start - fee, start - fee, consolidate.StatusFailed, consolidate.EventFailed},
		// Everything comes back.
		{dropped, start, start, consolidate.StatusFailed, consolidate.EventFailed},
	} {
		t.Run(tc.settle.Outcome.String(), func(t *testing.T) {
			a := fund(t, s, start)
			tx := mustSubmit(t, s, transfer(a.ID))
			before := len(unsent(t, s))

			got, err := s.Settle(t.Context(), tx.ID, tc.settle)
			if err != nil {
				t.Fatalf("Settle: %v", err)
			}
			want := tx
			want.Status = tc.status
			want.Version = got.Version
			want.NextCheckAt = time.Time{}
			if tc.settle.Outcome != consolidate.OutcomeDropped {
				want.FeeBlockchain = tc.settle.FeeBlockchain
				want.BlockNumber = tc.settle.BlockNumber
				want.BlockHash = tc.settle.BlockHash
			}
			if d := diffTx(got, want); d != "" {
				t.Errorf("Settle returned %s", d)
			}
			if got.Version <= tx.Version {
				t.Errorf("Version %d after Settle, want > %d", got.Version, tx.Version)
			}
			if d := diffTx(mustTransaction(t, s, tx.ID), got); d != "" {
				t.Errorf("Transaction after Settle: %s", d)
			}
			wantBalances(t, s, a.ID, big.NewInt(tc.available), big.NewInt(tc.current))

			evs := unsent(t, s)
			if len(evs) != before+1 {
				t.Fatalf("Settle wrote %d events, want 1", len(evs)-before)
			}
			if e := evs[len(evs)-1]; e.Type != tc.event || e.TransactionID != tx.ID || e.AccountID != a.ID || e.Status != tc.status {
				t.Errorf("event = %+v, want %s for transaction %d, %s", e, tc.event, tx.ID, tc.status)
			}
			CheckInvariants(t, s, a.ID)
		})
	}
}

func testSettleTwice(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	first, err := s.Settle(t.Context(), tx.ID, mined(consolidate.OutcomeSuccess))
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	events := len(unsent(t, s))
	for _, st := range []consolidate.Settlement{mined(consolidate.OutcomeSuccess), mined(consolidate.OutcomeReverted), dropped} {
		got, err := s.Settle(t.Context(), tx.ID, st)
		if !errors.Is(err, consolidate.ErrNotPending) {
			t.Errorf("Settle(%s) of a settled transaction error = %v, want ErrNotPending", st.Outcome, err)
		}
		if d := diffTx(got, first); d != "" {
			t.Errorf("Settle(%s) of a settled transaction returned %s; want the stored row", st.Outcome, d)
		}
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), first); d != "" {
		t.Errorf("Transaction changed by a second Settle: %s", d)
	}
	wantBalances(t, s, a.ID, big.NewInt(4*hold), big.NewInt(4*hold))
	if n := len(unsent(t, s)); n != events {
		t.Errorf("a second Settle wrote %d events", n-events)
	}
	CheckInvariants(t, s, a.ID)
}

func testSettleInvalid(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	if _, err := s.Settle(t.Context(), tx.ID+1000, mined(consolidate.OutcomeSuccess)); !errors.Is(err, consolidate.ErrNotFound) {
		t.Errorf("Settle(unknown) error = %v, want ErrNotFound", err)
	}
	for _, st := range []consolidate.Settlement{
		{Outcome: 0, At: t0},
		{Outcome: 99, At: t0},
		{Outcome: consolidate.OutcomeReverted, FeeBlockchain: big.NewInt(-1), At: t0},
		{Outcome: consolidate.OutcomeSuccess, FeeBlockchain: pow2(256), At: t0},
		{Outcome: consolidate.OutcomeDropped, FeeBlockchain: big.NewInt(-1), At: t0},
	} {
		if _, err := s.Settle(t.Context(), tx.ID, st); err == nil {
			t.Errorf("Settle(%+v) succeeded, want an error", st)
		}
	}
	if d := diffTx(mustTransaction(t, s, tx.ID), tx); d != "" {
		t.Errorf("invalid Settle changed the transaction: %s", d)
	}
	wantBalances(t, s, a.ID, big.NewInt(4*hold), big.NewInt(5*hold))
	if n := len(unsent(t, s)); n != 1 {
		t.Errorf("events = %d, want 1 (the submit)", n)
	}
}

// testSettleConcurrent settles one transaction from many goroutines, as
// duplicate reconcile deliveries do: exactly one applies.
func testSettleConcurrent(t *testing.T, s consolidate.Store) {
	a := fund(t, s, 5*hold)
	tx := mustSubmit(t, s, transfer(a.ID))
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied int
	)
	for i := range n {
		wg.Go(func() {
			st := mined(consolidate.OutcomeSuccess)
			if i%2 == 1 {
				st = dropped
			}
			_, err := s.Settle(t.Context(), tx.ID, st)
			switch {
			case err == nil:
				mu.Lock()
				applied++
				mu.Unlock()
			case !errors.Is(err, consolidate.ErrNotPending):
				t.Errorf("Settle: %v", err)
			}
		})
	}
	wg.Wait()
	if applied != 1 {
		t.Fatalf("%d concurrent Settles applied, want 1", applied)
	}
	got := mustTransaction(t, s, tx.ID)
	switch got.Status {
	case consolidate.StatusSuccessful:
		wantBalances(t, s, a.ID, big.NewInt(4*hold), big.NewInt(4*hold))
	case consolidate.StatusFailed:
		wantBalances(t, s, a.ID, big.NewInt(5*hold), big.NewInt(5*hold))
	default:
		t.Errorf("status after Settle = %s", got.Status)
	}
	final := 0
	for _, e := range unsent(t, s) {
		if e.Type == consolidate.EventSuccessful || e.Type == consolidate.EventFailed {
			final++
		}
	}
	if final != 1 {
		t.Errorf("%d final events, want 1", final)
	}
	CheckInvariants(t, s, a.ID)
}
