package consolidate_test

import (
	"cmp"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// parkedEnv is an env whose node is blind to every transaction while bc is
// blind, and whose transfers are parked after two checks.
func parkedEnv(t *testing.T, cfg consolidate.Config) (*blindChain, *env) {
	bc := &blindChain{}
	cfg.Backoff = consolidate.Backoff{Base: 5 * time.Millisecond, Max: 5 * time.Millisecond, Checks: 2}
	cfg.VoidDelay = time.Hour
	e := newEnv(t, &envOptions{
		cfg:       cfg,
		wrapChain: func(c consolidate.Chain) consolidate.Chain { bc.Chain = c; return bc },
	})
	return bc, e
}

// parkBlind has the transfer mined while the node is blind to it, and runs
// worker passes until its task is dead-lettered.
func (e *env) parkBlind(bc *blindChain, tx consolidate.Transaction) {
	e.t.Helper()
	e.sim.Commit()
	bc.blind.Store(true)
	for range 100 {
		e.svc.Pass(e.t.Context())
		if e.deadLetters() == 1 {
			if got := e.get(tx.ID); got.Status != consolidate.StatusPending {
				e.t.Fatalf("parked transfer is %s, want PENDING", got.Status)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("the transfer's task was never dead-lettered")
}

func (e *env) get(id int64) consolidate.Transaction {
	e.t.Helper()
	tx, err := e.store.Transaction(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

// noDeadLetters waits until the queue holds no dead letter: a parked
// transfer's is deleted just after the check that settles it.
func (e *env) noDeadLetters(timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := e.deadLetters()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d dead letters left for a settled transfer after %v, want 0", n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) deadLetters() int {
	e.t.Helper()
	st, err := queueStats(e.t.Context(), e.queue, cmp.Or(e.cfg.QueueName, "reconcile"))
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Dead
}

// A parked transfer that landed is settled by its slow re-check, with no
// operator: its hold does not stay for ever.
func TestParkedTransferIsCheckedAgainAndSettled(t *testing.T) {
	t.Parallel()
	bc, e := parkedEnv(t, consolidate.Config{ParkedCheckInterval: 50 * time.Millisecond, SweepInterval: 20 * time.Millisecond})
	credit := wei(1e18)
	acct := e.funded(credit)
	tx := e.submit(acct.ID, alice, wei(1e17))
	e.parkBlind(bc, tx)
	bc.blind.Store(false)
	e.runWorker()
	if got := e.waitFinal(tx.ID, 10*time.Second); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("parked transfer settled %s, want SUCCESSFUL", got.Status)
	}
	if n := e.settleEvents(tx.ID); n != 1 {
		t.Fatalf("%d settle events, want 1", n)
	}
	e.noDeadLetters(5 * time.Second)
	left := sub(credit, sum(wei(1e17), fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}

// A later nonce of the wallet settled proves a parked transfer's nonce
// consumed: it is checked at once, not an hour later.
func TestSettledLaterNonceWakesAParkedTransfer(t *testing.T) {
	t.Parallel()
	bc, e := parkedEnv(t, consolidate.Config{ParkedCheckInterval: time.Hour, SweepInterval: time.Hour})
	credit := wei(1e18)
	acct := e.funded(credit)
	parked := e.submit(acct.ID, alice, wei(1e17))
	e.parkBlind(bc, parked)
	bc.blind.Store(false)
	later := e.submit(acct.ID, bob, wei(2e17))
	if later.Nonce <= parked.Nonce {
		t.Fatalf("later transfer has nonce %d, parked one %d", later.Nonce, parked.Nonce)
	}
	// Mine the later transfer before any worker looks at it: with two
	// checks 5 ms apart, a worker that found it unmined twice would park it
	// too, and this test wakes parked transfers only through it.
	e.sim.Commit()
	e.runWorker()
	if got := e.waitFinal(later.ID, 10*time.Second); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("later transfer settled %s, want SUCCESSFUL", got.Status)
	}
	if got := e.waitFinal(parked.ID, 10*time.Second); got.Status != consolidate.StatusSuccessful {
		t.Fatalf("parked transfer settled %s, want SUCCESSFUL", got.Status)
	}
	e.noDeadLetters(5 * time.Second)
	left := sub(credit, sum(wei(1e17), wei(2e17), fee, fee))
	e.balances(acct.ID, left, left)
	e.invariants(acct.ID)
}
