package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/token"
	goredis "github.com/redis/go-redis/v9"
)

// defaultRedisPrefix starts every key this package writes to Redis unless
// an Options struct says otherwise. Each backend adds its own segment
// ("lock:", "cache:", "{namespace}:q:"), so locks, cache entries and queues
// sharing one prefix never collide.
const defaultRedisPrefix = "consolidate:"

// LockerOptions configures a Locker. The zero value is ready to
// use.
type LockerOptions struct {
	// Prefix starts every lock key; the key of lock k is Prefix+"lock:"+k.
	// Defaults to "consolidate:".
	Prefix string
}

// Locker is a Locker on one Redis (or Dragonfly, or Redis Cluster)
// deployment: SET key token NX PX ttl, with a random 128-bit owner token,
// released and extended by Lua scripts that act only while the key still
// holds that token.
//
// What a lease lock cannot promise: a holder that pauses (GC, swapping, a
// stopped VM) past its TTL, or whose clock or the server's jumps, may still
// believe it holds the lock after Redis gave it to someone else; a Redis
// failover to a replica that had not received the SET loses the lock too.
// The Store is the real guard: it checks balances and nonces inside one
// database transaction, so an overlap costs at most a second submit that
// the store then judges on its own. For a lock that survives the loss of a
// node, see Redlock.
type Locker struct {
	client goredis.UniversalClient
	prefix string
}

var _ consolidate.Locker = (*Locker)(nil)

// NewLocker returns a Locker on client. opts may be nil.
func NewLocker(client goredis.UniversalClient, opts *LockerOptions) *Locker {
	var o LockerOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = defaultRedisPrefix
	}
	return &Locker{client: client, prefix: o.Prefix}
}

// Lock implements Locker.
func (l *Locker) Lock(ctx context.Context, key string, ttl time.Duration) (consolidate.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("consolidate: lock ttl must be positive, got %v", ttl)
	}
	if l.client == nil {
		return nil, fmt.Errorf("%w: no Redis client", consolidate.ErrLockUnavailable)
	}
	token, err := token.New()
	if err != nil {
		return nil, err
	}
	rkey := l.prefix + "lock:" + key
	ok, err := l.client.SetNX(ctx, rkey, token, ceilMillis(ttl)).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: lock %q: %w", consolidate.ErrLockUnavailable, key, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w (key %q)", consolidate.ErrAccountLocked, key)
	}
	return &redisLease{client: l.client, key: key, rkey: rkey, token: token}, nil
}

type redisLease struct {
	client goredis.UniversalClient
	key    string // as the caller named it, for messages
	rkey   string
	token  string
}

// Both scripts act only while the key still holds the caller's token, so a
// holder whose lease expired cannot release or prolong the next owner's.
var (
	redisUnlockScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`)
	redisExtendScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
)

func (r *redisLease) Unlock(ctx context.Context) error {
	n, err := redisUnlockScript.Run(ctx, r.client, []string{r.rkey}, r.token).Int64()
	if err != nil {
		return fmt.Errorf("%w: unlock %q: %w", consolidate.ErrLockUnavailable, r.key, err)
	}
	if n != 1 {
		return fmt.Errorf("%w (key %q)", consolidate.ErrLeaseLost, r.key)
	}
	return nil
}

func (r *redisLease) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("consolidate: lock ttl must be positive, got %v", ttl)
	}
	n, err := redisExtendScript.Run(ctx, r.client, []string{r.rkey}, r.token, ceilMillis(ttl).Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("%w: extend %q: %w", consolidate.ErrLockUnavailable, r.key, err)
	}
	if n != 1 {
		return fmt.Errorf("%w (key %q)", consolidate.ErrLeaseLost, r.key)
	}
	return nil
}

// ceilMillis rounds d up to whole milliseconds, Redis's finest expiry unit:
// rounding down could turn a sub-millisecond TTL into PEXPIRE 0, which
// deletes the key.
func ceilMillis(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r > 0 {
		if d > time.Duration(1<<63-1)-time.Millisecond {
			return d - r
		}
		return d - r + time.Millisecond
	}
	return d
}
