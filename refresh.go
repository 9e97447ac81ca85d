package consolidate

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// cacheStripes is how many stripes of transaction IDs order cache fills;
// see refresh.
const cacheStripes = 256

type fillStripe struct {
	mu     sync.Mutex
	writes atomic.Uint64 // refreshes after commits, ever
}

// refresh caches tx after a commit that wrote it. A Get already reading the
// store for tx shares that read with Gets that start now, and the read may
// predate the commit: the flight is forgotten, so later Gets read again,
// and the stripe's count of refreshes tells a flight that read before the
// commit not to fill. Counting and filling under the stripe's lock, the
// same lock a flight holds to check the count and fill, keeps the two from
// interleaving: an older copy cannot be filled after a newer one, even
// when the cache has evicted the newer one. A refresh that fails is
// repaired in the background.
func (s *Service) refresh(ctx context.Context, tx Transaction) {
	key := cacheKey(tx.ID)
	s.reads.forget(key)
	if s.cfg.Cache == nil {
		return
	}
	e, ok := s.entry(ctx, tx)
	st := &s.fills[tx.ID%cacheStripes]
	st.mu.Lock()
	defer st.mu.Unlock()
	st.writes.Add(1)
	if !ok {
		s.deleteEntry(ctx, key)
		return
	}
	if s.fillEntry(ctx, key, e, s.cfg.CacheTTL) != nil {
		s.repair(ctx, key, e)
	}
}

// entry is tx as a cache entry at its version.
func (s *Service) entry(ctx context.Context, tx Transaction) (CacheEntry, bool) {
	b, err := encodeTransaction(tx)
	if err != nil {
		s.log.ErrorContext(ctx, "consolidate: cache encode failed", "tx", tx.ID, "err", err)
		return CacheEntry{}, false
	}
	return CacheEntry{Version: tx.Version, Value: b}, true
}

// fillEntry writes a cache entry. It runs after a commit or a store read
// the caller may no longer wait for, so it is bounded by CacheTimeout
// alone, not by the caller's context.
func (s *Service) fillEntry(ctx context.Context, key string, e CacheEntry, ttl time.Duration) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CacheTimeout)
	defer cancel()
	_, err := s.cfg.Cache.Fill(fctx, key, e, jitter(ttl, s.cfg.CacheJitter))
	if err != nil {
		s.log.WarnContext(ctx, "consolidate: cache fill failed", "key", key, "err", err)
	}
	return err
}

func (s *Service) deleteEntry(ctx context.Context, key string) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CacheTimeout)
	defer cancel()
	return s.cfg.Cache.Delete(dctx, key)
}

// maxRepairs bounds the entries repaired at once. Past it, a failed
// refresh is left to the entries' TTL (see Cache).
const maxRepairs = 4096

// repairing is an entry whose refresh failed, to fill until it holds.
type repairing struct {
	entry CacheEntry
	until time.Time
}

// staleBound is how long after a commit an older copy of the row can
// stay in the cache when the commit's refresh fails and is never
// repaired: an entry filled before the commit lives out its TTL, and so
// does one filled by a Get whose read began before the commit, at most
// fillWindow and one fill later.
func (s *Service) staleBound() time.Duration {
	ttl := max(s.cfg.CacheTTL, s.cfg.NegativeCacheTTL)
	return jitterMax(ttl, s.cfg.CacheJitter) + fillWindow + s.cfg.CacheTimeout
}

// repair fills e again in the background until the cache takes it, for
// as long as an older copy could be in the cache. Once it holds, no older
// copy can replace it, so a Get in another process that filled the row
// it read before the commit is overwritten, and one that fills later is
// refused. A newer refresh of the same key that fails takes over the
// repair under way.
func (s *Service) repair(ctx context.Context, key string, e CacheEntry) {
	until := time.Now().Add(s.staleBound())
	s.repairMu.Lock()
	defer s.repairMu.Unlock()
	if r, ok := s.repairs[key]; ok {
		if e.Version >= r.entry.Version {
			r.entry, r.until = e, until
		}
		return
	}
	if len(s.repairs) >= maxRepairs {
		s.log.WarnContext(ctx, "consolidate: cache repair skipped", "key", key, "repairs", maxRepairs)
		return
	}
	if s.repairs == nil {
		s.repairs = make(map[string]*repairing)
	}
	s.repairs[key] = &repairing{entry: e, until: until}
	go s.repairLoop(context.WithoutCancel(ctx), key)
}

// repairLoop is repair's background work for one key. A round whose fill
// fails deletes the entry instead, so that Gets read the store meanwhile.
func (s *Service) repairLoop(ctx context.Context, key string) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		time.Sleep(wait)
		s.repairMu.Lock()
		r := *s.repairs[key]
		s.repairMu.Unlock()
		err := s.fillEntry(ctx, key, r.entry, s.cfg.CacheTTL)
		if err != nil {
			s.deleteEntry(ctx, key)
		}
		s.repairMu.Lock()
		cur := s.repairs[key]
		done := cur.entry.Version == r.entry.Version && (err == nil || time.Now().After(cur.until))
		if done {
			delete(s.repairs, key)
		}
		s.repairMu.Unlock()
		if done {
			if err == nil {
				s.log.InfoContext(ctx, "consolidate: cache entry repaired", "key", key, "version", r.entry.Version)
			}
			return
		}
	}
}
