package consolidate_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// The simulation drives two real Services (one SQLite store behind a
// fault-injecting wrapper, one lock, one in-process queue) against simChain,
// a model ledger that injects faults, and checks the store against a
// reference model after every step. Every run is a
// function of its seed alone: a failing seed replays exactly with
//
//	go test -run 'TestSimulation$' -sim.seed=N .
var (
	simSeeds = flag.Int("sim.seeds", 0, "number of seeds the simulation runs (default 50; 20 with -race or -short; env CONSOLIDATE_SIM_SEEDS)")
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

func (s *sim) count(kind string) { s.stats.add(kind) }

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
			// Sized for a quick go test on two cores; CI runs 400 more
			// with -sim.seeds. The race detector slows each seed about
			// tenfold.
			n = 50
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
	// Faults counted per call ("class (method)") are summed per class too.
	classes := map[string]int{}
	for k, v := range simStats.counts {
		if i := strings.Index(k, " ("); i > 0 && strings.HasPrefix(k, "fault: store ") {
			classes[k[:i]+" (all)"] += v
		}
	}
	for k, v := range classes {
		kinds = append(kinds, k)
		simStats.counts[k] = v
	}
	sort.Strings(kinds)
	out := fmt.Sprintf("simulation: %d seeds × %d steps = %d steps\n", simStats.seeds, *simSteps, simStats.steps)
	for _, k := range kinds {
		out += fmt.Sprintf("  %-28s %d\n", k, simStats.counts[k])
	}
	t.Log(out)
}

type simAccount struct {
	id      int64
	token   common.Address // zero for ether
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
	store    *sqlite.Store // what the model reads, without faults
	faults   *faultStore   // what the Services use
	chain    *simChain
	crash    *crasher
	queue    *queueServer
	locker   consolidate.Locker
	procs    [2]*simProc
	pauseIn  *simProc // the process whose next pass lets the other run a pass in it
	batch    int      // Config.ReconcileBatch
	budget   int      // Config.Backoff.Checks
	foreignP float64  // how often a mined block holds a foreign transaction taking the wallet's next nonce
	fee      *big.Int // of an ether transfer
	tokenFee *big.Int // of a token transfer
	accounts []*simAccount
	txs      map[int64]*simTransfer
	keys     map[string]int64                    // "account/key" → transaction ID (0 for a rejection)
	events   map[string]consolidate.EventMessage // published, by event ID
	log      []string
	stats    *simCounts
}

func newSim(t *testing.T, seed uint64, steps int) *sim {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &sim{
		t: t, seed: seed, steps: steps, rng: rng, dir: t.TempDir(),
		crash: &crasher{}, fee: big.NewInt(7), tokenFee: big.NewInt(3), locker: consolidate.NewMemoryLocker(),
		queue: &queueServer{Queue: consolidate.NewMemoryQueue()}, batch: []int{1, 2, 4, 8, 64}[rng.IntN(5)], budget: []int{4, 8, 32}[rng.IntN(3)],
		txs: map[int64]*simTransfer{}, keys: map[string]int64{}, events: map[string]consolidate.EventMessage{},
		stats: &simCounts{m: map[string]int{}}, foreignP: 1.0 / 40,
	}
	if rng.IntN(4) == 0 {
		// Another service sends from the same wallet now and then.
		s.foreignP = 1.0 / 4
	}
	dice := newSimDice(seed)
	s.chain = &simChain{
		rng: rng, dice: dice, known: map[common.Hash]*simTx{}, pool: map[common.Hash]*simTx{},
		conf: 1 + rng.IntN(3), baseFee: 10, revertP: 0.1, stats: s.stats,
		// Odd seeds sign through a signer that does I/O, and one seed in
		// three sends from three hot wallets.
		remote:  seed%2 == 1,
		wallets: []common.Address{simSender},
	}
	if seed%3 == 0 {
		s.chain.wallets = append(s.chain.wallets, simSender2, simSender3)
	}
	store, err := sqlite.Open(filepath.Join(s.dir, "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s.store = store
	s.faults = &faultStore{Store: store, dice: dice, stats: s.stats}
	for n := range s.procs {
		s.procs[n] = &simProc{n: n}
		s.restart(s.procs[n], false)
	}
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
		s.chain.signFail, s.chain.signHang, s.chain.signLies = 0, 0, 0
		if s.chain.remote && s.rng.IntN(4) == 0 {
			s.chain.signFail, s.chain.signHang, s.chain.signLies = 0.3, 0.1, 0.1
		}
		s.chain.lag, s.chain.finLag = 0, 0
		if s.rng.IntN(5) == 0 {
			s.chain.lag, s.chain.finLag = 1+s.rng.IntN(s.chain.conf+2), s.rng.IntN(3)
		}
		s.chain.mu.Unlock()
		s.faults.set(storeFaults{})
		switch s.rng.IntN(12) {
		case 0, 1:
			s.faults.set(storeFaults{read: 0.25, write: 0.1, unknown: 0.1})
		case 2:
			s.faults.set(storeFaults{slow: simReads[s.rng.IntN(len(simReads))]})
		case 3:
			s.faults.set(storeFaults{outageFrom: []string{"statuses", "finalized nonce"}[s.rng.IntN(2)]})
		}
		s.queue.lose = s.rng.IntN(10) == 0
		if s.rng.IntN(8) == 0 {
			points := simCrashPoints
			if s.chain.remote {
				points = append(points[:len(points):len(points)], simSignCrashPoints...)
			}
			s.crash.armed = points[s.rng.IntN(len(points))]
		}
		s.step(ctx, i)
		s.crash.armed, s.pauseIn = "", nil
		s.check(ctx)
		if s.t.Failed() {
			return
		}
	}
	s.settleAll(ctx)
	simStats.Lock()
	simStats.seeds++
	simStats.steps += s.steps
	for k, v := range s.stats.m {
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
	case r < 64:
		s.pass(ctx, i)
	case r < 68:
		s.reconcileDup(ctx, i)
	case r < 84:
		s.logf("%d: mine", i)
		s.chain.mine(s.rng.Float64() < s.foreignP)
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
		p := s.proc()
		s.logf("%d: restart process %d", i, p.n)
		s.count("crash: restart between steps")
		s.restart(p, s.rng.IntN(2) == 0)
	case r < 97:
		p := s.proc()
		s.logf("%d: sweep in process %d", i, p.n)
		s.guard(p, func() { s.sweep(p) })
	case r < 98:
		s.relay(ctx, i)
	case r < 99:
		p := s.proc()
		s.logf("%d: check parked transfers in process %d", i, p.n)
		s.checkParked(ctx, p, false)
	default:
		s.getAll(ctx, i)
	}
}

// proc picks the process a step runs in.
func (s *sim) proc() *simProc { return s.procs[s.rng.IntN(len(s.procs))] }

// retry repeats a client's call while the store faults, as a client whose
// request failed would: the call is idempotent, so a repeat after a write
// that landed changes nothing.
func (s *sim) retry(call func() error) error {
	for range 20 {
		if err := call(); !errors.Is(err, errSimStore) {
			return err
		}
		s.count("client retry after a store fault")
	}
	s.t.Fatalf("the store keeps failing")
	return nil
}

// createAccount opens an account in ether, or in one of the tokens.
func (s *sim) createAccount(ctx context.Context) {
	var a consolidate.Account
	token := []common.Address{{}, {}, simToken, simTaxed}[s.rng.IntN(4)]
	err := s.retry(func() (err error) {
		if token == (common.Address{}) {
			a, err = s.proc().svc.CreateAccount(ctx)
		} else {
			a, err = s.proc().svc.CreateTokenAccount(ctx, token, "")
		}
		return err
	})
	if err != nil {
		s.t.Fatalf("CreateAccount: %v", err)
	}
	if a.Token != token {
		s.t.Fatalf("account %d holds %s, want %s", a.ID, a.Token, token)
	}
	s.accounts = append(s.accounts, &simAccount{id: a.ID, token: token, credits: new(big.Int), refs: map[string]*big.Int{}})
}

// feeOf is what a transfer from account id costs it.
func (s *sim) feeOf(id int64) *big.Int {
	for _, a := range s.accounts {
		if a.id == id && a.token != (common.Address{}) {
			return s.tokenFee
		}
	}
	return s.fee
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
	err := s.retry(func() error { _, err := s.proc().svc.Credit(ctx, a.id, amount, ref); return err })
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
	p := s.proc()
	crashed := s.guard(p, func() { tx, err = p.svc.Submit(ctx, req) })
	if invalid {
		// An unknown account is found out by the store, after the wallet
		// nonce is read, which may fail transiently first.
		transient := want == consolidate.ErrNotFound && (errors.Is(err, errSimRPC) || errors.Is(err, errSimStore))
		if !crashed && !transient && !errors.Is(err, want) {
			s.t.Fatalf("invalid submit: %v, want %v", err, want)
		}
		return
	}
	keyID := ""
	if req.IdempotencyKey != "" {
		keyID = strconv.FormatInt(a.id, 10) + "/" + req.IdempotencyKey
	}
	if crashed || errors.Is(err, errSimStore) {
		// The process died somewhere inside Submit, or the store failed,
		// perhaps after its commit: whether the transfer was stored is for
		// the store to say (adopt picks it up).
		s.logf("  -> crashed=%v %v", crashed, err)
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
	s.logf("  -> tx %d nonce %d of %s", tx.ID, tx.Nonce, tx.From)
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
	if len(s.chain.wallets) > 1 {
		s.count(fmt.Sprintf("wallets: transfers of wallet %d", slices.Index(s.chain.wallets, tx.From)+1))
	}
	if reserved := tx.Hash == (common.Hash{}); s.chain.remote && reserved {
		s.count("signer: Submit returned a reserved transfer")
	}
}

func (s *sim) track(tx consolidate.Transaction) {
	s.txs[tx.ID] = &simTransfer{id: tx.ID, account: tx.AccountID, to: tx.To, amount: tx.Amount, nonce: tx.Nonce, status: tx.Status}
}

// adopt learns of transfers the store holds that the model has not seen,
// after a crash inside Submit or a commit whose reply was lost.
func (s *sim) adopt(ctx context.Context) {
	for _, a := range s.accounts {
		page, err := s.store.Transactions(ctx, a.id, 0, 1000)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, tx := range page {
			if _, ok := s.txs[tx.ID]; !ok {
				s.logf("  stored all the same: tx %d", tx.ID)
				s.track(tx)
			}
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
		tx, err := s.proc().svc.Get(ctx, id)
		if errors.Is(err, errSimStore) {
			continue
		}
		if err != nil {
			s.t.Fatalf("Get(%d): %v", id, err)
		}
		if tx.Nonce != s.txs[id].nonce {
			s.t.Fatalf("Get(%d): nonce changed from %d to %d", id, s.txs[id].nonce, tx.Nonce)
		}
	}
}

func TestSimulationConcurrentReconcile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newSim(t, 42, 0)
	s.chain.revertP = 0.3
	for range 3 {
		s.createAccount(ctx)
	}
	for _, a := range s.accounts {
		if _, err := s.procs[0].svc.Credit(ctx, a.id, big.NewInt(100_000), "initial"); err != nil {
			t.Fatal(err)
		}
		a.credits.Add(a.credits, big.NewInt(100_000))
	}
	for i := range 12 {
		a := s.accounts[i%len(s.accounts)]
		tx, err := s.procs[1].svc.Submit(ctx, consolidate.SubmitRequest{AccountID: a.id, To: simRecipients[i%2], Amount: big.NewInt(int64(100 + i))})
		if err != nil {
			t.Fatal(err)
		}
		s.track(tx)
	}
	for range 12 + s.chain.conf {
		s.chain.mine(false)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		svc := s.procs[w%2].svc
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
