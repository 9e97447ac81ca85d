package consolidate_test

import (
	"context"
	"math/big"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// crash is the panic value of an injected crash: the process dies at that
// point, and everything held only in its memory is gone.
type crash string

// crasher fires the armed crash point once. A panic unwinds only its own
// goroutine, so while a point is armed the queue and the store's Parked
// hand out one task at a time, and a pass runs on its caller's goroutine.
type crasher struct{ armed string }

func (c *crasher) at(point string) {
	if c.armed == point {
		c.armed = ""
		panic(crash(point))
	}
}

// simReads are the Store's reads.
var simReads = []string{"Account", "Transaction", "Transactions", "Attempts", "Due", "Parked", "Events"}

var simCrashPoints = []string{
	"submit: before commit",
	"submit: after commit, before broadcast",
	"after broadcast, before enqueue",
	"before enqueue",
	"reconcile: after status check",
	"reconcile: before settle",
	"reconcile: after settle, before ack",
	"reconcile: after new attempt, before broadcast",
}

// simSignCrashPoints are the crash points around a signer that does I/O,
// armed only when the simulated wallet has one: a local key signs inside
// the store's commit, on a goroutine a panic would not unwind to the
// process's.
var simSignCrashPoints = []string{
	"sign: after reserve, before sign",
	"sign: after sign, before store",
}

type crashStore struct {
	consolidate.Store
	c *crasher
}

func (s crashStore) Submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	s.c.at("submit: before commit")
	tx, created, err := s.Store.Submit(ctx, p, sign)
	s.c.at("submit: after commit, before broadcast")
	return tx, created, err
}

func (s crashStore) Settle(ctx context.Context, id int64, set consolidate.Settlement) (consolidate.Transaction, error) {
	s.c.at("reconcile: before settle")
	tx, err := s.Store.Settle(ctx, id, set)
	s.c.at("reconcile: after settle, before ack")
	return tx, err
}

// Parked pages one transfer at a time while a crash is armed, so that the
// check of parked transfers runs on its caller's goroutine.
func (s crashStore) Parked(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	if s.c.armed != "" {
		limit = 1
	}
	return s.Store.Parked(ctx, t, after, limit)
}

func (s crashStore) AddAttempt(ctx context.Context, id int64, a consolidate.Attempt) error {
	err := s.Store.AddAttempt(ctx, id, a)
	s.c.at("reconcile: after new attempt, before broadcast")
	return err
}

// crashChain is one process's view of one wallet on the chain: its crash
// points, and the pause in which another process runs a pass (see
// sim.interleave).
type crashChain struct {
	*simChain
	s    *sim
	p    *simProc
	addr common.Address
}

func (ch crashChain) Sender() common.Address { return ch.addr }

func (ch crashChain) SignsOffline() bool { return ch.simChain.signsOffline() }

func (ch crashChain) Nonce(context.Context) (uint64, error) { return ch.simChain.nonce(ch.addr) }

func (ch crashChain) TokenBalance(context.Context, common.Address) (*big.Int, uint64, error) {
	return ch.simChain.tokenBalance(ch.addr)
}

func (ch crashChain) TokenInfo(context.Context, common.Address) (string, uint8, error) {
	return "SIM", 6, nil
}

func (ch crashChain) Sign(ctx context.Context, nonce uint64, t consolidate.Transfer, q consolidate.Quote) (consolidate.SignedTx, error) {
	ch.s.crash.at("sign: after reserve, before sign")
	if err := ch.signFault(ctx, ch.addr, nonce); err != nil {
		return consolidate.SignedTx{}, err
	}
	signed, err := ch.sign(ch.addr, nonce, t, q, false)
	ch.s.crash.at("sign: after sign, before store")
	return signed, err
}

func (ch crashChain) SignCancel(ctx context.Context, nonce uint64, q consolidate.Quote) (consolidate.SignedTx, error) {
	if err := ch.signFault(ctx, ch.addr, nonce); err != nil {
		return consolidate.SignedTx{}, err
	}
	return ch.sign(ch.addr, nonce, consolidate.Transfer{To: ch.addr, Amount: new(big.Int)}, q, true)
}

func (ch crashChain) Broadcast(ctx context.Context, raw []byte) error {
	err := ch.simChain.Broadcast(ctx, raw)
	ch.s.crash.at("after broadcast, before enqueue")
	return err
}

func (ch crashChain) Statuses(ctx context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	sts, err := ch.simChain.Statuses(ctx, hashes)
	ch.s.crash.at("reconcile: after status check")
	ch.s.faults.outage("statuses")
	if ch.s.pauseIn == ch.p {
		// The first look of a pass is taken on the pass's own goroutine,
		// so the other process runs in between deterministically.
		ch.s.pauseIn = nil
		ch.s.interleave(ctx, ch.p)
	}
	return sts, err
}

func (ch crashChain) FinalizedNonce(ctx context.Context) (uint64, error) {
	n, err := ch.simChain.finalizedNonce(ch.addr)
	ch.s.faults.outage("finalized nonce")
	return n, err
}

// queueServer is the queue both processes share, as a Redis server would
// be; a restart that loses the queue replaces what it holds.
type queueServer struct {
	consolidate.Queue
	lose bool // enqueues of reconcile tasks are lost, as in an outage
}

// simQueue is one process's client of the shared queue. Its claims are
// chosen by the seed rather than by the queue's clock-ordered heap, so
// that runs replay exactly, and it remembers what its process holds, to
// hand it back when the process dies (as lease expiry would).
type simQueue struct {
	*queueServer
	s *sim
	p *simProc
}

func (q *simQueue) Enqueue(ctx context.Context, msgs ...consolidate.Message) error {
	q.s.crash.at("before enqueue")
	if q.lose && msgs[0].Queue == "reconcile" {
		q.s.count("fault: enqueue lost")
		return nil
	}
	// Simulated time jumps past every delay between steps.
	for i := range msgs {
		msgs[i].Delay = 0
	}
	return q.Queue.Enqueue(ctx, msgs...)
}

func (q *simQueue) Claim(ctx context.Context, queue string, max int, lease time.Duration) ([]consolidate.Delivery, error) {
	ds, err := q.Queue.Claim(ctx, queue, 1<<20, lease)
	if err != nil || len(ds) == 0 {
		return ds, err
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	q.s.rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	if q.s.crash.armed != "" {
		max = 1
	}
	k := min(max, len(ds))
	for _, d := range ds[k:] {
		if err := q.Queue.Retry(ctx, d, 0); err != nil {
			q.s.t.Fatalf("retry: %v", err)
		}
	}
	q.p.mu.Lock()
	defer q.p.mu.Unlock()
	for _, d := range ds[:k] {
		q.p.held[d.ID] = d
	}
	return ds[:k], nil
}

func (q *simQueue) release(d consolidate.Delivery) {
	q.p.mu.Lock()
	delete(q.p.held, d.ID)
	q.p.mu.Unlock()
}

func (q *simQueue) Ack(ctx context.Context, d consolidate.Delivery) error {
	q.release(d)
	return q.Queue.Ack(ctx, d)
}

func (q *simQueue) Retry(ctx context.Context, d consolidate.Delivery, _ time.Duration) error {
	q.release(d)
	return q.Queue.Retry(ctx, d, 0)
}

func (q *simQueue) Bury(ctx context.Context, d consolidate.Delivery, reason string) error {
	q.release(d)
	q.s.count("task dead-lettered")
	return q.Queue.Bury(ctx, d, reason)
}

// simProc is one process: a Service on the shared store, queue and chain
// wallet, and the deliveries it holds.
type simProc struct {
	n    int
	svc  *consolidate.Service
	mu   sync.Mutex
	held map[string]consolidate.Delivery
}

// expire hands back what p holds, as the queue does when leases run out.
func (p *simProc) expire(q consolidate.Queue) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.held))
	for id := range p.held {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := q.Retry(context.Background(), p.held[id], 0); err != nil && err != consolidate.ErrLeaseLost {
			return err
		}
	}
	p.held = map[string]consolidate.Delivery{}
	return nil
}
