package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/token"
	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	goredis "github.com/redis/go-redis/v9"
)

// RedlockOptions configures a Redlock. The zero value is ready to use.
type RedlockOptions struct {
	// Prefix starts every lock key; the key of lock k is Prefix+"lock:"+k
	// on every node. Defaults to "consolidate:".
	Prefix string
	// Tries is how many times Lock attempts to win a quorum before giving
	// up. Defaults to 1: a busy key answers ErrAccountLocked at once, which
	// is what a submit wants.
	Tries int
	// RetryDelay is the pause between tries, jittered uniformly over
	// [RetryDelay/2, 3·RetryDelay/2) so that contenders spread out.
	// Defaults to 50 ms.
	RetryDelay time.Duration
	// DriftFactor is the share of the TTL assumed lost to clock drift
	// between the nodes; the lease's validity is shortened by it.
	// Defaults to 0.01.
	DriftFactor float64
	// NodeTimeout bounds each round trip to one node, so a hung node costs
	// at most this much. Defaults to 5% of the lock's TTL, but at least
	// 50 ms.
	NodeTimeout time.Duration
}

// Redlock is a Locker over N independent Redis nodes (not replicas of each
// other) using the Redlock algorithm through redsync: a lock is held when
// SET NX PX succeeded on a quorum of N/2+1 nodes within the TTL, less the
// time acquisition took and the allowed clock drift. It keeps working while
// a minority of the nodes is down.
//
// What it cannot promise, no more than Locker: a holder that pauses
// past its TTL (GC, swapping, a stopped VM) or a node whose clock jumps
// forward can leave two holders believing they own the key, and a node that
// restarts without persistence forgets the locks it held. The Store is the
// real guard: balances and nonces are checked inside one database
// transaction whatever the lock says.
type Redlock struct {
	rs     *redsync.Redsync
	nodes  int
	prefix string
	opts   RedlockOptions
}

var _ consolidate.Locker = (*Redlock)(nil)

// NewRedlock returns a Locker over clients, one per independent node. opts
// may be nil. With no clients every Lock fails with ErrLockUnavailable; a
// nil client counts as a node that is down.
func NewRedlock(clients []goredis.UniversalClient, opts *RedlockOptions) *Redlock {
	var o RedlockOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = defaultRedisPrefix
	}
	if o.Tries <= 0 {
		o.Tries = 1
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 50 * time.Millisecond
	}
	if o.DriftFactor <= 0 || o.DriftFactor >= 1 {
		o.DriftFactor = 0.01
	}
	pools := make([]redsyncredis.Pool, 0, len(clients))
	for _, c := range clients {
		if c == nil {
			// A missing client still counts towards N, as a node that is
			// down: dropping it would quietly lower the quorum.
			pools = append(pools, nilPool{})
			continue
		}
		pools = append(pools, redsyncgoredis.NewPool(c))
	}
	return &Redlock{rs: redsync.New(pools...), nodes: len(pools), prefix: o.Prefix, opts: o}
}

func (l *Redlock) quorum() int { return l.nodes/2 + 1 }

// nodeTimeout is how long one round trip to one node may take for a lease
// of ttl.
func (l *Redlock) nodeTimeout(ttl time.Duration) time.Duration {
	if l.opts.NodeTimeout > 0 {
		return l.opts.NodeTimeout
	}
	return max(ttl/20, 50*time.Millisecond)
}

// mutex builds a redsync mutex for one operation. A fresh one per call
// keeps leases safe for concurrent use: redsync's Mutex is not.
func (l *Redlock) mutex(key string, ttl time.Duration, value string) *redsync.Mutex {
	delay := l.opts.RetryDelay
	opts := []redsync.Option{
		redsync.WithExpiry(ttl),
		redsync.WithTries(l.opts.Tries),
		redsync.WithDriftFactor(l.opts.DriftFactor),
		redsync.WithTimeoutFactor(float64(l.nodeTimeout(ttl)) / float64(ttl)),
		redsync.WithGenValueFunc(token.New),
		redsync.WithRetryDelayFunc(func(int) time.Duration {
			return delay/2 + rand.N(delay)
		}),
	}
	if value != "" {
		opts = append(opts, redsync.WithValue(value))
	}
	return l.rs.NewMutex(l.prefix+"lock:"+key, opts...)
}

// Lock implements Locker.
func (l *Redlock) Lock(ctx context.Context, key string, ttl time.Duration) (consolidate.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("consolidate: lock ttl must be positive, got %v", ttl)
	}
	if l.nodes == 0 {
		return nil, fmt.Errorf("%w: no Redis nodes", consolidate.ErrLockUnavailable)
	}
	ttl = ceilMillis(ttl)
	m := l.mutex(key, ttl, "")
	err := m.LockContext(ctx)
	if err == nil {
		return &redlockLease{l: l, key: key, value: m.Value(), ttl: ttl}, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, fmt.Errorf("%w: lock %q: %w", consolidate.ErrLockUnavailable, key, cerr)
	}
	t := tallyNodes(err)
	switch {
	case l.nodes-t.down < l.quorum():
		return nil, fmt.Errorf("%w: lock %q: %d of %d nodes unreachable, quorum is %d: %s",
			consolidate.ErrLockUnavailable, key, t.down, l.nodes, l.quorum(), oneLine(err))
	case t.taken > 0:
		return nil, fmt.Errorf("%w (key %q)", consolidate.ErrAccountLocked, key)
	default:
		// Every node answered yet no quorum was won in time: the nodes
		// are too slow for this TTL.
		return nil, fmt.Errorf("%w: lock %q: no quorum within the ttl: %s", consolidate.ErrLockUnavailable, key, oneLine(err))
	}
}

type redlockLease struct {
	l     *Redlock
	key   string
	value string
	ttl   time.Duration
}

func (r *redlockLease) Unlock(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.l.nodeTimeout(r.ttl))
	defer cancel()
	ok, err := r.l.mutex(r.key, r.ttl, r.value).UnlockContext(ctx)
	if ok {
		return nil
	}
	return r.l.leaseError("unlock", r.key, err)
}

func (r *redlockLease) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("consolidate: lock ttl must be positive, got %v", ttl)
	}
	ttl = ceilMillis(ttl)
	ctx, cancel := context.WithTimeout(ctx, r.l.nodeTimeout(ttl))
	defer cancel()
	ok, err := r.l.mutex(r.key, ttl, r.value).ExtendContext(ctx)
	if ok {
		return nil
	}
	if errors.Is(err, redsync.ErrExtendFailed) {
		// Extended on a quorum, but too late to count on the new expiry.
		return fmt.Errorf("%w (key %q): extension confirmed too late", consolidate.ErrLeaseLost, r.key)
	}
	return r.l.leaseError("extend", r.key, err)
}

// leaseError maps a failed release or extension. If the nodes that did not
// answer could still make up a quorum with those that acted, nobody can
// tell whether the lease is held: that is ErrLockUnavailable. Otherwise a
// quorum saw the key gone or owned by someone else: ErrLeaseLost.
func (l *Redlock) leaseError(op, key string, err error) error {
	t := tallyNodes(err)
	acted := l.nodes - t.down - t.taken - t.expired
	if t.down > 0 && acted+t.down >= l.quorum() {
		return fmt.Errorf("%w: %s %q: %d of %d nodes unreachable: %s", consolidate.ErrLockUnavailable, op, key, t.down, l.nodes, oneLine(err))
	}
	return fmt.Errorf("%w (key %q)", consolidate.ErrLeaseLost, key)
}

// nodeTally counts per-node outcomes in a redsync error.
type nodeTally struct {
	down    int // could not be reached or answered with an error
	taken   int // held by another owner (or, for extend, not held by us)
	expired int // the key was gone (release only)
}

// tallyNodes walks a redsync error, which joins one error per failed node
// with errors.Join, or replaces them with ErrTaken when a quorum was taken.
func tallyNodes(err error) nodeTally {
	var t nodeTally
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *redsync.RedisError, redsync.RedisError:
			t.down++
		case *redsync.ErrNodeTaken, redsync.ErrNodeTaken:
			t.taken++
		case *redsync.ErrTaken:
			t.taken += len(e.Nodes)
		case redsync.ErrTaken:
			t.taken += len(e.Nodes)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		default:
			if err == redsync.ErrLockAlreadyExpired {
				t.expired++
			}
		}
	}
	walk(err)
	return t
}

// nilPool stands for a nil client: a node that never answers.
type nilPool struct{}

func (nilPool) Get(context.Context) (redsyncredis.Conn, error) { return nil, errNoRedisClient }

// oneLine flattens the one-line-per-node message of a joined error so that
// it reads as one log line.
func oneLine(err error) string {
	if err == nil {
		return "no error detail"
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
