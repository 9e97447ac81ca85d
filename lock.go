package consolidate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-consolidate/consolidate/internal/token"
)

// Locker hands out short leases on named keys. The Service takes one per
// account around Submit, so a second concurrent submit for the same account
// is answered at once with ErrAccountLocked instead of queuing behind the
// first.
//
// A lease lock is a guard for efficiency, never the thing that keeps money
// right: two holders may overlap, and the Store decides as if one came later.
type Locker interface {
	// Lock takes key for ttl. If someone else holds it, Lock returns an
	// error wrapping ErrAccountLocked at once; if the backend cannot be
	// reached, one wrapping ErrLockUnavailable.
	Lock(ctx context.Context, key string, ttl time.Duration) (Lease, error)
}

// Lease is a held lock.
type Lease interface {
	// Unlock releases the lease if it is still held by this owner. If the
	// lease expired (and perhaps went to someone else), Unlock leaves the
	// key alone and returns ErrLeaseLost.
	Unlock(ctx context.Context) error
	// Extend pushes the expiry to ttl from now if the lease is still held,
	// else returns ErrLeaseLost.
	Extend(ctx context.Context, ttl time.Duration) error
}

// MemoryLocker is a Locker for a single process. Its zero value is not
// usable; call NewMemoryLocker.
type MemoryLocker struct {
	mu    sync.Mutex
	held  map[string]memoryLock
	calls int
}

type memoryLock struct {
	token   string
	expires time.Time
}

var _ Locker = (*MemoryLocker)(nil)

// NewMemoryLocker returns an in-process Locker.
func NewMemoryLocker() *MemoryLocker {
	return &MemoryLocker{held: make(map[string]memoryLock)}
}

// Lock implements Locker.
func (l *MemoryLocker) Lock(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("consolidate: lock ttl must be positive, got %v", ttl)
	}
	token, err := token.New()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[key]; ok && now.Before(h.expires) {
		return nil, fmt.Errorf("%w (key %q)", ErrAccountLocked, key)
	}
	l.held[key] = memoryLock{token: token, expires: now.Add(ttl)}
	l.sweepLocked(now)
	return &memoryLease{l: l, key: key, token: token}, nil
}

// sweepLocked drops expired entries now and then so that a long-lived
// process does not keep one map entry per account it ever saw.
func (l *MemoryLocker) sweepLocked(now time.Time) {
	l.calls++
	if l.calls%1024 != 0 {
		return
	}
	for k, h := range l.held {
		if !now.Before(h.expires) {
			delete(l.held, k)
		}
	}
}

type memoryLease struct {
	l     *MemoryLocker
	key   string
	token string
}

func (m *memoryLease) Unlock(ctx context.Context) error {
	return m.l.update(m.key, m.token, 0)
}

func (m *memoryLease) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("consolidate: lock ttl must be positive, got %v", ttl)
	}
	return m.l.update(m.key, m.token, ttl)
}

// update extends (ttl > 0) or releases (ttl == 0) key if token still holds it.
func (l *MemoryLocker) update(key, token string, ttl time.Duration) error {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.held[key]
	if !ok || h.token != token || !now.Before(h.expires) {
		return ErrLeaseLost
	}
	if ttl == 0 {
		delete(l.held, key)
		return nil
	}
	h.expires = now.Add(ttl)
	l.held[key] = h
	return nil
}
