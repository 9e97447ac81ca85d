package consolidate_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

func TestWaitReturnsOnceFinal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1))
	e.runWorker()

	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if got, err := e.svc.Wait(short, tx.ID); !errors.Is(err, context.DeadlineExceeded) || got.Status != consolidate.StatusPending {
		t.Fatalf("Wait before the block: %s, %v; want PENDING and the deadline", got.Status, err)
	}
	e.sim.Commit()
	got, err := e.svc.Wait(t.Context(), tx.ID)
	if err != nil || got.Status != consolidate.StatusSuccessful {
		t.Fatalf("Wait: %s, %v; want SUCCESSFUL", got.Status, err)
	}
	if _, err := e.svc.Wait(t.Context(), tx.ID+100); !errors.Is(err, consolidate.ErrNotFound) {
		t.Fatalf("Wait of an unknown transaction: %v, want ErrNotFound", err)
	}
}

// A Wait in one process sees a settlement made by another.
func TestWaitSeesAnotherProcessSettle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1))
	other, err := consolidate.New(e.store, e.chain, &consolidate.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan consolidate.Transaction, 1)
	go func() {
		got, _ := e.svc.Wait(t.Context(), tx.ID)
		done <- got
	}()
	e.sim.Commit()
	e.reconcileBy(other, tx.ID)
	select {
	case got := <-done:
		if got.Status != consolidate.StatusSuccessful {
			t.Fatalf("Wait returned %s", got.Status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after another process settled the transfer")
	}
}

// countingReads counts Transaction reads.
type countingReads struct {
	consolidate.Store
	n atomic.Int64
}

func (s *countingReads) Transaction(ctx context.Context, id int64) (consolidate.Transaction, error) {
	s.n.Add(1)
	time.Sleep(time.Millisecond) // a read that takes a little while, as under load
	return s.Store.Transaction(ctx, id)
}

// Without a cache, Gets of one transaction that arrive together share one
// store read.
func TestGetWithoutCacheSharesStoreReads(t *testing.T) {
	t.Parallel()
	cr := &countingReads{}
	e := newEnv(t, &envOptions{wrapStore: func(s consolidate.Store) consolidate.Store { cr.Store = s; return cr }})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1))
	cr.n.Store(0)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			<-start
			if got, err := e.svc.Get(t.Context(), tx.ID); err != nil || got.ID != tx.ID {
				t.Errorf("Get: %v, %v", got.ID, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := cr.n.Load(); n > 50 {
		t.Fatalf("1000 concurrent Gets made %d store reads", n)
	}
	t.Logf("1000 concurrent Gets, %d store reads", cr.n.Load())
}
