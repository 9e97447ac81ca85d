package main

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// miner mines a block every interval and, while faults are on, replaces
// the head block now and then. Both happen on one goroutine, so no block
// is mined between reading the head and forking below it.
type miner struct {
	sim    *chaintest.Chain
	faults atomic.Bool
	reorgs atomic.Int64
}

// run mines until ctx is done. Only the head block is replaced, and only
// once another block has been mined on top of the previous reorg, so no
// reorg reaches a block 2 deep: with -confirmations 2 or more, the
// transfers it moves were not final yet, and the library must find them
// again in their new block. The simulated node forks only with an empty
// mempool, so a reorg also drops every transaction waiting there, which
// the workers must broadcast again.
func (m *miner) run(ctx context.Context, block, reorgEvery time.Duration, rng *rand.Rand) {
	t := time.NewTicker(block)
	defer t.Stop()
	next := time.Now().Add(jittered(reorgEvery, rng))
	since := 0 // blocks mined since the last reorg
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if reorgEvery > 0 && m.faults.Load() && since >= 2 && time.Now().After(next) {
			next = time.Now().Add(jittered(reorgEvery, rng))
			if head, err := m.sim.Client().HeaderByNumber(ctx, nil); err == nil {
				m.sim.Rollback()
				if m.sim.Fork(head.ParentHash) == nil {
					m.reorgs.Add(1)
					since = 0
				}
			}
		}
		m.sim.Commit()
		since++
	}
}

// jittered is d spread uniformly over [d/2, 3d/2).
func jittered(d time.Duration, rng *rand.Rand) time.Duration {
	return time.Duration(float64(d) * (0.5 + rng.Float64()))
}
