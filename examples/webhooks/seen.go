package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// seenSet remembers the events a receiver has acknowledged with a 2xx, so
// that a re-published event (the relay publishes again when it crashed
// before recording the publish) or a redelivered one (a consumer crashed
// before its ack) is not sent to the receiver again.
type seenSet interface {
	Seen(ctx context.Context, id string) (bool, error)
	Mark(ctx context.Context, id string) error
}

// memorySeen is a seenSet for one process. Entries expire after ttl, so
// memory stays bounded by the events of one ttl.
type memorySeen struct {
	ttl   time.Duration
	mu    sync.Mutex
	at    map[string]time.Time
	marks int
}

func newMemorySeen(ttl time.Duration) *memorySeen {
	return &memorySeen{ttl: ttl, at: make(map[string]time.Time)}
}

func (m *memorySeen) Seen(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.at[id]
	return ok && time.Since(t) < m.ttl, nil
}

func (m *memorySeen) Mark(_ context.Context, id string) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at[id] = now
	if m.marks++; m.marks%1024 == 0 {
		for k, t := range m.at {
			if now.Sub(t) >= m.ttl {
				delete(m.at, k)
			}
		}
	}
	return nil
}

// redisSeen is a seenSet shared by every consumer of one receiver: one key
// per delivered event, expiring after ttl.
type redisSeen struct {
	client redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// newRedisSeen keys the set by receiver URL: events delivered to one
// receiver are still due to another the consumer is pointed at later.
func newRedisSeen(client redis.UniversalClient, receiver string, ttl time.Duration) *redisSeen {
	sum := sha256.Sum256([]byte(receiver))
	return &redisSeen{client: client, prefix: "consolidate:webhooks:delivered:" + hex.EncodeToString(sum[:8]) + ":", ttl: ttl}
}

func (r *redisSeen) Seen(ctx context.Context, id string) (bool, error) {
	n, err := r.client.Exists(ctx, r.prefix+id).Result()
	if err != nil {
		return false, fmt.Errorf("delivered set: %w", err)
	}
	return n == 1, nil
}

func (r *redisSeen) Mark(ctx context.Context, id string) error {
	if err := r.client.Set(ctx, r.prefix+id, "1", r.ttl).Err(); err != nil {
		return fmt.Errorf("delivered set: %w", err)
	}
	return nil
}
