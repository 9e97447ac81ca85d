package consolidate_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// The simulation drives the real Service (SQLite store, in-process lock and
// queue) against simChain, a model ledger that injects faults, and checks
// the store against a reference model after every step. Every run is a
// function of its seed alone: a failing seed replays exactly with
//
//	go test -run 'TestSimulation$' -sim.seed=N .
var (
	simSeeds = flag.Int("sim.seeds", 0, "number of seeds the simulation runs (default 200; 20 with -race or -short; env CONSOLIDATE_SIM_SEEDS)")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed (replay)")
	simSteps = flag.Int("sim.steps", 100, "steps per seed")
	simFirst = flag.Uint64("sim.first", 1, "first seed of the range")
)

// Fault and crash counters, summed over every seed of one go test run and
// printed at the end (the figures in RELIABILITY.md).
var simStats = struct {
	sync.Mutex
	seeds, steps int
	counts       map[string]int
}{counts: map[string]int{}}

func (s *sim) count(kind string) { s.stats[kind]++ }

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

func TestSimulation(t *testing.T) {
	t.Parallel()
	seeds := []uint64{}
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		n := *simSeeds
		if n == 0 {
			// Sized for CI on two cores: the race detector slows each
			// seed about tenfold.
			n = 200
			if raceEnabled() {
				n = 20
			}
			if testing.Short() {
				n = 20
			}
			if v, err := strconv.Atoi(os.Getenv("CONSOLIDATE_SIM_SEEDS")); err == nil && v > 0 {
				n = v
			}
		}
		for i := range n {
			seeds = append(seeds, *simFirst+uint64(i))
		}
	}
	t.Run("seeds", func(t *testing.T) {
		for _, seed := range seeds {
			t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
				t.Parallel()
				s := newSim(t, seed, *simSteps)
				defer func() {
					if t.Failed() {
						t.Logf("simulation failed; replay with: go test -run 'TestSimulation$' -sim.seed=%d -sim.steps=%d -v .", seed, *simSteps)
						t.Logf("last steps:\n%s", s.trail())
					}
				}()
				s.run()
			})
		}
	})
	simStats.Lock()
	defer simStats.Unlock()
	kinds := make([]string, 0, len(simStats.counts))
	for k := range simStats.counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	out := fmt.Sprintf("simulation: %d seeds × %d steps = %d steps\n", simStats.seeds, *simSteps, simStats.steps)
	for _, k := range kinds {
		out += fmt.Sprintf("  %-28s %d\n", k, simStats.counts[k])
	}
	t.Log(out)
}

// ---- the model chain ----

// simTx is one signed transaction the model chain knows.
type simTx struct {
	hash    common.Hash
	nonce   uint64
	to      common.Address
	amount  *big.Int
	feeCap  *big.Int
	cancel  bool
	foreign bool
	reject  bool // the node refuses these bytes for good
}

type simBlock struct {
	tx      *simTx // nil for an empty block
	success bool
}

// simChain is a deterministic Ethereum wallet: a mempool, a canonical chain
// of one-transaction blocks, finality conf blocks deep, and faults the
// simulation switches on and off. Randomness comes from the simulation's
// generator, and the Service calls it from one goroutine at a time, so a
// seed replays exactly.
type simChain struct {
	mu       sync.Mutex
	rng      *rand.Rand
	known    map[common.Hash]*simTx
	pool     map[common.Hash]*simTx
	blocks   []simBlock
	conf     int
	final    int // blocks [0, final) are final; never lowered
	baseFee  int64
	rpcFail  float64 // probability that a call fails transiently
	rejectP  float64 // probability that a new transfer attempt is unacceptable
	revertP  float64
	foreignN uint64
	stats    map[string]int
}

var simSender = common.HexToAddress("0x5e4d000000000000000000000000000000005e4d")

var errSimRPC = errors.New("sim: connection reset by peer")

func (c *simChain) fail(call string) error {
	if c.rpcFail > 0 && c.rng.Float64() < c.rpcFail {
		c.stats["fault: rpc error ("+call+")"]++
		return errSimRPC
	}
	return nil
}

func (c *simChain) Sender() common.Address { return simSender }

// chainNonce is the number of nonces consumed on the canonical chain.
func (c *simChain) chainNonce() uint64 {
	n := uint64(0)
	for _, b := range c.blocks {
		if b.tx != nil {
			n++
		}
	}
	return n
}

func (c *simChain) finalHeight() int { return c.final }

func (c *simChain) Nonce(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("nonce"); err != nil {
		return 0, err
	}
	n := c.chainNonce()
	for {
		found := false
		for _, tx := range c.pool {
			if tx.nonce == n {
				found = true
				break
			}
		}
		if !found {
			return n, nil
		}
		n++
	}
}

func (c *simChain) Quote(context.Context, common.Address, *big.Int) (consolidate.Quote, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("quote"); err != nil {
		return consolidate.Quote{}, err
	}
	return consolidate.Quote{GasLimit: 21000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2 * c.baseFee)}, nil
}

func (c *simChain) sign(nonce uint64, to common.Address, amount *big.Int, q consolidate.Quote, cancel bool) (consolidate.SignedTx, error) {
	raw := binary.BigEndian.AppendUint64(nil, nonce)
	raw = append(raw, to.Bytes()...)
	raw = append(raw, amount.FillBytes(make([]byte, 32))...)
	raw = binary.BigEndian.AppendUint64(raw, q.GasLimit)
	raw = append(raw, q.GasTipCap.FillBytes(make([]byte, 32))...)
	raw = append(raw, q.GasFeeCap.FillBytes(make([]byte, 32))...)
	h := common.Hash(sha256.Sum256(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.known[h]; !ok {
		tx := &simTx{hash: h, nonce: nonce, to: to, amount: new(big.Int).Set(amount), feeCap: new(big.Int).Set(q.GasFeeCap), cancel: cancel}
		if !cancel && c.rejectP > 0 && c.rng.Float64() < c.rejectP {
			tx.reject = true
			c.stats["fault: rejected by node"]++
		}
		c.known[h] = tx
	}
	return consolidate.SignedTx{Hash: h, Raw: raw}, nil
}

func (c *simChain) Sign(nonce uint64, to common.Address, amount *big.Int, q consolidate.Quote) (consolidate.SignedTx, error) {
	return c.sign(nonce, to, amount, q, false)
}

func (c *simChain) SignCancel(nonce uint64, q consolidate.Quote) (consolidate.SignedTx, error) {
	return c.sign(nonce, simSender, new(big.Int), q, true)
}

func (c *simChain) Bump(_ context.Context, prev consolidate.Quote) (consolidate.Quote, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bump := func(x *big.Int, floor int64) *big.Int {
		v := new(big.Int).Mul(x, big.NewInt(11))
		v.Div(v, big.NewInt(10))
		v.Add(v, big.NewInt(1))
		if f := big.NewInt(floor); v.Cmp(f) < 0 {
			v = f
		}
		return v
	}
	return consolidate.Quote{GasLimit: prev.GasLimit, GasTipCap: bump(prev.GasTipCap, 1), GasFeeCap: bump(prev.GasFeeCap, 2*c.baseFee)}, nil
}

func (c *simChain) landed(h common.Hash) (int, bool) {
	for i, b := range c.blocks {
		if b.tx != nil && b.tx.hash == h {
			return i, true
		}
	}
	return 0, false
}

func (c *simChain) Broadcast(_ context.Context, raw []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("broadcast"); err != nil {
		return err
	}
	tx, ok := c.known[common.Hash(sha256.Sum256(raw))]
	if !ok {
		return fmt.Errorf("%w: unknown bytes", consolidate.ErrRejected)
	}
	if _, ok := c.landed(tx.hash); ok {
		return nil
	}
	if tx.nonce < c.chainNonce() {
		return fmt.Errorf("%w: nonce %d", consolidate.ErrNonceTooLow, tx.nonce)
	}
	if tx.reject {
		return fmt.Errorf("%w: intrinsic gas too low", consolidate.ErrRejected)
	}
	if tx.feeCap.Cmp(big.NewInt(c.baseFee)) < 0 {
		c.stats["fault: underpriced"]++
		return fmt.Errorf("%w: fee cap below base fee", consolidate.ErrUnderpriced)
	}
	c.pool[tx.hash] = tx
	return nil
}

func (c *simChain) Statuses(_ context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("statuses"); err != nil {
		return nil, err
	}
	out := make([]consolidate.ChainStatus, len(hashes))
	for i, h := range hashes {
		if bi, ok := c.landed(h); ok {
			b := c.blocks[bi]
			num := uint64(bi + 1)
			st := consolidate.ChainStatus{
				State:         consolidate.TxMined,
				Success:       b.success,
				BlockNumber:   num,
				BlockHash:     simBlockHash(num, h),
				Fee:           new(big.Int).Mul(big.NewInt(21000), b.tx.feeCap),
				Confirmations: uint64(len(c.blocks)) - num + 1,
			}
			if bi < c.finalHeight() {
				st.State = consolidate.TxFinal
			}
			out[i] = st
		} else if _, ok := c.pool[h]; ok {
			out[i].State = consolidate.TxPending
		}
	}
	return out, nil
}

func simBlockHash(num uint64, tx common.Hash) common.Hash {
	return sha256.Sum256(binary.BigEndian.AppendUint64(tx.Bytes(), num))
}

func (c *simChain) FinalizedNonce(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail("finalized nonce"); err != nil {
		return 0, err
	}
	n := uint64(0)
	for i := 0; i < c.finalHeight() && i < len(c.blocks); i++ {
		if c.blocks[i].tx != nil {
			n++
		}
	}
	return n, nil
}

// mine appends a block holding one pool transaction with the next nonce,
// if any (or, with foreign set, a transaction of someone else with the
// wallet's key that takes the nonce).
func (c *simChain) mine(foreign bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.chainNonce()
	var cands []*simTx
	for _, tx := range c.pool {
		if tx.nonce == n {
			cands = append(cands, tx)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].hash.Cmp(cands[j].hash) < 0 })
	var b simBlock
	switch {
	case foreign:
		c.foreignN++
		b = simBlock{tx: &simTx{hash: sha256.Sum256(binary.BigEndian.AppendUint64([]byte("foreign"), c.foreignN)), nonce: n, foreign: true, feeCap: big.NewInt(1)}, success: true}
		c.stats["fault: foreign tx takes nonce"]++
	case len(cands) > 0:
		tx := cands[c.rng.IntN(len(cands))]
		b = simBlock{tx: tx, success: true}
		if !tx.cancel && c.rng.Float64() < c.revertP {
			b.success = false
			c.stats["fault: reverted"]++
		}
	}
	if b.tx != nil {
		for h, tx := range c.pool {
			if tx.nonce == b.tx.nonce {
				delete(c.pool, h)
			}
		}
	}
	c.blocks = append(c.blocks, b)
	c.final = max(c.final, len(c.blocks)-c.conf+1)
}

// reorg drops up to depth blocks that are not final; their transactions
// go back to the pool or are lost.
func (c *simChain) reorg(depth int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range depth {
		if len(c.blocks) <= c.final {
			return
		}
		b := c.blocks[len(c.blocks)-1]
		c.blocks = c.blocks[:len(c.blocks)-1]
		c.stats["fault: reorged block"]++
		// Someone else's transaction stays in their node's pool: it comes
		// back, or its nonce would stay open for good.
		if b.tx != nil && (b.tx.foreign || c.rng.IntN(2) == 0) {
			c.pool[b.tx.hash] = b.tx
		}
	}
}

// drop loses one pool transaction, as a node restart or eviction would.
func (c *simChain) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	hs := make([]common.Hash, 0, len(c.pool))
	for h, tx := range c.pool {
		if !tx.foreign {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Cmp(hs[j]) < 0 })
	delete(c.pool, hs[c.rng.IntN(len(hs))])
	c.stats["fault: dropped from mempool"]++
}

// finalLanding reports the transaction that consumed nonce in a final
// block, if any.
func (c *simChain) finalLanding(nonce uint64) (simBlock, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < c.finalHeight() && i < len(c.blocks); i++ {
		if b := c.blocks[i]; b.tx != nil && b.tx.nonce == nonce {
			return b, true
		}
	}
	return simBlock{}, false
}

// ---- crash points ----

// crash is the panic value of an injected crash: the process dies at that
// point, and everything held only in its memory is gone.
type crash string

type crasher struct{ armed string }

func (c *crasher) at(point string) {
	if c.armed == point {
		c.armed = ""
		panic(crash(point))
	}
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

func (s crashStore) AddAttempt(ctx context.Context, id int64, a consolidate.Attempt) error {
	err := s.Store.AddAttempt(ctx, id, a)
	s.c.at("reconcile: after new attempt, before broadcast")
	return err
}

type crashChain struct {
	*simChain
	c *crasher
}

func (ch crashChain) Broadcast(ctx context.Context, raw []byte) error {
	err := ch.simChain.Broadcast(ctx, raw)
	ch.c.at("after broadcast, before enqueue")
	return err
}

func (ch crashChain) Statuses(ctx context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	sts, err := ch.simChain.Statuses(ctx, hashes)
	ch.c.at("reconcile: after status check")
	return sts, err
}

// simQueue loses enqueues while lose is set, as a queue outage or a crash
// between commit and enqueue would.
type simQueue struct {
	consolidate.Queue
	c    *crasher
	lose bool
	s    *sim
}

func (q *simQueue) Enqueue(ctx context.Context, msgs ...consolidate.Message) error {
	q.c.at("before enqueue")
	if q.lose {
		q.s.count("fault: enqueue lost")
		return nil
	}
	return q.Queue.Enqueue(ctx, msgs...)
}

// ---- the simulation ----

type simAccount struct {
	id      int64
	credits *big.Int
	refs    map[string]*big.Int
}

type simTransfer struct {
	id      int64
	account int64
	to      common.Address
	amount  *big.Int
	nonce   uint64
	status  consolidate.Status // last status seen
	outcome consolidate.Outcome
}

type sim struct {
	t        *testing.T
	seed     uint64
	steps    int
	rng      *rand.Rand
	dir      string
	store    *sqlite.Store
	chain    *simChain
	crash    *crasher
	queue    *simQueue
	svc      *consolidate.Service
	fee      *big.Int
	accounts []*simAccount
	txs      map[int64]*simTransfer
	keys     map[string]int64 // "account/key" → transaction ID (0 for a rejection)
	inflight []consolidate.Delivery
	log      []string
	stats    map[string]int
}

func newSim(t *testing.T, seed uint64, steps int) *sim {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &sim{
		t: t, seed: seed, steps: steps, rng: rng, dir: t.TempDir(),
		crash: &crasher{}, fee: big.NewInt(7),
		txs: map[int64]*simTransfer{}, keys: map[string]int64{}, stats: map[string]int{},
	}
	s.chain = &simChain{
		rng: rng, known: map[common.Hash]*simTx{}, pool: map[common.Hash]*simTx{},
		conf: 1 + rng.IntN(3), baseFee: 10, revertP: 0.1, stats: s.stats,
	}
	store, err := sqlite.Open(filepath.Join(s.dir, "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s.store = store
	s.restart(true)
	return s
}

func (s *sim) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf(format, args...))
}

func (s *sim) trail() string {
	from := max(0, len(s.log)-40)
	out := ""
	for _, l := range s.log[from:] {
		out += "  " + l + "\n"
	}
	return out
}

// restart replaces the Service, as a new process on the same store would
// be. With keepQueue the queue survives (Redis); otherwise it was in memory
// and is gone. Deliveries the dead process held come back, as when their
// lease expires.
func (s *sim) restart(loseQueue bool) {
	s.crash.armed = ""
	var q consolidate.Queue
	if s.queue == nil || loseQueue {
		q = consolidate.NewMemoryQueue()
		s.inflight = nil
	} else {
		q = s.queue.Queue
		for _, d := range s.inflight {
			if err := q.Retry(context.Background(), d, 0); err != nil {
				s.t.Fatalf("return lease: %v", err)
			}
		}
		s.inflight = nil
	}
	s.queue = &simQueue{Queue: q, c: s.crash, s: s}
	svc, err := consolidate.New(crashStore{Store: s.store, c: s.crash}, crashChain{simChain: s.chain, c: s.crash}, &consolidate.Config{
		Queue:      s.queue,
		Locker:     consolidate.NewMemoryLocker(),
		Logger:     quietLogger(),
		Fee:        s.fee,
		StuckAfter: 1000 * time.Hour,
		SweepGrace: time.Nanosecond,
		// A void still takes two checks that see the nonce consumed.
		VoidDelay: time.Nanosecond,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.svc = svc
	s.sweep()
}

// sweep runs the sweeper, as Run does at start, retrying transient errors.
func (s *sim) sweep() {
	for range 10 {
		if _, err := s.svc.Sweep(context.Background()); err == nil {
			return
		}
	}
	s.t.Fatalf("sweep keeps failing")
}

// guard runs f, turning an injected crash into a restart.
func (s *sim) guard(f func()) (crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			p, ok := r.(crash)
			if !ok {
				panic(r)
			}
			s.count("crash: " + string(p))
			s.logf("  crashed at %q", p)
			s.crash.armed = ""
			crashed = true
			s.restart(s.rng.IntN(2) == 0)
		}
	}()
	f()
	return false
}

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

func (s *sim) run() {
	ctx := context.Background()
	for range 2 + s.rng.IntN(3) {
		s.createAccount(ctx)
	}
	for i := range s.steps {
		s.chain.mu.Lock()
		s.chain.rpcFail = 0
		if s.rng.IntN(5) == 0 {
			s.chain.rpcFail = 0.3
		}
		s.chain.rejectP = 0.05
		s.chain.mu.Unlock()
		s.queue.lose = s.rng.IntN(10) == 0
		if s.rng.IntN(8) == 0 {
			s.crash.armed = simCrashPoints[s.rng.IntN(len(simCrashPoints))]
		}
		s.step(ctx, i)
		s.crash.armed = ""
		s.check(ctx)
		if s.t.Failed() {
			return
		}
	}
	s.settleAll(ctx)
	simStats.Lock()
	simStats.seeds++
	simStats.steps += s.steps
	for k, v := range s.stats {
		simStats.counts[k] += v
	}
	simStats.counts["transfers accepted"] += len(s.txs)
	simStats.Unlock()
}

func (s *sim) step(ctx context.Context, i int) {
	switch r := s.rng.IntN(100); {
	case r < 4:
		s.logf("%d: create account", i)
		s.createAccount(ctx)
	case r < 14:
		s.credit(ctx, i)
	case r < 40:
		s.submit(ctx, i, false)
	case r < 46:
		s.submit(ctx, i, true)
	case r < 66:
		s.logf("%d: worker", i)
		s.guard(func() { s.work(ctx) })
	case r < 72:
		s.reconcileDup(ctx, i)
	case r < 84:
		s.logf("%d: mine", i)
		s.chain.mine(s.rng.IntN(40) == 0)
	case r < 87:
		d := 1 + s.rng.IntN(3)
		s.logf("%d: reorg %d", i, d)
		s.chain.reorg(d)
	case r < 90:
		s.logf("%d: drop", i)
		s.chain.drop()
	case r < 92:
		s.chain.mu.Lock()
		s.chain.baseFee = s.chain.baseFee * (2 + int64(s.rng.IntN(3)))
		s.logf("%d: base fee %d", i, s.chain.baseFee)
		s.chain.mu.Unlock()
		s.count("fault: fee spike")
	case r < 95:
		s.logf("%d: restart", i)
		s.count("crash: restart between steps")
		s.restart(s.rng.IntN(2) == 0)
	case r < 97:
		s.logf("%d: sweep", i)
		s.guard(s.sweep)
	default:
		s.getAll(ctx, i)
	}
}

func (s *sim) createAccount(ctx context.Context) {
	a, err := s.svc.CreateAccount(ctx)
	if err != nil {
		s.t.Fatalf("CreateAccount: %v", err)
	}
	s.accounts = append(s.accounts, &simAccount{id: a.ID, credits: new(big.Int), refs: map[string]*big.Int{}})
}

func (s *sim) pickAccount() *simAccount { return s.accounts[s.rng.IntN(len(s.accounts))] }

func (s *sim) credit(ctx context.Context, i int) {
	a := s.pickAccount()
	amount := big.NewInt(int64(50 + s.rng.IntN(2000)))
	ref := "dep-" + strconv.Itoa(s.rng.IntN(20))
	prev, seen := a.refs[ref]
	if seen && s.rng.IntN(2) == 0 {
		amount = new(big.Int).Set(prev) // a duplicate delivery of the same deposit
		s.count("duplicate credit")
	}
	s.logf("%d: credit account %d %s ref %s", i, a.id, amount, ref)
	_, err := s.svc.Credit(ctx, a.id, amount, ref)
	switch {
	case !seen:
		if err != nil {
			s.t.Fatalf("Credit: %v", err)
		}
		a.refs[ref] = amount
		a.credits.Add(a.credits, amount)
	case prev.Cmp(amount) == 0:
		if err != nil {
			s.t.Fatalf("repeated Credit: %v", err)
		}
	default:
		if !errors.Is(err, consolidate.ErrIdempotencyConflict) {
			s.t.Fatalf("Credit reusing %s with another amount: %v, want ErrIdempotencyConflict", ref, err)
		}
	}
}

var simRecipients = []common.Address{
	common.HexToAddress("0x1111111111111111111111111111111111111111"),
	common.HexToAddress("0x2222222222222222222222222222222222222222"),
}

func (s *sim) submit(ctx context.Context, i int, invalid bool) {
	a := s.pickAccount()
	req := consolidate.SubmitRequest{
		AccountID: a.id,
		To:        simRecipients[s.rng.IntN(len(simRecipients))],
		Amount:    big.NewInt(int64(1 + s.rng.IntN(600))),
	}
	if s.rng.IntN(2) == 0 {
		req.IdempotencyKey = "k" + strconv.Itoa(s.rng.IntN(6))
	}
	var want error
	if invalid {
		switch s.rng.IntN(6) {
		case 0:
			req.To, want = common.Address{}, consolidate.ErrInvalidAddress
		case 1:
			req.To, want = simSender, consolidate.ErrSelfTransfer
		case 2:
			req.Amount, want = big.NewInt(-int64(s.rng.IntN(5))), consolidate.ErrInvalidAmount
		case 3:
			req.Amount, want = new(big.Int).Lsh(big.NewInt(1), 256), consolidate.ErrInvalidAmount
		case 4:
			req.AccountID, want = int64(1000+s.rng.IntN(5)), consolidate.ErrNotFound
			if s.rng.IntN(2) == 0 {
				req.AccountID = -req.AccountID
			}
		case 5:
			req.IdempotencyKey, want = "bad key\x00", consolidate.ErrInvalidReference
		}
		s.count("invalid submit")
	}
	s.logf("%d: submit account %d amount %s key %q invalid=%v", i, req.AccountID, req.Amount, req.IdempotencyKey, invalid)
	var (
		tx  consolidate.Transaction
		err error
	)
	crashed := s.guard(func() { tx, err = s.svc.Submit(ctx, req) })
	if invalid {
		// An unknown account is found out by the store, after the wallet
		// nonce is read, which may fail transiently first.
		transient := want == consolidate.ErrNotFound && errors.Is(err, errSimRPC)
		if !crashed && !transient && !errors.Is(err, want) {
			s.t.Fatalf("invalid submit: %v, want %v", err, want)
		}
		return
	}
	keyID := ""
	if req.IdempotencyKey != "" {
		keyID = strconv.FormatInt(a.id, 10) + "/" + req.IdempotencyKey
	}
	if crashed {
		// The process died somewhere inside Submit; whether the transfer
		// was stored is for the store to say (adopt picks it up).
		s.adopt(ctx)
		return
	}
	if err != nil {
		if errors.Is(err, errSimRPC) || errors.Is(err, consolidate.ErrInsufficientFunds) || errors.Is(err, consolidate.ErrIdempotencyConflict) {
			s.logf("  -> %v", err)
			if errors.Is(err, consolidate.ErrInsufficientFunds) {
				s.count("rejected: insufficient funds")
			}
			if errors.Is(err, consolidate.ErrIdempotencyConflict) {
				s.count("rejected: idempotency conflict")
			}
			return
		}
		s.t.Fatalf("Submit: %v", err)
	}
	s.logf("  -> tx %d nonce %d", tx.ID, tx.Nonce)
	if keyID != "" {
		if prev, ok := s.keys[keyID]; ok && prev != tx.ID && prev != 0 {
			s.t.Fatalf("key %s returned tx %d, first returned %d", keyID, tx.ID, prev)
		}
		s.keys[keyID] = tx.ID
	}
	if old, ok := s.txs[tx.ID]; ok {
		s.count("idempotent replay")
		if old.amount.Cmp(req.Amount) != 0 || old.to != req.To {
			s.t.Fatalf("replayed key returned tx %d for another request", tx.ID)
		}
		return
	}
	s.track(tx)
}

func (s *sim) track(tx consolidate.Transaction) {
	s.txs[tx.ID] = &simTransfer{id: tx.ID, account: tx.AccountID, to: tx.To, amount: tx.Amount, nonce: tx.Nonce, status: tx.Status}
}

// adopt learns of transfers the store holds that the model has not seen,
// after a crash inside Submit.
func (s *sim) adopt(ctx context.Context) {
	for _, a := range s.accounts {
		page, err := s.store.Transactions(ctx, a.id, 0, 1000)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, tx := range page {
			if _, ok := s.txs[tx.ID]; !ok {
				s.logf("  stored before the crash: tx %d", tx.ID)
				s.track(tx)
			}
		}
	}
}

// work is one worker iteration, as Run's loop does it: claim a task,
// reconcile, ack if final, retry otherwise.
func (s *sim) work(ctx context.Context) {
	// Claim every due task and keep one, chosen by the seed rather than by
	// the queue's clock-ordered heap, so that runs replay exactly.
	ds, err := s.queue.Claim(ctx, "reconcile", 1000, time.Hour)
	if err != nil || len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	k := s.rng.IntN(len(ds))
	for j, other := range ds {
		if j != k {
			if err := s.queue.Retry(ctx, other, 0); err != nil {
				s.t.Fatalf("retry: %v", err)
			}
		}
	}
	d := ds[k]
	s.inflight = append(s.inflight, d)
	id, err := strconv.ParseInt(string(d.Body), 10, 64)
	if err != nil {
		s.t.Fatalf("task body %q", d.Body)
	}
	tx, err := s.svc.Reconcile(ctx, id)
	s.logf("  reconcile %d -> %s %v", id, tx.Status, err)
	if err == nil && tx.Status.Final() {
		err = s.queue.Ack(ctx, d)
	} else {
		err = s.queue.Retry(ctx, d, 0)
	}
	if err != nil {
		s.t.Fatalf("ack/retry: %v", err)
	}
	s.inflight = s.inflight[:len(s.inflight)-1]
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
	s.logf("%d: reconcile %d ×%d", i, id, n)
	if n > 1 {
		s.count("duplicate delivery")
	}
	for range n {
		if s.guard(func() {
			tx, err := s.svc.Reconcile(ctx, id)
			s.logf("  -> %s %v", tx.Status, err)
		}) {
			return
		}
	}
}

func (s *sim) ids() []int64 {
	ids := make([]int64, 0, len(s.txs))
	for id := range s.txs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (s *sim) getAll(ctx context.Context, i int) {
	s.logf("%d: get all", i)
	for _, id := range s.ids() {
		tx, err := s.svc.Get(ctx, id)
		if err != nil {
			s.t.Fatalf("Get(%d): %v", id, err)
		}
		if tx.Nonce != s.txs[id].nonce {
			s.t.Fatalf("Get(%d): nonce changed from %d to %d", id, s.txs[id].nonce, tx.Nonce)
		}
	}
}

// check compares the store with the model: each final status must be what
// the chain decided, final statuses never change, balances follow from the
// outcomes, money is conserved and the store's own invariants hold.
func (s *sim) check(ctx context.Context) {
	t := s.t
	t.Helper()
	storetest.CheckInvariants(t, s.store, s.accountIDs()...)
	nonces := map[uint64]int64{}
	held := map[int64]*big.Int{}
	spent := map[int64]*big.Int{}
	for _, a := range s.accounts {
		held[a.id], spent[a.id] = new(big.Int), new(big.Int)
	}
	for _, id := range s.ids() {
		m := s.txs[id]
		tx, err := s.store.Transaction(ctx, id)
		if err != nil {
			t.Fatalf("Transaction(%d): %v", id, err)
		}
		if other, dup := nonces[tx.Nonce]; dup {
			t.Fatalf("transactions %d and %d share nonce %d", other, id, tx.Nonce)
		}
		nonces[tx.Nonce] = id
		if m.status.Final() && tx.Status != m.status {
			t.Fatalf("transaction %d went from %s to %s", id, m.status, tx.Status)
		}
		cost := new(big.Int).Add(m.amount, s.fee)
		if !tx.Status.Final() {
			held[m.account].Add(held[m.account], cost)
			m.status = tx.Status
			continue
		}
		if !m.status.Final() {
			m.outcome = s.outcome(tx)
			s.count("settled: " + m.outcome.String())
		}
		m.status = tx.Status
		if m.outcome.Status() != tx.Status {
			t.Fatalf("transaction %d is %s; the chain says %s", id, tx.Status, m.outcome)
		}
		switch m.outcome {
		case consolidate.OutcomeSuccess:
			spent[m.account].Add(spent[m.account], cost)
		case consolidate.OutcomeReverted:
			spent[m.account].Add(spent[m.account], s.fee)
		}
	}
	totalCredits, totalCurrent, totalSpent := new(big.Int), new(big.Int), new(big.Int)
	for _, a := range s.accounts {
		got, err := s.store.Account(ctx, a.id)
		if err != nil {
			t.Fatal(err)
		}
		current := new(big.Int).Sub(a.credits, spent[a.id])
		available := new(big.Int).Sub(current, held[a.id])
		if got.Current.Cmp(current) != 0 || got.Available.Cmp(available) != 0 {
			t.Fatalf("account %d: available %s current %s; the model says %s and %s", a.id, got.Available, got.Current, available, current)
		}
		if got.Available.Sign() < 0 {
			t.Fatalf("account %d overdrawn: %s", a.id, got.Available)
		}
		totalCredits.Add(totalCredits, a.credits)
		totalCurrent.Add(totalCurrent, got.Current)
		totalSpent.Add(totalSpent, spent[a.id])
	}
	if new(big.Int).Add(totalCurrent, totalSpent).Cmp(totalCredits) != 0 {
		t.Fatalf("money not conserved: credits %s, current %s + settled outflows %s", totalCredits, totalCurrent, totalSpent)
	}
}

// outcome is what the chain decided for a transfer the store calls final;
// the test fails if the chain has decided nothing yet.
func (s *sim) outcome(tx consolidate.Transaction) consolidate.Outcome {
	b, ok := s.chain.finalLanding(tx.Nonce)
	if !ok {
		s.t.Fatalf("transaction %d is %s, but its nonce %d is not consumed in a final block", tx.ID, tx.Status, tx.Nonce)
	}
	m := s.txs[tx.ID]
	switch {
	case b.tx.foreign || b.tx.cancel:
		if !b.tx.foreign && tx.Hash != b.tx.hash {
			s.t.Fatalf("transaction %d: hash %s, but the cancel %s landed", tx.ID, tx.Hash, b.tx.hash)
		}
		return consolidate.OutcomeDropped
	case b.tx.to != m.to || b.tx.amount.Cmp(m.amount) != 0:
		s.t.Fatalf("transaction %d: nonce %d consumed by a transfer of another amount or recipient", tx.ID, tx.Nonce)
	case tx.Hash != b.tx.hash:
		s.t.Fatalf("transaction %d: hash %s, but attempt %s landed", tx.ID, tx.Hash, b.tx.hash)
	case !b.success:
		return consolidate.OutcomeReverted
	}
	return consolidate.OutcomeSuccess
}

func (s *sim) accountIDs() []int64 {
	ids := make([]int64, len(s.accounts))
	for i, a := range s.accounts {
		ids[i] = a.id
	}
	return ids
}

// settleAll ends the faults and runs the system until every accepted
// transfer is final: none may be stuck or lost.
func (s *sim) settleAll(ctx context.Context) {
	s.chain.mu.Lock()
	s.chain.rpcFail, s.chain.rejectP = 0, 0
	s.chain.mu.Unlock()
	s.queue.lose = false
	s.restart(s.rng.IntN(2) == 0)
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
		for range 2 * pending {
			s.work(ctx)
		}
		s.chain.mine(false)
		s.check(ctx)
		if s.t.Failed() {
			return
		}
	}
	for _, id := range s.ids() {
		if m := s.txs[id]; !m.status.Final() {
			st, _ := s.queue.Stats(ctx, "reconcile")
			s.t.Fatalf("transaction %d (nonce %d) still %s after the faults ended; queue %+v", id, m.nonce, m.status, st)
		}
	}
	evs, err := s.store.Events(ctx, 1<<20)
	if err != nil {
		s.t.Fatal(err)
	}
	final := map[int64]int{}
	for _, ev := range evs {
		if ev.Type == consolidate.EventSuccessful || ev.Type == consolidate.EventFailed {
			final[ev.TransactionID]++
		}
	}
	for id, n := range final {
		if n != 1 {
			s.t.Fatalf("transaction %d has %d final events", id, n)
		}
	}
	if len(final) != len(s.txs) {
		s.t.Fatalf("%d final events for %d transfers", len(final), len(s.txs))
	}
}

// TestSimulationConcurrentReconcile delivers every transfer's task to
// several workers at once, across two processes on the same store, once
// the chain has decided: each transfer must settle exactly once. Unlike
// TestSimulation it is not deterministic; it is there for the race
// detector and for the store's guards.
func TestSimulationConcurrentReconcile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newSim(t, 42, 0)
	s.chain.revertP = 0.3
	for range 3 {
		s.createAccount(ctx)
	}
	for _, a := range s.accounts {
		if _, err := s.svc.Credit(ctx, a.id, big.NewInt(100_000), "initial"); err != nil {
			t.Fatal(err)
		}
		a.credits.Add(a.credits, big.NewInt(100_000))
	}
	for i := range 12 {
		a := s.accounts[i%len(s.accounts)]
		tx, err := s.svc.Submit(ctx, consolidate.SubmitRequest{AccountID: a.id, To: simRecipients[i%2], Amount: big.NewInt(int64(100 + i))})
		if err != nil {
			t.Fatal(err)
		}
		s.track(tx)
	}
	for range 12 + s.chain.conf {
		s.chain.mine(false)
	}
	other := s.svc
	s.restart(false)
	var wg sync.WaitGroup
	for w := range 8 {
		svc := []*consolidate.Service{other, s.svc}[w%2]
		wg.Go(func() {
			for _, id := range s.ids() {
				if _, err := svc.Reconcile(ctx, id); err != nil {
					t.Errorf("Reconcile(%d): %v", id, err)
				}
			}
		})
	}
	wg.Wait()
	s.check(ctx)
	for _, id := range s.ids() {
		if m := s.txs[id]; !m.status.Final() {
			t.Fatalf("transaction %d still %s", id, m.status)
		}
	}
	evs, err := s.store.Events(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	final := map[int64]int{}
	for _, ev := range evs {
		if ev.Type == consolidate.EventSuccessful || ev.Type == consolidate.EventFailed {
			final[ev.TransactionID]++
		}
	}
	for _, id := range s.ids() {
		if final[id] != 1 {
			t.Fatalf("transaction %d has %d final events, want 1", id, final[id])
		}
	}
}
