package consolidate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// fillWindow bounds how long a Get's store read may take and still fill
// the cache. A read that began before another process's commit can fill
// the older copy it read; refusing slow reads bounds how late after the
// commit that can happen (see Cache).
const fillWindow = time.Second

// Get returns a transaction, from the cache when one is configured.
func (s *Service) Get(ctx context.Context, id int64) (Transaction, error) {
	if err := ctx.Err(); err != nil {
		return Transaction{}, err
	}
	if id <= 0 {
		return Transaction{}, fmt.Errorf("%w: transaction %d", ErrNotFound, id)
	}
	key := cacheKey(id)
	if s.cfg.Cache != nil {
		tx, ok, err := s.cached(ctx, key, id)
		s.m.cacheLookup(ctx, ok)
		if ok {
			return tx, err
		}
	}
	// One store read per key per process however many Gets miss at once.
	// The read outlives a caller that gives up, for the others sharing it.
	tx, err := s.reads.do(ctx, key, func() (Transaction, error) {
		return s.readThrough(context.WithoutCancel(ctx), key, id)
	})
	if err != nil {
		return Transaction{}, err
	}
	return tx, nil
}

// readThrough reads a transaction from the store and fills the cache with
// what it read, unless a commit may have made that older than the entry.
func (s *Service) readThrough(ctx context.Context, key string, id int64) (Transaction, error) {
	if s.cfg.Cache == nil {
		return s.store.Transaction(ctx, id)
	}
	// A Get that missed just as another flight filled the entry finds it
	// here instead of reading the store again.
	if tx, ok, err := s.cached(ctx, key, id); ok {
		return tx, err
	}
	st := &s.fills[id%cacheStripes]
	seen := st.writes.Load()
	begun := time.Now()
	tx, err := s.store.Transaction(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return tx, err
	}
	if time.Since(begun) > fillWindow {
		return tx, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.writes.Load() != seen {
		// A commit refreshed the entry since the read began: what was read
		// may be older than the entry, and the entry may have been evicted
		// since, so filling could bring the old copy back.
		return tx, err
	}
	if err != nil {
		s.fillEntry(ctx, key, CacheEntry{Negative: true}, s.cfg.NegativeCacheTTL)
	} else if e, ok := s.entry(ctx, tx); ok {
		s.fillEntry(ctx, key, e, s.cfg.CacheTTL)
	}
	return tx, err
}

// cached looks id up in the cache. hit is false on a miss or a cache error,
// which is logged: the caller then reads the store. On a hit, err is
// ErrNotFound for a negative entry.
func (s *Service) cached(ctx context.Context, key string, id int64) (tx Transaction, hit bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CacheTimeout)
	defer cancel()
	e, ok, err := s.cfg.Cache.Get(cctx, key)
	if err != nil {
		s.log.WarnContext(ctx, "consolidate: cache get failed", "key", key, "err", err)
		return Transaction{}, false, nil
	}
	if !ok {
		return Transaction{}, false, nil
	}
	if e.Negative {
		return Transaction{}, true, fmt.Errorf("%w: transaction %d", ErrNotFound, id)
	}
	tx, err = decodeTransaction(e.Value)
	if err != nil || tx.ID != id {
		s.log.WarnContext(ctx, "consolidate: cache entry unreadable", "key", key, "err", err)
		return Transaction{}, false, nil
	}
	return tx, true, nil
}

func cacheKey(id int64) string { return "tx:" + strconv.FormatInt(id, 10) }
