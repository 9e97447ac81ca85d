package consolidate_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// countingChain counts the Statuses and FinalizedNonce calls that reach
// the chain, and fails Statuses while fail is set, or when asked about
// poison.
type countingChain struct {
	consolidate.Chain
	statuses, finalized atomic.Int64
	fail                atomic.Bool
	poison              atomic.Pointer[common.Hash]

	mu     sync.Mutex
	hashes []int // hashes asked for, per Statuses call
}

var errNodeDown = errors.New("node unreachable")

func (c *countingChain) Statuses(ctx context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	c.statuses.Add(1)
	c.mu.Lock()
	c.hashes = append(c.hashes, len(hashes))
	c.mu.Unlock()
	if c.fail.Load() {
		return nil, errNodeDown
	}
	if p := c.poison.Load(); p != nil && slices.Contains(hashes, *p) {
		return nil, fmt.Errorf("transaction %s: node reports it mined but has no canonical receipt", *p)
	}
	return c.Chain.Statuses(ctx, hashes)
}

func (c *countingChain) FinalizedNonce(ctx context.Context) (uint64, error) {
	c.finalized.Add(1)
	return c.Chain.FinalizedNonce(ctx)
}

// reset zeroes the counters.
func (c *countingChain) reset() {
	c.statuses.Store(0)
	c.finalized.Store(0)
	c.mu.Lock()
	c.hashes = nil
	c.mu.Unlock()
}

// newCountingEnv is an env with cfg whose chain counts its calls and, under
// that, loses broadcasts when told to.
func newCountingEnv(t *testing.T, cfg consolidate.Config) (*countingChain, *flakyChain, *env) {
	cc := &countingChain{}
	fc := &flakyChain{}
	e := newEnv(t, &envOptions{cfg: cfg, wrapChain: func(c consolidate.Chain) consolidate.Chain {
		fc.Chain = c
		cc.Chain = fc
		return cc
	}})
	return cc, fc, e
}

// waitState waits until the chain reports state for every hash, past the
// node's indexing lag.
func (e *env) waitState(state consolidate.TxState, hashes ...common.Hash) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, h := range hashes {
		for {
			st, err := e.status(h)
			if err == nil && st.State == state {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("transaction %s is %v (%v), want %v", h, st.State, err, state)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// pass runs one worker pass and checks how many tasks it claimed.
func (e *env) pass(want int) {
	e.t.Helper()
	if n := e.svc.Pass(e.t.Context()); n != want {
		e.t.Fatalf("pass claimed %d tasks, want %d", n, want)
	}
}

func (e *env) stored(id int64) consolidate.Transaction {
	e.t.Helper()
	tx, err := e.store.Transaction(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func (e *env) queueStats() consolidate.QueueStats {
	e.t.Helper()
	s, err := queueStats(e.t.Context(), e.queue, "reconcile")
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// finalTransfers submits n transfers of 10^15 wei from an account
// credited with 1 ETH, mines them, waits until the chain calls them final
// and zeroes cc's counters. It returns the account and the transfers' IDs.
func (e *env) finalTransfers(cc *countingChain, n int) (int64, []int64) {
	e.t.Helper()
	acct := e.funded(wei(1e18))
	var hashes []common.Hash
	var ids []int64
	for range n {
		tx := e.submit(acct.ID, alice, wei(1e15))
		hashes, ids = append(hashes, tx.Hash), append(ids, tx.ID)
	}
	e.sim.Commit()
	e.waitState(consolidate.TxFinal, hashes...)
	cc.reset()
	return acct.ID, ids
}

func TestBatchOfTasksMakesOneStatusesCall(t *testing.T) {
	t.Parallel()
	cc, _, e := newCountingEnv(t, consolidate.Config{})
	const n = 20
	acct, ids := e.finalTransfers(cc, n)

	e.pass(n)
	if got := cc.statuses.Load(); got != 1 {
		t.Fatalf("%d Statuses calls for a batch of %d, want 1", got, n)
	}
	if cc.hashes[0] != n {
		t.Fatalf("the Statuses call asked for %d hashes, want %d", cc.hashes[0], n)
	}
	if got := cc.finalized.Load(); got != 0 {
		t.Fatalf("%d FinalizedNonce calls with every transfer decided, want 0", got)
	}
	for _, id := range ids {
		if tx := e.stored(id); tx.Status != consolidate.StatusSuccessful {
			t.Fatalf("transaction %d is %s", id, tx.Status)
		}
		if n := e.settleEvents(id); n != 1 {
			t.Fatalf("transaction %d settled %d times", id, n)
		}
	}
	if s := e.queueStats(); s != (consolidate.QueueStats{}) {
		t.Fatalf("queue after the pass: %+v, want empty", s)
	}
	left := sub(wei(1e18), new(big.Int).Mul(sum(wei(1e15), fee), big.NewInt(n)))
	e.balances(acct, left, left)
	e.invariants(acct)
}

func TestBatchWithMixedOutcomes(t *testing.T) {
	t.Parallel()
	cc, flaky, e := newCountingEnv(t, consolidate.Config{})
	reverter := e.reverter()
	credit := wei(1e18)
	acct := e.funded(credit)
	ok := e.submit(acct.ID, alice, wei(1e15))
	reverted := e.submit(acct.ID, reverter, wei(2e15))
	e.sim.Commit()
	waiting := e.submit(acct.ID, bob, wei(3e15)) // in the node's pool, not mined
	flaky.drop.Store(1)
	lost := e.submit(acct.ID, bob, wei(4e15)) // the node never got it
	e.waitState(consolidate.TxFinal, ok.Hash, reverted.Hash)
	e.waitState(consolidate.TxPending, waiting.Hash)
	e.waitState(consolidate.TxUnknown, lost.Hash)
	cc.reset()

	e.pass(4)
	if got, fin := cc.statuses.Load(), cc.finalized.Load(); got != 1 || fin != 1 {
		t.Fatalf("%d Statuses and %d FinalizedNonce calls, want 1 and 1", got, fin)
	}
	if tx := e.stored(ok.ID); tx.Status != consolidate.StatusSuccessful {
		t.Fatalf("successful transfer is %s", tx.Status)
	}
	if tx := e.stored(reverted.ID); tx.Status != consolidate.StatusFailed || tx.FeeBlockchain == nil || tx.FeeBlockchain.Sign() <= 0 {
		t.Fatalf("reverted transfer: %+v", tx)
	}
	for _, id := range []int64{waiting.ID, lost.ID} {
		if tx := e.stored(id); tx.Status != consolidate.StatusPending || tx.Checks != 1 {
			t.Fatalf("transaction %d is %s after %d checks, want PENDING after 1", id, tx.Status, tx.Checks)
		}
	}
	// The lost transfer was broadcast again, with the same bytes.
	e.waitState(consolidate.TxPending, lost.Hash)
	if s := e.queueStats(); s.Ready+s.Delayed != 2 || s.InFlight != 0 || s.Dead != 0 {
		t.Fatalf("queue after the pass: %+v, want the 2 open transfers waiting", s)
	}

	e.sim.Commit()
	e.waitState(consolidate.TxFinal, waiting.Hash, lost.Hash)
	time.Sleep(e.cfg.Backoff.Max)
	e.pass(2)
	for _, id := range []int64{waiting.ID, lost.ID} {
		if tx := e.stored(id); tx.Status != consolidate.StatusSuccessful {
			t.Fatalf("transaction %d is %s", id, tx.Status)
		}
	}
	left := sub(credit, sum(wei(1e15), wei(3e15), wei(4e15), fee, fee, fee, fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

func TestBatchChainErrorRetriesEveryTask(t *testing.T) {
	t.Parallel()
	cc, _, e := newCountingEnv(t, consolidate.Config{})
	const n = 5
	acct, ids := e.finalTransfers(cc, n)
	cc.fail.Store(true)

	e.pass(n)
	// The batch call, then one call per task to find out which one fails.
	if got, fin := cc.statuses.Load(), cc.finalized.Load(); got != 1+n || fin != 0 {
		t.Fatalf("%d Statuses and %d FinalizedNonce calls, want %d and 0", got, fin, 1+n)
	}
	for _, id := range ids {
		if tx := e.stored(id); tx.Status != consolidate.StatusPending || tx.Checks != 1 {
			t.Fatalf("transaction %d is %s after %d checks, want PENDING after 1", id, tx.Status, tx.Checks)
		}
	}
	if s := e.queueStats(); s.Ready+s.Delayed != n || s.InFlight != 0 || s.Dead != 0 {
		t.Fatalf("queue after the failed pass: %+v, want all %d waiting", s, n)
	}

	cc.fail.Store(false)
	time.Sleep(e.cfg.Backoff.Max)
	e.pass(n)
	for _, id := range ids {
		if tx := e.stored(id); tx.Status != consolidate.StatusSuccessful {
			t.Fatalf("transaction %d is %s", id, tx.Status)
		}
	}
	e.invariants(acct)
}

func TestBatchOneFailingHashHoldsBackOnlyItsTask(t *testing.T) {
	t.Parallel()
	cc, _, e := newCountingEnv(t, consolidate.Config{})
	const n = 5
	acct, ids := e.finalTransfers(cc, n)
	bad := e.stored(ids[2])
	cc.poison.Store(&bad.Hash)

	e.pass(n)
	for _, id := range ids {
		tx := e.stored(id)
		switch {
		case id == bad.ID && (tx.Status != consolidate.StatusPending || tx.Checks != 1):
			t.Fatalf("transfer with the failing hash is %s after %d checks, want PENDING after 1", tx.Status, tx.Checks)
		case id != bad.ID && tx.Status != consolidate.StatusSuccessful:
			t.Fatalf("transaction %d is %s, want SUCCESSFUL despite another's failing hash", id, tx.Status)
		}
	}
	if s := e.queueStats(); s.Ready+s.Delayed != 1 || s.InFlight != 0 || s.Dead != 0 {
		t.Fatalf("queue after the pass: %+v, want only the failing task waiting", s)
	}

	cc.poison.Store(nil)
	time.Sleep(e.cfg.Backoff.Max)
	e.pass(1)
	if tx := e.stored(bad.ID); tx.Status != consolidate.StatusSuccessful {
		t.Fatalf("transaction %d is %s once the node answers", bad.ID, tx.Status)
	}
	e.invariants(acct)
}

// outageStore fails every read of a transaction while down is set.
type outageStore struct {
	consolidate.Store
	down atomic.Bool
}

func (s *outageStore) Transaction(ctx context.Context, id int64) (consolidate.Transaction, error) {
	if s.down.Load() {
		return consolidate.Transaction{}, errors.New("database is locked")
	}
	return s.Store.Transaction(ctx, id)
}

func TestBatchStoreOutageSpendsNoChecks(t *testing.T) {
	t.Parallel()
	st := &outageStore{}
	cc := &countingChain{}
	e := newEnv(t, &envOptions{
		cfg:       consolidate.Config{Backoff: consolidate.Backoff{Base: time.Millisecond, Max: 50 * time.Millisecond, Checks: 2}},
		wrapChain: func(c consolidate.Chain) consolidate.Chain { cc.Chain = c; return cc },
		wrapStore: func(s consolidate.Store) consolidate.Store { st.Store = s; return st },
	})
	acct := e.funded(wei(1e18))
	var ids []int64
	for range 3 {
		ids = append(ids, e.submit(acct.ID, alice, wei(1e15)).ID)
	}
	st.down.Store(true)
	for range 3 { // more passes than the budget of checks
		e.pass(3)
		time.Sleep(5 * time.Millisecond)
	}
	if got := cc.statuses.Load(); got != 0 {
		t.Fatalf("%d Statuses calls without a readable store, want 0", got)
	}
	for _, id := range ids {
		if tx := e.stored(id); tx.Checks != 0 {
			t.Fatalf("transaction %d spent %d checks on the store's outage", id, tx.Checks)
		}
	}
	if s := e.queueStats(); s.Dead != 0 || s.Ready+s.Delayed != 3 {
		t.Fatalf("queue after the outage: %+v, want all 3 waiting", s)
	}
	st.down.Store(false)
	e.sim.Commit()
	e.waitState(consolidate.TxFinal, e.stored(ids[2]).Hash)
	time.Sleep(5 * time.Millisecond)
	e.pass(3)
	for _, id := range ids {
		if tx := e.stored(id); tx.Status != consolidate.StatusSuccessful {
			t.Fatalf("transaction %d is %s", id, tx.Status)
		}
	}
}

func TestBatchOfOne(t *testing.T) {
	t.Parallel()
	cc, _, e := newCountingEnv(t, consolidate.Config{ReconcileBatch: 1})
	const n = 3
	acct, ids := e.finalTransfers(cc, n)
	for range n {
		e.pass(1)
	}
	e.pass(0)
	if got := cc.statuses.Load(); got != n {
		t.Fatalf("%d Statuses calls for %d tasks one by one, want %d", got, n, n)
	}
	for _, id := range ids {
		if tx := e.stored(id); tx.Status != consolidate.StatusSuccessful {
			t.Fatalf("transaction %d is %s", id, tx.Status)
		}
	}
	e.invariants(acct)
}

func TestNegativeReconcileBatchIsRejected(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ch, err := chaintest.NewT(t, nil).NewChain(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consolidate.New(store, ch, &consolidate.Config{ReconcileBatch: -1}); err == nil {
		t.Fatal("New accepted a negative ReconcileBatch")
	}
}

// remoteChain signs as a remote signer would, failing while down is set:
// a Submit then reserves its transfer, and a reconcile signs it later.
type remoteChain struct {
	consolidate.Chain
	down atomic.Bool
}

func (c *remoteChain) SignsOffline() bool { return false }

func (c *remoteChain) Sign(ctx context.Context, nonce uint64, t consolidate.Transfer, q consolidate.Quote) (consolidate.SignedTx, error) {
	if c.down.Load() {
		return consolidate.SignedTx{}, errors.New("signer unreachable")
	}
	return c.Chain.Sign(ctx, nonce, t, q)
}

// Transfers reserved while the signer was down are signed by the pass
// that reads them together, sent, and settled by the next.
func TestBatchSignsReservations(t *testing.T) {
	t.Parallel()
	rc := &remoteChain{}
	rc.down.Store(true)
	e := newEnv(t, &envOptions{
		cfg: consolidate.Config{Backoff: consolidate.Backoff{Base: time.Millisecond, Max: time.Millisecond}},
		wrapChain: func(c consolidate.Chain) consolidate.Chain {
			rc.Chain = c
			return rc
		},
	})
	acct := e.funded(wei(1e18))
	const n = 3
	var ids []int64
	for range n {
		tx := e.submit(acct.ID, alice, wei(1e15))
		if tx.Hash != (common.Hash{}) {
			t.Fatalf("transaction %d signed while the signer is down", tx.ID)
		}
		ids = append(ids, tx.ID)
	}
	rc.down.Store(false)
	e.pass(n)
	for _, id := range ids {
		if tx := e.stored(id); tx.Status != consolidate.StatusPending || tx.Hash == (common.Hash{}) {
			t.Fatalf("after the pass transaction %d is %s with hash %s, want PENDING and signed", id, tx.Status, tx.Hash)
		}
	}
	for round, final := 0, 0; final < n; round++ {
		if round == 50 {
			t.Fatalf("%d of %d transfers final after %d blocks", final, n, round)
		}
		e.sim.Commit()
		time.Sleep(2 * time.Millisecond) // past the retry delay
		e.svc.Pass(t.Context())
		final = 0
		for _, id := range ids {
			if e.stored(id).Status == consolidate.StatusSuccessful {
				final++
			}
		}
	}
	left := sub(wei(1e18), new(big.Int).Mul(sum(wei(1e15), fee), big.NewInt(n)))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}
