package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/redis"
)

// backends are the lock, cache and queue, and what closes them.
type backends struct {
	locker consolidate.Locker
	cache  consolidate.Cache
	queue  consolidate.Queue
	close  func()
}

// openBackends connects to Redis (or Dragonfly) when configured, and falls
// back to the in-process backends otherwise.
func openBackends(ctx context.Context, c config, log *slog.Logger) (*backends, error) {
	b := &backends{
		locker: consolidate.NewMemoryLocker(),
		cache:  consolidate.NewMemoryCache(0),
		queue:  consolidate.NewMemoryQueue(),
	}
	var clients []*goredis.Client
	b.close = func() {
		for _, cl := range clients {
			cl.Close()
		}
	}
	dial := func(url string) (*goredis.Client, error) {
		opt, err := goredis.ParseURL(url)
		if err != nil {
			// The parser's message may quote the URL, password and all.
			return nil, errors.New("a Redis URL is malformed: want redis://[user:password@]host:port[/db] or rediss://")
		}
		cl := goredis.NewClient(opt)
		clients = append(clients, cl)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := cl.Ping(pctx).Err(); err != nil {
			return cl, fmt.Errorf("redis at %s: %w", opt.Addr, err)
		}
		log.Info("connected to Redis", "addr", opt.Addr)
		return cl, nil
	}
	if c.redisURL != "" {
		cl, err := dial(c.redisURL)
		if err != nil {
			b.close()
			return nil, err
		}
		b.locker = redis.NewLocker(cl, nil)
		b.cache = redis.NewCache(cl, nil)
		b.queue = redis.NewQueue(cl, nil)
	}
	if len(c.redlockURLs) > 0 {
		nodes := make([]goredis.UniversalClient, 0, len(c.redlockURLs))
		for _, u := range c.redlockURLs {
			cl, err := dial(u)
			if cl == nil {
				b.close()
				return nil, err
			}
			if err != nil {
				// Redlock works on while a minority of nodes is down,
				// and the client reconnects; the quorum still counts
				// this node, as it must.
				log.Warn("Redlock node unreachable at start", "err", err)
			}
			nodes = append(nodes, cl)
		}
		b.locker = redis.NewRedlock(nodes, nil)
	}
	return b, nil
}
