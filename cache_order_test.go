package consolidate_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// stallingStore holds up one transaction read, once armed: it reads the
// row, reports that on read, and returns it only when release is closed.
// It is a Get whose store read began before a Settle and ends after it.
type stallingStore struct {
	consolidate.Store
	armed   atomic.Bool
	read    chan struct{}
	release chan struct{}
}

func newStallingStore() *stallingStore {
	return &stallingStore{read: make(chan struct{}), release: make(chan struct{})}
}

func (s *stallingStore) Transaction(ctx context.Context, id int64) (consolidate.Transaction, error) {
	tx, err := s.Store.Transaction(ctx, id)
	if s.armed.CompareAndSwap(true, false) {
		close(s.read)
		<-s.release
	}
	return tx, err
}

// faultyCache fails every call while down is set.
type faultyCache struct {
	consolidate.Cache
	down    atomic.Bool
	deletes atomic.Int64 // successful deletes
}

var errCacheDown = errors.New("cache unreachable")

func (c *faultyCache) Get(ctx context.Context, key string) (consolidate.CacheEntry, bool, error) {
	if c.down.Load() {
		return consolidate.CacheEntry{}, false, errCacheDown
	}
	return c.Cache.Get(ctx, key)
}

func (c *faultyCache) Fill(ctx context.Context, key string, e consolidate.CacheEntry, ttl time.Duration) (bool, error) {
	if c.down.Load() {
		return false, errCacheDown
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return c.Cache.Fill(ctx, key, e, ttl)
}

func (c *faultyCache) Delete(ctx context.Context, key string) error {
	if c.down.Load() {
		return errCacheDown
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.deletes.Add(1)
	return c.Cache.Delete(ctx, key)
}

// getStatus is Get, failing the test on an error.
func (e *env) getStatus(id int64) consolidate.Transaction {
	e.t.Helper()
	tx, err := e.svc.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("Get(%d): %v", id, err)
	}
	return tx
}

// cachedTransfer is an env with cache in front of its store, wrapped by
// wrap when it is not nil, and one submitted transfer.
func cachedTransfer(t *testing.T, cache consolidate.Cache, wrap func(consolidate.Store) consolidate.Store) (*env, consolidate.Account, consolidate.Transaction) {
	t.Helper()
	e := newEnv(t, &envOptions{cfg: consolidate.Config{Cache: cache}, wrapStore: wrap})
	acct := e.funded(wei(1e18))
	return e, acct, e.submit(acct.ID, alice, wei(1))
}

// getWithin is Get on ctx, failing the test if it has not returned within
// a few seconds.
func (e *env) getWithin(ctx context.Context, id int64) (consolidate.Transaction, error) {
	e.t.Helper()
	type result struct {
		tx  consolidate.Transaction
		err error
	}
	r := make(chan result, 1)
	go func() {
		tx, err := e.svc.Get(ctx, id)
		r <- result{tx, err}
	}()
	select {
	case got := <-r:
		return got.tx, got.err
	case <-time.After(5 * time.Second):
		e.t.Fatalf("Get(%d) still waiting after 5s", id)
		return consolidate.Transaction{}, nil
	}
}

// A Get whose store read began before a Settle must not fill its older
// copy afterwards, even once the cache has evicted the Settle's newer
// entry: the older copy would be served for a whole TTL.
func TestCacheFillAfterEvictionKeepsTheSettledStatus(t *testing.T) {
	t.Parallel()
	st := newStallingStore()
	cache := consolidate.NewMemoryCache(1) // every fill evicts the other entry
	e, acct, tx := cachedTransfer(t, cache, func(s consolidate.Store) consolidate.Store { st.Store = s; return st })
	other := e.submit(acct.ID, alice, wei(2))
	e.sim.Commit()
	cache.Delete(t.Context(), "tx:1")
	cache.Delete(t.Context(), "tx:2")

	st.armed.Store(true)
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Get(context.Background(), tx.ID) }()
	<-st.read // the Get has read PENDING
	settled := e.reconcile(tx.ID)
	if settled.Status != consolidate.StatusSuccessful {
		t.Fatalf("settled %s", settled.Status)
	}
	e.getStatus(other.ID) // evicts the settled entry
	close(st.release)
	<-done
	if got := e.getStatus(tx.ID); got.Status != settled.Status {
		t.Fatalf("Get after the Settle returned %s, the Settle %s", got.Status, settled.Status)
	}
}

// A Get that starts after a Settle returned must not share a store read
// that began before it, even when its own cache read fails.
func TestGetAfterSettleDoesNotJoinAnOlderRead(t *testing.T) {
	t.Parallel()
	st := newStallingStore()
	cache := &faultyCache{Cache: consolidate.NewMemoryCache(0)}
	e, _, tx := cachedTransfer(t, cache, func(s consolidate.Store) consolidate.Store { st.Store = s; return st })
	e.sim.Commit()
	cache.Delete(t.Context(), "tx:1")

	st.armed.Store(true)
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Get(context.Background(), tx.ID) }()
	defer func() { close(st.release); <-done }()
	<-st.read // the Get has read PENDING
	settled := e.reconcile(tx.ID)
	cache.down.Store(true) // the next Get reads the store
	got, err := e.getWithin(t.Context(), tx.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != settled.Status {
		t.Fatalf("Get after the Settle returned %s, the Settle %s", got.Status, settled.Status)
	}
}

// A Get gives up when its context does, though the store read it shares
// goes on for the others.
func TestGetHonoursItsDeadlineWhileSharingARead(t *testing.T) {
	t.Parallel()
	st := newStallingStore()
	e, _, tx := cachedTransfer(t, consolidate.NewMemoryCache(0), func(s consolidate.Store) consolidate.Store { st.Store = s; return st })
	e.cfg.Cache.Delete(t.Context(), "tx:1")
	st.armed.Store(true)
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Get(context.Background(), tx.ID) }()
	defer func() { close(st.release); <-done }()
	<-st.read
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := e.getWithin(ctx, tx.ID) // joins the stalled read
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get past its deadline: %v, want context.DeadlineExceeded", err)
	}
}

// cancelAfterSettle cancels a context right after each Settle commits.
type cancelAfterSettle struct {
	consolidate.Store
	cancel atomic.Pointer[context.CancelFunc]
}

func (s *cancelAfterSettle) Settle(ctx context.Context, id int64, set consolidate.Settlement) (consolidate.Transaction, error) {
	tx, err := s.Store.Settle(ctx, id, set)
	if c := s.cancel.Load(); c != nil {
		(*c)()
	}
	return tx, err
}

// A caller that gives up right after the commit does not stop the cache
// refresh: the settled status is what Get sees next, not the copy cached
// before.
func TestCacheRefreshOutlivesTheCallersContext(t *testing.T) {
	t.Parallel()
	st := &cancelAfterSettle{}
	cache := &faultyCache{Cache: consolidate.NewMemoryCache(0)}
	e, _, tx := cachedTransfer(t, cache, func(s consolidate.Store) consolidate.Store { st.Store = s; return st })
	if got := e.getStatus(tx.ID); got.Status != consolidate.StatusPending {
		t.Fatalf("before: %s", got.Status)
	}
	e.sim.Commit()
	ctx, cancel := context.WithCancel(t.Context())
	st.cancel.Store(&cancel)
	settled, _ := e.svc.Reconcile(ctx, tx.ID)
	if settled.Status != consolidate.StatusSuccessful {
		t.Fatalf("settled %s", settled.Status)
	}
	if got := e.getStatus(tx.ID); got.Status != settled.Status {
		t.Fatalf("Get after the Settle returned %s, the Settle %s", got.Status, settled.Status)
	}
}

// A refresh that fails while the cache is down leaves an entry older than
// the store; it is refilled in the background once the cache answers again.
func TestFailedRefreshIsRepairedWhenTheCacheReturns(t *testing.T) {
	t.Parallel()
	cache := &faultyCache{Cache: consolidate.NewMemoryCache(0)}
	e, _, tx := cachedTransfer(t, cache, nil)
	if got := e.getStatus(tx.ID); got.Status != consolidate.StatusPending {
		t.Fatalf("before: %s", got.Status)
	}
	e.sim.Commit()
	cache.down.Store(true)
	settled := e.reconcile(tx.ID)
	// While the cache is down, Get reads the store.
	if got := e.getStatus(tx.ID); got.Status != settled.Status {
		t.Fatalf("Get with the cache down returned %s, the Settle %s", got.Status, settled.Status)
	}
	cache.down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ce, ok, err := cache.Cache.Get(t.Context(), "tx:1")
		if err == nil && ok && ce.Version == settled.Version {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the entry still holds version %d (%v, %v), the Settle wrote %d", ce.Version, ok, err, settled.Version)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.getStatus(tx.ID); got.Status != settled.Status {
		t.Fatalf("Get after the cache returned gave %s, the Settle %s", got.Status, settled.Status)
	}
}

// A store read that took longer than a second fills nothing: a read that
// began before another process's commit may be older than its refresh,
// and the staleness bound in the Cache docs counts on such fills coming
// at most a second after the commit.
func TestSlowStoreReadDoesNotFill(t *testing.T) {
	t.Parallel()
	st := newStallingStore()
	cache := consolidate.NewMemoryCache(0)
	e, _, tx := cachedTransfer(t, cache, func(s consolidate.Store) consolidate.Store { st.Store = s; return st })
	cache.Delete(t.Context(), "tx:1")
	st.armed.Store(true)
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Get(context.Background(), tx.ID) }()
	<-st.read
	time.Sleep(1100 * time.Millisecond)
	close(st.release)
	<-done
	if ce, ok, _ := cache.Get(t.Context(), "tx:1"); ok {
		t.Fatalf("a read of over a second filled version %d", ce.Version)
	}
	e.getStatus(tx.ID)
	if _, ok, _ := cache.Get(t.Context(), "tx:1"); !ok {
		t.Fatal("a quick read filled nothing")
	}
}
