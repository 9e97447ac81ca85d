package consolidate_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

func TestSubmitSettlesSuccessful(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	credit := wei(1e18)
	acct := e.funded(credit)
	amount := wei(3e17)

	tx := e.submit(acct.ID, alice, amount)
	if tx.Status != consolidate.StatusPending || tx.From != e.sim.Sender() || tx.To != alice || tx.Amount.Cmp(amount) != 0 || tx.FeeTotal.Cmp(fee) != 0 {
		t.Fatalf("submitted %+v", tx)
	}
	held := sum(amount, fee)
	e.balances(acct.ID, sub(credit, held), credit)
	e.invariants(acct.ID)

	// Not mined yet: reconcile leaves it pending.
	if got := e.reconcile(tx.ID); got.Status != consolidate.StatusPending {
		t.Fatalf("before mining: %s", got.Status)
	}
	e.sim.Commit()
	got := e.reconcile(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash || got.BlockNumber == 0 {
		t.Fatalf("after mining: %+v", got)
	}
	e.balances(acct.ID, sub(credit, held), sub(credit, held))
	e.invariants(acct.ID)

	// The chain fee is what the receipt says the chain took.
	r, err := e.sim.Client().TransactionReceipt(ctx, tx.Hash)
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
	if got.FeeBlockchain == nil || got.FeeBlockchain.Cmp(want) != 0 {
		t.Fatalf("FeeBlockchain = %v, want %v", got.FeeBlockchain, want)
	}
	bal, err := e.sim.Client().BalanceAt(ctx, alice, nil)
	if err != nil || bal.Cmp(amount) != 0 {
		t.Fatalf("recipient balance = %v, %v; want %v", bal, err, amount)
	}
}

func TestRevertedTransferRefundsAmountChargesFee(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	reverter := e.reverter()
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, reverter, wei(4e17))
	e.sim.Commit()
	got := e.reconcile(tx.ID)
	if got.Status != consolidate.StatusFailed || got.FeeBlockchain == nil || got.FeeBlockchain.Sign() <= 0 {
		t.Fatalf("reverted transfer: %+v", got)
	}
	e.balances(acct.ID, sub(credit, fee), sub(credit, fee))
	e.invariants(acct.ID)
}

func TestAmountsAbove64Bits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	credit := new(big.Int).Lsh(big.NewInt(1), 70)                               // ~1180 ETH
	amount := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 64), wei(12345)) // 2^64 + 12345
	acct := e.funded(credit)
	tx := e.submit(acct.ID, bob, amount)
	if tx.Amount.Cmp(amount) != 0 {
		t.Fatalf("stored amount %s, want %s", tx.Amount, amount)
	}
	e.sim.Commit()
	if got := e.reconcile(tx.ID); got.Status != consolidate.StatusSuccessful || got.Amount.Cmp(amount) != 0 {
		t.Fatalf("settled %+v", got)
	}
	left := sub(credit, sum(amount, fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
	bal, err := e.sim.Client().BalanceAt(t.Context(), bob, nil)
	if err != nil || bal.Cmp(amount) != 0 {
		t.Fatalf("recipient got %v, %v; want exactly %v", bal, err, amount)
	}
}

func TestHotAccountNeverOverdraws(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const goroutines, k = 64, 10
	amount := wei(1e15)
	acct := e.funded(new(big.Int).Mul(sum(amount, fee), big.NewInt(k)))

	var mu sync.Mutex
	accepted, insufficient, locked := 0, 0, 0
	nonces := map[uint64]bool{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			for {
				tx, err := e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: amount})
				mu.Lock()
				switch {
				case err == nil:
					accepted++
					if nonces[tx.Nonce] {
						t.Errorf("nonce %d handed out twice", tx.Nonce)
					}
					nonces[tx.Nonce] = true
				case errors.Is(err, consolidate.ErrAccountLocked):
					// Someone else is submitting: try again, as a client would.
					locked++
					mu.Unlock()
					time.Sleep(time.Millisecond)
					continue
				case errors.Is(err, consolidate.ErrInsufficientFunds):
					insufficient++
				default:
					t.Errorf("Submit: %v", err)
				}
				mu.Unlock()
				return
			}
		})
	}
	close(start)
	wg.Wait()
	if accepted != k || insufficient != goroutines-k {
		t.Fatalf("accepted %d, insufficient %d (locked retries %d); want %d and %d", accepted, insufficient, locked, k, goroutines-k)
	}
	credit := new(big.Int).Mul(sum(amount, fee), big.NewInt(k))
	e.balances(acct.ID, wei(0), credit)
	e.invariants(acct.ID)
	t.Logf("%d accepted, %d refused for funds, %d lock conflicts retried", accepted, insufficient, locked)

	// Every accepted transfer lands, and the account ends exactly empty.
	e.sim.Commit()
	e.runWorker()
	for _, limit := range []int{0, 1001} {
		if _, err := e.svc.Transactions(t.Context(), acct.ID, 0, limit); !errors.Is(err, consolidate.ErrInvalidArgument) {
			t.Fatalf("Transactions with limit %d: %v, want ErrInvalidArgument", limit, err)
		}
	}
	txs, err := e.svc.Transactions(t.Context(), acct.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		if got := e.waitFinal(tx.ID, 20*time.Second); got.Status != consolidate.StatusSuccessful {
			t.Fatalf("tx %d: %s", tx.ID, got.Status)
		}
	}
	e.balances(acct.ID, wei(0), wei(0))
	e.invariants(acct.ID)
}

func TestReconcileTwiceOrConcurrentlySettlesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, alice, wei(1e17))
	e.sim.Commit()

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := e.svc.Reconcile(t.Context(), tx.ID)
			if err != nil || got.Status != consolidate.StatusSuccessful {
				t.Errorf("Reconcile: %v, %v", got.Status, err)
			}
		})
	}
	wg.Wait()
	// Delivered again later: still settled once.
	first := e.reconcile(tx.ID)
	again := e.reconcile(tx.ID)
	if first.Version != again.Version {
		t.Fatalf("a repeated reconcile changed the row: version %d → %d", first.Version, again.Version)
	}
	left := sub(credit, sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)

	evs, err := e.store.Events(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	successes := 0
	for _, ev := range evs {
		if ev.TransactionID == tx.ID && ev.Type == consolidate.EventSuccessful {
			successes++
		}
	}
	if successes != 1 {
		t.Fatalf("%d success events, want 1", successes)
	}
}

func TestSweeperRecoversLostEnqueue(t *testing.T) {
	t.Parallel()
	var lossy *lossyQueue
	e := newEnv(t, &envOptions{
		cfg: consolidate.Config{SweepGrace: time.Millisecond, SweepInterval: 50 * time.Millisecond},
		wrapQueue: func(q consolidate.Queue) consolidate.Queue {
			lossy = &lossyQueue{Queue: q}
			return lossy
		},
	})
	acct := e.funded(wei(1e18))
	lossy.setDrop(true)
	tx := e.submit(acct.ID, alice, wei(1e17))
	lossy.setDrop(false)
	if s, _ := queueStats(t.Context(), e.queue, "reconcile"); s != (consolidate.QueueStats{}) {
		t.Fatalf("the task was not lost: %+v", s)
	}
	time.Sleep(5 * time.Millisecond)
	n, err := e.svc.Sweep(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 transaction enqueued", n, err)
	}
	e.sim.Commit()
	e.runWorker()
	if got := e.waitFinal(tx.ID, 10*time.Second); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("status %s", got.Status)
	}
	e.invariants(acct.ID)
}

func TestSweeperRecoversLostTasksInBulk(t *testing.T) {
	t.Parallel()
	var lossy *lossyQueue
	e := newEnv(t, &envOptions{
		cfg: consolidate.Config{SweepGrace: time.Millisecond},
		wrapQueue: func(q consolidate.Queue) consolidate.Queue {
			lossy = &lossyQueue{Queue: q}
			return lossy
		},
	})
	const n = 700 // more than one sweep batch
	acct := e.funded(new(big.Int).Mul(sum(wei(1e12), fee), big.NewInt(n)))
	lossy.setDrop(true)
	for range n {
		e.submit(acct.ID, alice, wei(1e12))
	}
	lossy.setDrop(false)
	time.Sleep(5 * time.Millisecond)
	got, err := e.svc.Sweep(t.Context())
	if err != nil || got != n {
		t.Fatalf("Sweep = %d, %v; want %d", got, err, n)
	}
	s, err := queueStats(t.Context(), lossy.Queue, "reconcile")
	if err != nil || s.Ready != n {
		t.Fatalf("queue %+v, %v; want %d ready", s, err, n)
	}
}

func TestLostBroadcastIsSentAgainWithSameHash(t *testing.T) {
	t.Parallel()
	var flaky *flakyChain
	e := newEnv(t, &envOptions{wrapChain: func(c consolidate.Chain) consolidate.Chain {
		flaky = &flakyChain{Chain: c}
		return flaky
	}})
	acct := e.funded(wei(1e18))
	flaky.drop.Store(1)
	tx := e.submit(acct.ID, alice, wei(1e17)) // the broadcast is lost
	e.sim.Commit()
	st, err := e.status(tx.Hash)
	if err != nil || st.State != consolidate.TxUnknown {
		t.Fatalf("chain status %v, %v; want unknown to the node", st.State, err)
	}
	if got := e.reconcile(tx.ID); got.Status != consolidate.StatusPending { // rebroadcasts
		t.Fatalf("status %s", got.Status)
	}
	e.sim.Commit()
	got := e.reconcile(tx.ID)
	if got.Status != consolidate.StatusSuccessful || got.Hash != tx.Hash {
		t.Fatalf("got %s %s, want SUCCESSFUL with hash %s", got.Status, got.Hash, tx.Hash)
	}
	e.invariants(acct.ID)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	credit := wei(1e18)
	acct := e.funded(credit)
	req := consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: wei(1e17), IdempotencyKey: "order-42"}
	first, err := e.svc.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Submit(ctx, req)
	if err != nil || again.ID != first.ID || again.Hash != first.Hash {
		t.Fatalf("repeat = %d %v, want the original %d", again.ID, err, first.ID)
	}
	changed := req
	changed.Amount = wei(2e17)
	if _, err := e.svc.Submit(ctx, changed); !errors.Is(err, consolidate.ErrIdempotencyConflict) {
		t.Fatalf("same key, other amount: %v, want ErrIdempotencyConflict", err)
	}
	changed = req
	changed.To = bob
	if _, err := e.svc.Submit(ctx, changed); !errors.Is(err, consolidate.ErrIdempotencyConflict) {
		t.Fatalf("same key, other recipient: %v, want ErrIdempotencyConflict", err)
	}
	// Held once.
	e.balances(acct.ID, sub(credit, sum(wei(1e17), fee)), credit)
	// The original rejection is repeated too, even after funds arrive.
	tooBig := consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: wei(5e18), IdempotencyKey: "order-43"}
	if _, err := e.svc.Submit(ctx, tooBig); !errors.Is(err, consolidate.ErrInsufficientFunds) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := e.svc.Credit(ctx, acct.ID, new(big.Int).Mul(wei(1e18), wei(10)), "top-up"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Submit(ctx, tooBig); !errors.Is(err, consolidate.ErrInsufficientFunds) {
		t.Fatalf("replayed rejection: %v, want the original ErrInsufficientFunds", err)
	}
	e.invariants(acct.ID)
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	acct := e.funded(wei(1e18))
	other := e.funded(wei(1e18))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	over := new(big.Int).Lsh(big.NewInt(1), 256)
	nearMax := new(big.Int).Sub(over, wei(1))
	valid := consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: wei(1)}
	with := func(f func(*consolidate.SubmitRequest)) consolidate.SubmitRequest {
		r := valid
		f(&r)
		return r
	}
	tests := []struct {
		name string
		ctx  context.Context
		req  consolidate.SubmitRequest
		want error
	}{
		{"zero address", ctx, with(func(r *consolidate.SubmitRequest) { r.To = common.Address{} }), consolidate.ErrInvalidAddress},
		{"self transfer", ctx, with(func(r *consolidate.SubmitRequest) { r.To = e.sim.Sender() }), consolidate.ErrSelfTransfer},
		{"nil amount", ctx, with(func(r *consolidate.SubmitRequest) { r.Amount = nil }), consolidate.ErrInvalidAmount},
		{"zero amount", ctx, with(func(r *consolidate.SubmitRequest) { r.Amount = wei(0) }), consolidate.ErrInvalidAmount},
		{"negative amount", ctx, with(func(r *consolidate.SubmitRequest) { r.Amount = wei(-5) }), consolidate.ErrInvalidAmount},
		{"2^256", ctx, with(func(r *consolidate.SubmitRequest) { r.Amount = over }), consolidate.ErrInvalidAmount},
		{"amount plus fee over 2^256", ctx, with(func(r *consolidate.SubmitRequest) { r.Amount = nearMax }), consolidate.ErrInvalidAmount},
		{"unknown account", ctx, with(func(r *consolidate.SubmitRequest) { r.AccountID = 999999 }), consolidate.ErrNotFound},
		{"zero account", ctx, with(func(r *consolidate.SubmitRequest) { r.AccountID = 0 }), consolidate.ErrNotFound},
		{"negative account", ctx, with(func(r *consolidate.SubmitRequest) { r.AccountID = -1 }), consolidate.ErrNotFound},
		{"insufficient funds", ctx, with(func(r *consolidate.SubmitRequest) { r.Amount = wei(1e18) }), consolidate.ErrInsufficientFunds},
		{"oversized key", ctx, with(func(r *consolidate.SubmitRequest) { r.IdempotencyKey = strings.Repeat("k", 256) }), consolidate.ErrInvalidReference},
		{"key with space", ctx, with(func(r *consolidate.SubmitRequest) { r.IdempotencyKey = "a b" }), consolidate.ErrInvalidReference},
		{"key with newline", ctx, with(func(r *consolidate.SubmitRequest) { r.IdempotencyKey = "a\nb" }), consolidate.ErrInvalidReference},
		{"cancelled context", cancelled, valid, context.Canceled},
	}
	for _, tt := range tests {
		if _, err := e.svc.Submit(tt.ctx, tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	// Credits and reads too.
	creditTests := []struct {
		name   string
		id     int64
		amount *big.Int
		ref    string
		want   error
	}{
		{"zero", acct.ID, wei(0), "r1", consolidate.ErrInvalidAmount},
		{"negative", acct.ID, wei(-1), "r2", consolidate.ErrInvalidAmount},
		{"2^256", acct.ID, over, "r3", consolidate.ErrInvalidAmount},
		{"empty reference", acct.ID, wei(1), "", consolidate.ErrInvalidReference},
		{"unknown account", 424242, wei(1), "r4", consolidate.ErrNotFound},
	}
	for _, tt := range creditTests {
		if _, err := e.svc.Credit(ctx, tt.id, tt.amount, tt.ref); !errors.Is(err, tt.want) {
			t.Errorf("Credit %s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	for _, id := range []int64{0, -1, 1 << 40} {
		if _, err := e.svc.Get(ctx, id); !errors.Is(err, consolidate.ErrNotFound) {
			t.Errorf("Get(%d): %v, want ErrNotFound", id, err)
		}
		if _, err := e.svc.Reconcile(ctx, id); !errors.Is(err, consolidate.ErrNotFound) {
			t.Errorf("Reconcile(%d): %v, want ErrNotFound", id, err)
		}
	}

	e.balances(acct.ID, wei(1e18), wei(1e18))
	e.balances(other.ID, wei(1e18), wei(1e18))
	for _, id := range []int64{acct.ID, other.ID} {
		if txs, err := e.svc.Transactions(ctx, id, 0, 10); err != nil || len(txs) != 0 {
			t.Fatalf("account %d has %d transactions after bad input (%v)", id, len(txs), err)
		}
	}
	if s, _ := queueStats(ctx, e.queue, "reconcile"); s != (consolidate.QueueStats{}) {
		t.Fatalf("bad input enqueued tasks: %+v", s)
	}
	e.invariants(acct.ID, other.ID)
}

func TestGetReadsThroughVersionedCache(t *testing.T) {
	t.Parallel()
	cache := consolidate.NewMemoryCache(0)
	e := newEnv(t, &envOptions{cfg: consolidate.Config{Cache: cache}})
	ctx := t.Context()
	if _, err := e.svc.Get(ctx, 1); !errors.Is(err, consolidate.ErrNotFound) {
		t.Fatalf("Get of a missing transaction: %v", err)
	}
	if entry, ok, _ := cache.Get(ctx, "tx:1"); !ok || !entry.Negative {
		t.Fatalf("no negative entry after a miss: %+v %v", entry, ok)
	}
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1)) // replaces the negative entry
	got, err := e.svc.Get(ctx, tx.ID)
	if err != nil || got.Status != consolidate.StatusPending || got.Amount.Cmp(wei(1)) != 0 {
		t.Fatalf("Get after Submit: %+v %v", got, err)
	}
	e.sim.Commit()
	e.reconcile(tx.ID)
	got, err = e.svc.Get(ctx, tx.ID)
	if err != nil || got.Status != consolidate.StatusSuccessful {
		t.Fatalf("Get after settle: %s %v, want SUCCESSFUL", got.Status, err)
	}
	// The cache serves it without the store.
	entry, ok, _ := cache.Get(ctx, fmt.Sprintf("tx:%d", tx.ID))
	if !ok || entry.Version != got.Version {
		t.Fatalf("cache holds version %d (%v), want %d", entry.Version, ok, got.Version)
	}
}

func TestRunSettlesManyTransfers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	reverter := e.reverter()
	credit := wei(1e18)
	acct := e.funded(credit)
	e.sim.AutoMine(t.Context(), 20*time.Millisecond)
	e.runWorker()
	txs := e.submitMix(acct.ID, 20, 5, reverter, wei(1e15))
	_, want := e.waitOutcomes(credit, txs, reverter)
	e.balances(acct.ID, want, want)
	e.invariants(acct.ID)
}

func TestEventsPublishedToEveryQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &envOptions{cfg: consolidate.Config{
		EventQueues:   []string{"notifications", "audit"},
		RelayInterval: 10 * time.Millisecond,
	}})
	acct := e.funded(wei(1e18))
	tx := e.submit(acct.ID, alice, wei(1))
	e.sim.Commit()
	e.runWorker()
	e.waitFinal(tx.ID, 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for _, q := range []string{"notifications", "audit"} {
		var bodies []string
		for len(bodies) < 2 && time.Now().Before(deadline) {
			ds, err := e.queue.Claim(t.Context(), q, 10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				bodies = append(bodies, string(d.Body))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(bodies) != 2 || !strings.Contains(bodies[0], consolidate.EventSubmitted) || !strings.Contains(bodies[1], consolidate.EventSuccessful) {
			t.Fatalf("%s received %q", q, bodies)
		}
	}
}
