package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-consolidate/consolidate"
	goredis "github.com/redis/go-redis/v9"
)

// CacheOptions configures a Cache. The zero value is ready to
// use.
type CacheOptions struct {
	// Prefix starts every cache key; the entry for key k lives at
	// Prefix+"cache:"+k. Defaults to "consolidate:".
	Prefix string
}

// Cache is a Cache on Redis, Redis Cluster or Dragonfly, shared by
// every process that points at it. Each entry is one hash with the fields
// v (version, decimal), n ("1" for a negative entry, else "0") and d (the
// value), expiring with the hash as a whole.
//
// Fill is one Lua script that compares versions and writes in the same
// step, so two processes filling the same key concurrently can never leave
// the older version in place.
type Cache struct {
	client goredis.UniversalClient
	prefix string
}

var _ consolidate.Cache = (*Cache)(nil)

// NewCache returns a Cache on client. opts may be nil.
func NewCache(client goredis.UniversalClient, opts *CacheOptions) *Cache {
	var o CacheOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = defaultRedisPrefix
	}
	return &Cache{client: client, prefix: o.Prefix}
}

func (c *Cache) key(k string) string { return c.prefix + "cache:" + k }

// errNoRedisClient answers every call of a backend built with a nil client.
var errNoRedisClient = errors.New("consolidate: no Redis client")

// Get implements Cache.
func (c *Cache) Get(ctx context.Context, key string) (consolidate.CacheEntry, bool, error) {
	if err := ctx.Err(); err != nil {
		return consolidate.CacheEntry{}, false, err
	}
	if c.client == nil {
		return consolidate.CacheEntry{}, false, errNoRedisClient
	}
	vals, err := c.client.HMGet(ctx, c.key(key), "v", "n", "d").Result()
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return consolidate.CacheEntry{}, false, nil
		}
		return consolidate.CacheEntry{}, false, fmt.Errorf("consolidate: cache get %q: %w", key, err)
	}
	if len(vals) != 3 || vals[0] == nil {
		return consolidate.CacheEntry{}, false, nil
	}
	vs, _ := vals[0].(string)
	version, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return consolidate.CacheEntry{}, false, fmt.Errorf("consolidate: cache get %q: malformed version %q", key, vs)
	}
	e := consolidate.CacheEntry{Version: version}
	if n, _ := vals[1].(string); n == "1" {
		e.Negative = true
	}
	if d, _ := vals[2].(string); d != "" {
		e.Value = []byte(d)
	}
	return e, true, nil
}

// redisFillScript stores the entry unless the stored one has a version at
// least as high. Versions are compared as decimal strings rather than Lua
// numbers, which are doubles and would round int64 versions above 2^53.
//
// KEYS[1] entry hash; ARGV: version, negative ("1"/"0"), value, ttl ms.
var redisFillScript = goredis.NewScript(`
local function less(a, b)
	local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
	if na ~= nb then return na end
	local r
	if #a ~= #b then r = #a < #b else r = a < b end
	if a == b then return false end
	if na then return not r end
	return r
end
local cur = redis.call('HGET', KEYS[1], 'v')
if cur and not less(cur, ARGV[1]) then
	return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

// Fill implements Cache.
func (c *Cache) Fill(ctx context.Context, key string, e consolidate.CacheEntry, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, nil
	}
	if c.client == nil {
		return false, errNoRedisClient
	}
	neg := "0"
	if e.Negative {
		neg = "1"
	}
	n, err := redisFillScript.Run(ctx, c.client, []string{c.key(key)},
		strconv.FormatInt(e.Version, 10), neg, e.Value, ceilMillis(ttl).Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("consolidate: cache fill %q: %w", key, err)
	}
	return n == 1, nil
}

// Delete implements Cache.
func (c *Cache) Delete(ctx context.Context, key string) error {
	if c.client == nil {
		return errNoRedisClient
	}
	if err := c.client.Del(ctx, c.key(key)).Err(); err != nil {
		return fmt.Errorf("consolidate: cache delete %q: %w", key, err)
	}
	return nil
}
