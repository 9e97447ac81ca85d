package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestServerRestart stops the server under a steady load of Submits and
// starts it again, cleanly and after a crash: Submits fail while it is
// away, nothing is half written, every Submit that succeeded is stored,
// every one that failed is not, nonces stay gap-free, and the same Store
// carries on once the server is back.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		stop func(*pgtest.Server)
	}{
		{"stop", (*pgtest.Server).Stop},
		{"kill", (*pgtest.Server).Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The server dies, not the machine: the kernel keeps what it
			// wrote, so fsync changes nothing here.
			srv := pgtest.Start(t, semantics)
			testRestart(t, srv, tc.stop)
		})
	}
}

// outcome is what one Submit returned.
type outcome struct {
	account int64
	key     string
	tx      consolidate.Transaction
	err     error
}

func testRestart(t *testing.T, srv *pgtest.Server, stop func(*pgtest.Server)) {
	dsn := srv.CreateDatabase(t)
	s := open(t, dsn, nil)
	const workers = 16
	accts := fund(t, s, workers, 1_000_000*hold)

	var (
		mu         sync.Mutex
		outcomes   []outcome
		restarted  atomic.Bool
		afterwards atomic.Int64 // successes once the server is back
		wg         sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
				tx, _, err := s.Submit(cctx, transfer(accts[w], key), sign)
				ccancel()
				mu.Lock()
				outcomes = append(outcomes, outcome{accts[w], key, tx, err})
				mu.Unlock()
				if err == nil && restarted.Load() {
					afterwards.Add(1)
				}
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	stop(srv)
	time.Sleep(500 * time.Millisecond)
	srv.Restart(t)
	restarted.Store(true)
	for deadline := time.Now().Add(30 * time.Second); afterwards.Load() < 100; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the Store did not recover: %d Submits succeeded after the restart", afterwards.Load())
		}
	}
	cancel()
	wg.Wait()

	var failed, unknown int
	for _, o := range outcomes {
		switch {
		case o.err == nil:
			got, err := s.Transaction(t.Context(), o.tx.ID)
			if err != nil || got.Hash != o.tx.Hash || got.Status != consolidate.StatusPending {
				t.Errorf("Submit %s returned transaction %d, stored as %+v, %v", o.key, o.tx.ID, got, err)
			}
		case errors.Is(o.err, postgres.ErrOutcomeUnknown):
			unknown++
		default:
			failed++
			// Nothing of a failed Submit is stored: its key is still free.
			tx, created, err := s.Submit(t.Context(), transfer(o.account, o.key), sign)
			if err != nil || !created {
				t.Errorf("Submit %s failed with %q, yet a retry finds it stored: %+v, %v", o.key, o.err, tx, err)
			}
		}
	}
	t.Logf("%d Submits: %d failed while the server was away, %d with an unknown outcome", len(outcomes), failed, unknown)
	if failed+unknown == 0 {
		t.Error("no Submit failed: the server was not stopped under load")
	}
	storetest.CheckInvariants(t, s, accts...)
	wantGapFree(t, connect(t, dsn))
}
