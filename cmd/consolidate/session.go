package main

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/redis"
)

// session is what a command works with: the ledger, and a Service on it
// with the workers' queue when -redis reaches it and the chain when -rpc
// does.
type session struct {
	*ledger
	svc *consolidate.Service
	// queue is the workers' queue, nil without -redis: the CLI's own
	// in-process queue is then a stand-in that no worker reads.
	queue consolidate.QueueInspector
	// chain is nil without -rpc.
	chain *chain.Chain
	close func()
}

// needs says which backends a command requires beyond the ledger.
type needs struct {
	chain bool // fail without -rpc, a key and -chain-id
}

// open opens the ledger and builds a Service over it, and returns ctx
// bounded by -timeout; s.close releases both.
func (c *cli) open(ctx context.Context, n needs) (*session, context.Context, error) {
	ctx, cancel := c.deadline(ctx)
	s, err := c.openSession(ctx, n)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	closeAll := s.close
	s.close = func() { closeAll(); cancel() }
	return s, ctx, nil
}

func (c *cli) openSession(ctx context.Context, n needs) (*session, error) {
	if n.chain {
		if err := c.checkChainFlags(); err != nil {
			return nil, err
		}
	}
	l, err := c.openLedger(ctx, false)
	if err != nil {
		return nil, err
	}
	s := &session{ledger: l}
	var closers []func()
	s.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	closers = append(closers, l.close)
	fail := func(err error) (*session, error) {
		s.close()
		return nil, err
	}

	// The stand-in hides QueueInspector, so that Service.Overview does
	// not report its empty counts as the workers'.
	var q consolidate.Queue = struct{ consolidate.Queue }{consolidate.NewMemoryQueue()}
	if c.opts.redis != "" {
		rq, cl, err := c.dialRedis(ctx)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { cl.Close() })
		q, s.queue = rq, rq
	}

	var ch consolidate.Chain = noChain{}
	if c.opts.rpc != "" {
		cc, err := c.dialChain(ctx)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, cc.Close)
		ch, s.chain = cc, cc
	}

	svc, err := consolidate.New(l.store, ch, &consolidate.Config{
		Queue:     q,
		QueueName: c.opts.queue,
		Logger:    slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fail(err)
	}
	s.svc = svc
	return s, nil
}

func (c *cli) dialRedis(ctx context.Context) (*redis.Queue, *goredis.Client, error) {
	opt, err := goredis.ParseURL(c.opts.redis)
	if err != nil {
		// The parser's message may quote the URL, password and all.
		return nil, nil, usagef("-redis: want redis://[user:password@]host:port[/db] or rediss://")
	}
	cl := goredis.NewClient(opt)
	if err := cl.Ping(ctx).Err(); err != nil {
		cl.Close()
		return nil, nil, fmt.Errorf("redis at %s: %w", opt.Addr, err)
	}
	return redis.NewQueue(cl, &redis.QueueOptions{Prefix: c.opts.redisPrefix}), cl, nil
}

// deadline bounds a command by -timeout.
func (c *cli) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opts.timeout)
}
