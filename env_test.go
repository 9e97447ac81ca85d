package consolidate_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// env is a Service on a SQLite file and go-ethereum's in-process chain.
type env struct {
	t      *testing.T
	sim    *chaintest.Chain
	chain  consolidate.Chain
	store  *sqlite.Store
	queue  consolidate.Queue
	svc    *consolidate.Service
	cfg    consolidate.Config
	tokens []common.Address // deployed and configured, as envOptions.tokens asked
}

type envOptions struct {
	cfg consolidate.Config
	// confirmations makes a transfer final that many blocks deep.
	// Defaults to 1: final as soon as it is mined.
	confirmations uint64
	// chainOptions configures the chain client; its Confirmations gives
	// way to confirmations above.
	chainOptions chain.Options
	wrapChain    func(consolidate.Chain) consolidate.Chain
	// wallets adds that many more hot wallets (Config.Wallets), each with
	// its own funded key, on the same chain.
	wallets int
	// tokens deploys an ERC-20 of each kind, with its supply minted to
	// the sending wallet, and configures it (Config.Tokens) with fee
	// tokenFee; e.tokens lists them in order.
	tokens    []tokenSpec
	wrapStore func(consolidate.Store) consolidate.Store
	wrapQueue func(consolidate.Queue) consolidate.Queue
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t *testing.T, o *envOptions) *env {
	t.Helper()
	if o == nil {
		o = &envOptions{}
	}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var keys []*ecdsa.PrivateKey
	var fund []common.Address
	for range o.wallets {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys, fund = append(keys, k), append(fund, crypto.PubkeyToAddress(k.PublicKey))
	}
	sim := chaintest.NewT(t, &chaintest.Options{Fund: fund})
	copts := o.chainOptions
	copts.Confirmations = max(o.confirmations, 1)
	real, err := sim.NewChain(&copts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	var tokens []common.Address
	for _, spec := range o.tokens {
		addr, err := sim.DeployToken(t.Context(), spec.kind, "TST", 6, spec.supply)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, addr)
		cfg.Tokens = append(cfg.Tokens, consolidate.Token{Address: addr, Fee: tokenFee})
	}
	var ch consolidate.Chain = real
	if o.wrapChain != nil {
		ch = o.wrapChain(ch)
	}
	if _, ok := ch.(consolidate.TokenReader); !ok && len(tokens) > 0 {
		// A wrapper that does not read tokens itself reads the real chain's.
		ch = tokenChain{Chain: ch, TokenReader: real}
	}
	for _, k := range keys {
		w, err := chain.New(t.Context(), sim.Client(), k, &copts)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Wallets = append(cfg.Wallets, w)
	}
	if cfg.Queue == nil {
		cfg.Queue = consolidate.NewMemoryQueue()
	}
	if o.wrapQueue != nil {
		cfg.Queue = o.wrapQueue(cfg.Queue)
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.VoidDelay == 0 {
		// A void still takes two checks that see the nonce consumed.
		cfg.VoidDelay = time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	if cfg.Backoff.Base == 0 {
		cfg.Backoff = consolidate.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Checks: 1000}
	}
	var st consolidate.Store = store
	if o.wrapStore != nil {
		st = o.wrapStore(st)
	}
	svc, err := consolidate.New(st, ch, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, sim: sim, chain: ch, store: store, queue: cfg.Queue, svc: svc, cfg: cfg, tokens: tokens}
}

// tokenSpec is a token newEnv deploys.
type tokenSpec struct {
	kind   chaintest.TokenKind
	supply *big.Int
}

// tokenChain is a Chain that reads tokens through another.
type tokenChain struct {
	consolidate.Chain
	consolidate.TokenReader
}

// funded creates an account credited with wei.
func (e *env) funded(wei *big.Int) consolidate.Account {
	e.t.Helper()
	a, err := e.svc.CreateAccount(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.Credit(e.t.Context(), a.ID, wei, "initial"); err != nil {
		e.t.Fatal(err)
	}
	a, err = e.svc.Account(e.t.Context(), a.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// forkBelow makes the chain's head the parent of block, which with the
// next blocks mined leaves block's branch.
func (e *env) forkBelow(block common.Hash) {
	e.t.Helper()
	h, err := e.sim.Client().HeaderByHash(e.t.Context(), block)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.sim.Fork(h.ParentHash); err != nil {
		e.t.Fatal(err)
	}
}

// reorgOut replaces block by a longer branch without its transactions:
// the mempool is emptied and two blocks are mined on block's parent.
func (e *env) reorgOut(block common.Hash) {
	e.t.Helper()
	e.forkBelow(block)
	e.sim.Rollback()
	e.sim.Mine(2)
}

// tokenFunded creates an account holding token, credited with amount.
func (e *env) tokenFunded(token common.Address, amount *big.Int) consolidate.Account {
	e.t.Helper()
	a, err := e.svc.CreateTokenAccount(e.t.Context(), token, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if a, err = e.svc.Credit(e.t.Context(), a.ID, amount, "initial"); err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) submit(accountID int64, to common.Address, amount *big.Int) consolidate.Transaction {
	e.t.Helper()
	tx, err := e.svc.Submit(e.t.Context(), consolidate.SubmitRequest{AccountID: accountID, To: to, Amount: amount})
	if err != nil {
		e.t.Fatalf("Submit: %v", err)
	}
	return tx
}

// reconcile runs one check. Errors are transient by contract (the worker
// retries them), so it retries too, briefly.
func (e *env) reconcile(id int64) consolidate.Transaction {
	e.t.Helper()
	return e.reconcileBy(e.svc, id)
}

// reconcileBy is reconcile by another Service.
func (e *env) reconcileBy(svc *consolidate.Service, id int64) consolidate.Transaction {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tx, err := svc.Reconcile(e.t.Context(), id)
		if err == nil {
			return tx
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("Reconcile(%d): %v", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) balances(id int64, available, current *big.Int) {
	e.t.Helper()
	a, err := e.svc.Account(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	if a.Available.Cmp(available) != 0 || a.Current.Cmp(current) != 0 {
		e.t.Fatalf("account %d: available %s current %s, want %s and %s", id, a.Available, a.Current, available, current)
	}
}

func (e *env) invariants(ids ...int64) {
	e.t.Helper()
	storetest.CheckInvariants(e.t, e.store, ids...)
}

// runWorker runs the Service's background loop until the test ends.
func (e *env) runWorker() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.svc.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitFinal polls Get until the transaction is final.
func (e *env) waitFinal(id int64, timeout time.Duration) consolidate.Transaction {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tx, err := e.svc.Get(e.t.Context(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if tx.Status.Final() {
			return tx
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("transaction %d still %s after %v", id, tx.Status, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// status asks the chain about hash, waiting out the node's transaction
// indexer, which lags a freshly mined block for a moment.
func (e *env) status(hash common.Hash) (consolidate.ChainStatus, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		sts, err := e.chain.Statuses(e.t.Context(), []common.Hash{hash})
		if err == nil {
			return sts[0], nil
		}
		if time.Now().After(deadline) {
			return consolidate.ChainStatus{}, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reverter deploys a contract whose code always reverts.
func (e *env) reverter() common.Address {
	e.t.Helper()
	a, err := e.sim.DeployReverter(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// submitMix submits n transfers of amount, every k-th of them (from the
// first) to the reverting contract and the rest to alice.
func (e *env) submitMix(accountID int64, n, k int, reverter common.Address, amount *big.Int) []consolidate.Transaction {
	e.t.Helper()
	txs := make([]consolidate.Transaction, n)
	for i := range txs {
		to := alice
		if i%k == 0 {
			to = reverter
		}
		txs[i] = e.submit(accountID, to, amount)
	}
	return txs
}

// waitOutcomes waits until every transfer is final, checks that those to
// reverter FAILED and the others succeeded, and returns the final rows with
// what an account credited with credit must hold afterwards.
func (e *env) waitOutcomes(credit *big.Int, txs []consolidate.Transaction, reverter common.Address) ([]consolidate.Transaction, *big.Int) {
	e.t.Helper()
	want := new(big.Int).Set(credit)
	final := make([]consolidate.Transaction, len(txs))
	for i, tx := range txs {
		got := e.waitFinal(tx.ID, 20*time.Second)
		want.Sub(want, fee)
		switch {
		case tx.To == reverter && got.Status == consolidate.StatusFailed:
		case tx.To != reverter && got.Status == consolidate.StatusSuccessful:
			want.Sub(want, tx.Amount)
		default:
			e.t.Fatalf("tx %d to %s ended %s", tx.ID, tx.To, got.Status)
		}
		final[i] = got
	}
	return final, want
}

func wei(n int64) *big.Int { return big.NewInt(n) }

func sum(xs ...*big.Int) *big.Int {
	s := new(big.Int)
	for _, x := range xs {
		s.Add(s, x)
	}
	return s
}

func sub(x, y *big.Int) *big.Int { return new(big.Int).Sub(x, y) }

var (
	alice = common.HexToAddress("0x1111111111111111111111111111111111111111")
	bob   = common.HexToAddress("0x2222222222222222222222222222222222222222")
	fee   = consolidate.DefaultFee
	// tokenFee is what a transfer of a test token costs its account, in
	// the token's smallest unit.
	tokenFee = big.NewInt(7)
)

// flakyChain drops the first n broadcasts on the floor, as a crash right
// after commit or a node that loses its mempool would.
type flakyChain struct {
	consolidate.Chain
	drop atomic.Int64
}

func (f *flakyChain) Broadcast(ctx context.Context, raw []byte) error {
	if f.drop.Add(-1) >= 0 {
		return errors.New("connection reset by peer")
	}
	return f.Chain.Broadcast(ctx, raw)
}

// lossyQueue silently loses enqueued reconcile tasks while drop is set, as a
// crash between commit and enqueue would.
type lossyQueue struct {
	consolidate.Queue
	mu   sync.Mutex
	drop bool
}

func (q *lossyQueue) Enqueue(ctx context.Context, msgs ...consolidate.Message) error {
	q.mu.Lock()
	drop := q.drop
	q.mu.Unlock()
	if drop {
		return nil
	}
	return q.Queue.Enqueue(ctx, msgs...)
}

func (q *lossyQueue) setDrop(v bool) {
	q.mu.Lock()
	q.drop = v
	q.mu.Unlock()
}

// queueStats counts the messages of queue in q, which must implement
// QueueInspector, by state.
func queueStats(ctx context.Context, q consolidate.Queue, queue string) (consolidate.QueueStats, error) {
	qi, ok := q.(consolidate.QueueInspector)
	if !ok {
		return consolidate.QueueStats{}, fmt.Errorf("%T does not implement QueueInspector", q)
	}
	return qi.Stats(ctx, queue)
}
