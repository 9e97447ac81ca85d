package consolidate

import (
	"context"
	"errors"
	"sync"
)

// flights shares one store read per key among the Gets that miss the
// cache at the same time. Unlike golang.org/x/sync/singleflight, a caller whose ctx
// ends leaves at once while the read goes on for the others.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	tx   Transaction
	err  error
}

var errFlightAborted = errors.New("consolidate: shared read ended without a result")

// do runs read for key, or joins the run under way for it. The caller that
// starts a run performs it on its own goroutine, as a Get without a cache
// would; one that joins stops waiting when its ctx ends, and the run goes
// on for the others.
func (g *flights) do(ctx context.Context, key string, read func() (Transaction, error)) (Transaction, error) {
	g.mu.Lock()
	if f, ok := g.m[key]; ok {
		g.mu.Unlock()
		select {
		case <-f.done:
			return f.tx, f.err
		case <-ctx.Done():
			return Transaction{}, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{}), err: errFlightAborted}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	g.m[key] = f
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if g.m[key] == f {
			delete(g.m, key)
		}
		g.mu.Unlock()
		close(f.done)
	}()
	f.tx, f.err = read()
	return f.tx, f.err
}

// forget makes the next call for key start a run of its own, even while
// one is under way.
func (g *flights) forget(key string) {
	g.mu.Lock()
	delete(g.m, key)
	g.mu.Unlock()
}
