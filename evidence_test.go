package consolidate_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// flakyAttempts fails every second Attempts read of one transaction, as a
// store under load fails a read now and then.
type flakyAttempts struct {
	consolidate.Store
	id    atomic.Int64
	calls atomic.Int64
}

func (s *flakyAttempts) Attempts(ctx context.Context, id int64) ([]consolidate.Attempt, error) {
	if id == s.id.Load() && s.calls.Add(1)%2 == 0 {
		return nil, errors.New("database is locked")
	}
	return s.Store.Attempts(ctx, id)
}

// A failed read of one transfer's evidence must leave its check
// undecided, and must not make the other transfers of the pass look as if
// their nonces were consumed: B is live in the pool and still lands.
func TestFailedEvidenceReadVoidsNothingElse(t *testing.T) {
	t.Parallel()
	flaky := &flakyAttempts{}
	qc := &quoteChain{}
	e := newEnv(t, &envOptions{
		cfg:       consolidate.Config{StuckAfter: time.Hour},
		wrapChain: func(c consolidate.Chain) consolidate.Chain { qc.Chain = c; return qc },
		wrapStore: func(s consolidate.Store) consolidate.Store { flaky.Store = s; return flaky },
	})
	credit := wei(1e18)
	acct := e.funded(credit)
	qc.quote = stuckQuote
	a := e.submit(acct.ID, alice, wei(1e17)) // nonce 0, never mined at its price
	qc.quote = nil
	takeNonce(t, qc, a)
	e.sim.Commit()                         // the foreign transaction takes nonce 0 for good
	b := e.submit(acct.ID, bob, wei(2e17)) // nonce 1, in the pool
	flaky.id.Store(a.ID)

	for range 3 {
		if n := e.svc.Pass(t.Context()); n == 0 {
			t.Fatal("the pass claimed no task")
		}
		if got, err := e.store.Transaction(t.Context(), b.ID); err != nil || got.Status != consolidate.StatusPending {
			t.Fatalf("transfer B, live in the pool, is %s (%v) before it was mined", got.Status, err)
		}
		time.Sleep(60 * time.Millisecond) // past VoidDelay and the backoff
	}
	flaky.id.Store(0)
	got := e.mineUntilFinal(b.ID)
	if got.Status != consolidate.StatusSuccessful {
		t.Fatalf("transfer B settled %s, want SUCCESSFUL", got.Status)
	}
	if got := e.mineUntilFinal(a.ID); got.Status != consolidate.StatusFailed {
		t.Fatalf("transfer A settled %s, want FAILED", got.Status)
	}
	e.balances(acct.ID, sub(credit, sum(wei(2e17), fee)), sub(credit, sum(wei(2e17), fee)))
	e.invariants(acct.ID)
}

// panicStore panics in Submit while armed, as a store with a bug would.
type panicStore struct {
	consolidate.Store
	armed atomic.Bool
}

func (s *panicStore) Submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	if s.armed.Load() {
		panic("store bug")
	}
	return s.Store.Submit(ctx, p, sign)
}

// Submit releases the account's lock on every path: after a store that
// panicked, the account's next Submit goes through instead of waiting out
// the lock's TTL.
func TestSubmitReleasesTheLockWhenTheStorePanics(t *testing.T) {
	t.Parallel()
	ps := &panicStore{}
	e := newEnv(t, &envOptions{
		cfg:       consolidate.Config{LockTTL: time.Hour},
		wrapStore: func(s consolidate.Store) consolidate.Store { ps.Store = s; return ps },
	})
	acct := e.funded(wei(1e18))
	ps.armed.Store(true)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the store's panic did not reach the caller")
			}
		}()
		e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: wei(1)})
	}()
	ps.armed.Store(false)
	if _, err := e.svc.Submit(t.Context(), consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: wei(1)}); err != nil {
		t.Fatalf("Submit after a panicking store: %v", err)
	}
	e.balances(acct.ID, sub(wei(1e18), sum(wei(1), fee)), wei(1e18))
	e.invariants(acct.ID)
}
