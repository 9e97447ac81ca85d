package consolidatetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// RunLocker runs the Locker conformance suite. newLocker must return a
// Locker whose keys are shared by every call within one test (the suite
// calls it once per subtest).
func RunLocker(t *testing.T, newLocker func(t *testing.T) consolidate.Locker) {
	ctx := context.Background()

	t.Run("LockUnlock", func(t *testing.T) {
		t.Parallel()
		l := newLocker(t)
		lease, err := l.Lock(ctx, "acct:1", time.Minute)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if _, err := l.Lock(ctx, "acct:1", time.Minute); !errors.Is(err, consolidate.ErrAccountLocked) {
			t.Fatalf("second Lock: got %v, want ErrAccountLocked", err)
		}
		other, err := l.Lock(ctx, "acct:2", time.Minute)
		if err != nil {
			t.Fatalf("Lock of another key: %v", err)
		}
		if err := lease.Unlock(ctx); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		if err := lease.Unlock(ctx); !errors.Is(err, consolidate.ErrLeaseLost) {
			t.Fatalf("second Unlock: got %v, want ErrLeaseLost", err)
		}
		again, err := l.Lock(ctx, "acct:1", time.Minute)
		if err != nil {
			t.Fatalf("Lock after Unlock: %v", err)
		}
		mustUnlock(t, again)
		mustUnlock(t, other)
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		l := newLocker(t)
		old, err := l.Lock(ctx, "k", 150*time.Millisecond)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
		fresh, err := l.Lock(ctx, "k", time.Minute)
		if err != nil {
			t.Fatalf("Lock after expiry: %v", err)
		}
		// The expired owner must not release or extend the new owner's lock.
		if err := old.Unlock(ctx); !errors.Is(err, consolidate.ErrLeaseLost) {
			t.Fatalf("stale Unlock: got %v, want ErrLeaseLost", err)
		}
		if err := old.Extend(ctx, time.Minute); !errors.Is(err, consolidate.ErrLeaseLost) {
			t.Fatalf("stale Extend: got %v, want ErrLeaseLost", err)
		}
		if _, err := l.Lock(ctx, "k", time.Minute); !errors.Is(err, consolidate.ErrAccountLocked) {
			t.Fatalf("Lock while new owner holds it: got %v, want ErrAccountLocked", err)
		}
		mustUnlock(t, fresh)
	})

	t.Run("Extend", func(t *testing.T) {
		t.Parallel()
		l := newLocker(t)
		lease, err := l.Lock(ctx, "k", 200*time.Millisecond)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if err := lease.Extend(ctx, time.Minute); err != nil {
			t.Fatalf("Extend: %v", err)
		}
		time.Sleep(350 * time.Millisecond)
		if _, err := l.Lock(ctx, "k", time.Minute); !errors.Is(err, consolidate.ErrAccountLocked) {
			t.Fatalf("Lock after Extend: got %v, want ErrAccountLocked", err)
		}
		mustUnlock(t, lease)
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		l := newLocker(t)
		if _, err := l.Lock(ctx, "k", 0); err == nil {
			t.Fatal("Lock with zero ttl succeeded")
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Lock(cancelled, "k", time.Minute); err == nil {
			t.Fatal("Lock with cancelled context succeeded")
		}
		lease, err := l.Lock(ctx, "k", time.Minute)
		if err != nil {
			t.Fatalf("Lock after refused calls: %v", err)
		}
		mustUnlock(t, lease)
	})

	t.Run("MutualExclusion", func(t *testing.T) {
		t.Parallel()
		l := newLocker(t)
		const workers, rounds = 32, 20
		var holders, maxHolders, acquired atomic.Int64
		var wg sync.WaitGroup
		errc := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					lease, err := l.Lock(ctx, "hot", 5*time.Second)
					if errors.Is(err, consolidate.ErrAccountLocked) {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					acquired.Add(1)
					n := holders.Add(1)
					for {
						m := maxHolders.Load()
						if n <= m || maxHolders.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(200 * time.Microsecond)
					holders.Add(-1)
					if err := lease.Unlock(ctx); err != nil {
						errc <- fmt.Errorf("Unlock: %w", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		if maxHolders.Load() != 1 {
			t.Fatalf("%d holders at once, want 1", maxHolders.Load())
		}
		if acquired.Load() == 0 {
			t.Fatal("nobody ever acquired the lock")
		}
	})
}

func mustUnlock(t *testing.T, l consolidate.Lease) {
	t.Helper()
	if err := l.Unlock(context.Background()); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}
