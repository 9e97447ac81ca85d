package consolidate_test

import (
	"context"
	"encoding/json"
	"time"

	"github.com/go-consolidate/consolidate"
)

// The workers of the simulation are the library's own: a worker step is
// one Service.Pass (Run's claim, batched reconcile, settle, refill, park,
// ack or retry), the sweeper is Service.Sweep and the event relay
// Service.Relay, each called in the step order the seed draws, in one of
// two processes sharing the store, the queue and the chain wallet.

// restart replaces p's Service, as a new process on the same store would
// be. With loseQueue the shared queue was in memory and is gone, for both
// processes; otherwise what p held comes back, as when its leases expire.
func (s *sim) restart(p *simProc, loseQueue bool) {
	s.crash.armed = ""
	if loseQueue {
		s.queue.Queue = consolidate.NewMemoryQueue()
		for _, o := range s.procs {
			if o != nil {
				o.held = map[string]consolidate.Delivery{}
			}
		}
	} else if err := p.expire(s.queue.Queue); err != nil {
		s.t.Fatalf("return leases: %v", err)
	}
	p.held = map[string]consolidate.Delivery{}
	var more []consolidate.Chain
	for _, w := range s.chain.wallets[1:] {
		more = append(more, crashChain{simChain: s.chain, s: s, p: p, addr: w})
	}
	svc, err := consolidate.New(crashStore{Store: s.faults, c: s.crash}, crashChain{simChain: s.chain, s: s, p: p, addr: s.chain.wallets[0]}, &consolidate.Config{
		Wallets:    more,
		Queue:      &simQueue{queueServer: s.queue, s: s, p: p},
		Locker:     s.locker,
		Logger:     quietLogger(),
		Fee:        s.fee,
		Tokens:     []consolidate.Token{{Address: simToken, Fee: s.tokenFee}, {Address: simTaxed, Fee: s.tokenFee}},
		StuckAfter: 1000 * time.Hour,
		SweepGrace: time.Nanosecond,
		// A void still takes two checks that see the nonce consumed.
		VoidDelay: time.Nanosecond,
		// Every check is due again by the next step, also for the sweeper.
		Backoff:             consolidate.Backoff{Base: time.Nanosecond, Max: time.Nanosecond, Checks: s.budget},
		ParkedCheckInterval: time.Nanosecond,
		ReconcileBatch:      s.batch,
		EventQueues:         []string{"events"},
		// A hung signer costs each step this much wall-clock time.
		SignTimeout: 2 * time.Millisecond,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	p.svc = svc
	s.sweep(p)
}

// sweep runs p's sweeper, as Run does at start and then periodically. A
// sweep the store fails is left to the next one.
func (s *sim) sweep(p *simProc) {
	n, err := p.svc.Sweep(context.Background())
	s.logf("  sweep in process %d: %d %v", p.n, n, err)
}

// guard runs f in p, turning an injected crash into a restart of p.
func (s *sim) guard(p *simProc, f func()) (crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(crash)
			if !ok {
				panic(r)
			}
			s.count("crash: " + string(c))
			s.logf("  process %d crashed at %q", p.n, c)
			s.crash.armed, s.pauseIn = "", nil
			crashed = true
			s.restart(p, s.rng.IntN(2) == 0)
		}
	}()
	f()
	return false
}

// pass is one worker pass in a process. Now and then the process pauses
// after its first look at the chain while the other runs a pass of its
// own (see interleave).
func (s *sim) pass(ctx context.Context, i int) {
	p := s.proc()
	if s.crash.armed == "" && s.rng.IntN(4) == 0 {
		s.pauseIn = p
	}
	s.logf("%d: passes in process %d (pause %v)", i, p.n, s.pauseIn == p)
	// Run's worker goes on with the next pass at once while it finds work.
	for range 1 + s.rng.IntN(3) {
		var n int
		crashed := s.guard(p, func() { n = p.svc.Pass(ctx) })
		s.faults.outage("")
		if crashed {
			return
		}
		s.logf("  claimed %d", n)
		// Run's watch over parked transfers wakes when a settlement
		// proves their nonces consumed.
		s.checkParked(ctx, p, true)
		if n == 0 {
			return
		}
	}
}

// checkParked runs one round of p's watch over parked transfers: those a
// settlement woke, or with woken unset those due.
func (s *sim) checkParked(ctx context.Context, p *simProc, woken bool) {
	s.guard(p, func() {
		n, err := p.svc.CheckParked(ctx, woken)
		if n > 0 || err != nil {
			s.logf("  parked checked in process %d (woken %v): %d %v", p.n, woken, n, err)
		}
		for range n {
			s.count("parked transfer checked")
		}
	})
}

// interleave runs, inside a pass of p paused after its first look at the
// chain, a pass of the other process: p's leases have run out (a slow
// worker), so the other may take the same tasks, and a block may be mined
// meanwhile. p then goes on with what it saw before.
func (s *sim) interleave(ctx context.Context, p *simProc) {
	other := s.procs[1-p.n]
	if err := p.expire(s.queue.Queue); err != nil {
		s.t.Fatalf("expire leases: %v", err)
	}
	if s.rng.IntN(2) == 0 {
		s.chain.mine(false)
	}
	n := other.svc.Pass(ctx)
	s.logf("  process %d paused; process %d claimed %d", p.n, other.n, n)
	s.count("interleave: a pass inside another process's pass")
}

// reconcileDup reconciles a transfer directly, once or twice in a row, as
// a duplicate delivery would.
func (s *sim) reconcileDup(ctx context.Context, i int) {
	ids := s.ids()
	if len(ids) == 0 {
		return
	}
	id := ids[s.rng.IntN(len(ids))]
	n := 1 + s.rng.IntN(2)
	p := s.proc()
	s.logf("%d: reconcile %d ×%d in process %d", i, id, n, p.n)
	if n > 1 {
		s.count("duplicate delivery")
	}
	for range n {
		if s.guard(p, func() {
			tx, err := p.svc.Reconcile(ctx, id)
			s.logf("  -> %s %v", tx.Status, err)
		}) {
			return
		}
	}
}

// relay publishes outbox events from a process, and the simulation, as
// their consumer, takes them off the queue at once.
func (s *sim) relay(ctx context.Context, i int) {
	p := s.proc()
	s.guard(p, func() {
		n, err := p.svc.Relay(ctx)
		s.logf("%d: relay in process %d: %d %v", i, p.n, n, err)
	})
	s.consume(ctx)
}

// consume takes every published event. An event published again (the
// relay failed or died between publishing and marking it sent) must be
// the same event.
func (s *sim) consume(ctx context.Context) {
	for {
		ds, err := s.queue.Queue.Claim(ctx, "events", 1000, time.Hour)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, d := range ds {
			var m consolidate.EventMessage
			if err := json.Unmarshal(d.Body, &m); err != nil {
				s.t.Fatalf("event %s: %v", d.ID, err)
			}
			if prev, ok := s.events[m.ID]; ok {
				if prev != m {
					s.t.Fatalf("event %s published as %+v, then as %+v", m.ID, prev, m)
				}
				s.count("event published again")
			}
			s.events[m.ID] = m
			if err := s.queue.Queue.Ack(ctx, d); err != nil {
				s.t.Fatal(err)
			}
		}
		if len(ds) < 1000 {
			return
		}
	}
}

// settleAll ends the faults and runs the system until every accepted
// transfer is final: none may be stuck or lost.
func (s *sim) settleAll(ctx context.Context) {
	s.chain.mu.Lock()
	s.chain.rpcFail, s.chain.rejectP, s.chain.lag, s.chain.finLag = 0, 0, 0, 0
	s.chain.signFail, s.chain.signHang, s.chain.signLies = 0, 0, 0
	s.chain.mu.Unlock()
	s.faults.set(storeFaults{})
	s.queue.lose = false
	s.restart(s.proc(), s.rng.IntN(2) == 0)
	for round := 0; round < 500; round++ {
		pending := 0
		for _, m := range s.txs {
			if !m.status.Final() {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		s.count("drain: rounds")
		for claimed := 0; claimed < 2*pending; {
			n := s.proc().svc.Pass(ctx)
			if n == 0 {
				break
			}
			claimed += n
		}
		s.sweep(s.proc())
		s.checkParked(ctx, s.proc(), false)
		if _, err := s.proc().svc.Relay(ctx); err != nil {
			s.t.Fatalf("relay: %v", err)
		}
		s.consume(ctx)
		s.chain.mine(false)
		s.check(ctx)
		if s.t.Failed() {
			return
		}
	}
	for _, id := range s.ids() {
		if m := s.txs[id]; !m.status.Final() {
			var st consolidate.QueueStats
			if qi, ok := s.queue.Queue.(interface {
				Stats(context.Context, string) (consolidate.QueueStats, error)
			}); ok {
				st, _ = qi.Stats(ctx, "reconcile")
			}
			s.t.Fatalf("transaction %d (nonce %d) still %s after the faults ended; queue %+v", id, m.nonce, m.status, st)
		}
	}
	s.checkEvents(ctx)
}
