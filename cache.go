package consolidate

import (
	"context"
	"sync"
	"time"
)

// Cache is a versioned key-value cache in front of the Store for Get.
//
// Entries carry the Version of the row they copy. Fill never replaces an
// entry with one of a lower or equal version, so a slow reader that loaded
// an old row cannot overwrite the copy a settle just wrote. Negative entries
// (the row does not exist) have version 0: they are stored only where no
// entry is, and any real row replaces them.
//
// Cache errors never fail a Get: the Service logs them and reads the store.
//
// After every commit that changes a transaction, the Service refreshes its
// entry before the call returns, so a Get that starts afterwards, in any
// process, sees the change. Within one process this holds even when the
// refresh fails or the cache evicts the refreshed entry: a Get whose store
// read began before the commit does not fill what it read.
//
// Across processes, when the committing process's refresh fails (a
// timeout), a Get in another process whose store read began before the
// commit can fill the older copy it read, and other processes' Gets then
// return that older version (or ErrNotFound, for a Submit) for a while.
// The bound, after Submit, Reconcile or Cancel has returned:
//
//   - about a second after the committing process reaches the cache
//     again: it fills the new version again in the background, backing
//     off up to a second between tries, and no older version can replace
//     it once it holds;
//   - and in any case max(CacheTTL, NegativeCacheTTL) × (1 + CacheJitter),
//     plus 1 s and CacheTimeout, after the commit, if that process stops or its
//     cache never answers again: a Get fills only what it read within a
//     second, and an older entry then expires.
//
// Two limits: a cache that evicts entries early (a Redis maxmemory policy)
// can drop the repaired entry and let an older fill back in within the
// second bound; and a process repairs at most 4096 entries at once, the
// others falling back on the second bound.
type Cache interface {
	// Get returns the entry for key and whether there was one.
	Get(ctx context.Context, key string) (CacheEntry, bool, error)
	// Fill stores e under key for ttl unless an entry with a version
	// greater than or equal to e.Version is already there. It reports
	// whether e was stored.
	Fill(ctx context.Context, key string, e CacheEntry, ttl time.Duration) (bool, error)
	// Delete removes key.
	Delete(ctx context.Context, key string) error
}

// CacheEntry is one cached value.
type CacheEntry struct {
	Version  int64
	Negative bool   // the key is known not to exist
	Value    []byte // empty for negative entries
}

// MemoryCache is a bounded in-process Cache. It is right for a single
// process; several processes need a shared cache such as redis.Cache, or
// none, since one process cannot see another's settles.
type MemoryCache struct {
	mu      sync.Mutex
	entries map[string]memoryEntry
	max     int
}

type memoryEntry struct {
	CacheEntry
	expires time.Time
}

var _ Cache = (*MemoryCache)(nil)

// NewMemoryCache returns an in-process cache holding at most max entries
// (10 000 if max ≤ 0). When full, it evicts an arbitrary entry.
func NewMemoryCache(max int) *MemoryCache {
	if max <= 0 {
		max = 10000
	}
	return &MemoryCache{entries: make(map[string]memoryEntry), max: max}
}

// Get implements Cache.
func (c *MemoryCache) Get(ctx context.Context, key string) (CacheEntry, bool, error) {
	if err := ctx.Err(); err != nil {
		return CacheEntry{}, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return CacheEntry{}, false, nil
	}
	if !time.Now().Before(e.expires) {
		delete(c.entries, key)
		return CacheEntry{}, false, nil
	}
	e.Value = append([]byte(nil), e.Value...)
	return e.CacheEntry, true, nil
}

// Fill implements Cache.
func (c *MemoryCache) Fill(ctx context.Context, key string, e CacheEntry, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, nil
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok && now.Before(old.expires) && old.Version >= e.Version {
		return false, nil
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	e.Value = append([]byte(nil), e.Value...)
	c.entries[key] = memoryEntry{CacheEntry: e, expires: now.Add(ttl)}
	return true, nil
}

// Delete implements Cache.
func (c *MemoryCache) Delete(ctx context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
	return nil
}
