package postgres_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/storetest"
	"github.com/jackc/pgx/v5"
)

// submitKinds are the two ways to submit: signed at once, and reserved
// (a nil SignFunc), whose transfer has no hash to be found by.
var submitKinds = []struct {
	name string
	sign consolidate.SignFunc
}{
	{"signed", sign},
	{"reserved", nil},
}

// TestUnknownOutcomeCommitted loses the connection after the batch's
// COMMIT has been applied but before its answer is read: Submit finds
// the transfer and returns it, once, even without an idempotency key.
func TestUnknownOutcomeCommitted(t *testing.T) {
	t.Parallel()
	for _, kind := range submitKinds {
		for _, key := range []string{"", "kept"} {
			t.Run(kind.name+"/key="+key, func(t *testing.T) {
				t.Parallel()
				testUnknownOutcomeCommitted(t, kind.sign, key)
			})
		}
	}
}

func testUnknownOutcomeCommitted(t *testing.T, signer consolidate.SignFunc, key string) {
	dsn := database(t, nil)
	s := open(t, dsn, nil)
	acct := fund(t, s, 1, 10*hold)[0]
	watch := connect(t, dsn)
	var armed atomic.Bool
	armed.Store(true)
	postgres.SetBatchSentHook(s, func(c *pgx.Conn) {
		if !armed.Swap(false) {
			return
		}
		// Let the server commit, then cut the line before the answer.
		deadline := time.Now().Add(10 * time.Second)
		for count(t, watch, "transactions") == 0 {
			if time.Now().After(deadline) {
				t.Error("the batch did not commit")
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		c.PgConn().Conn().Close()
	})

	tx, created, err := s.Submit(t.Context(), transfer(acct, key), signer)
	if err != nil || !created {
		t.Fatalf("Submit = created %v, %v; want the committed transfer", created, err)
	}
	if armed.Load() {
		t.Fatal("the connection was never cut")
	}
	stored, err := s.Transaction(t.Context(), tx.ID)
	if err != nil || stored.Hash != tx.Hash || stored.Nonce != 0 || stored.IdempotencyKey != key {
		t.Errorf("Transaction(%d) = %+v, %v; want the returned transfer", tx.ID, stored, err)
	}
	if reserved := signer == nil; reserved != (tx.Hash == common.Hash{}) {
		t.Errorf("Submit returned hash %s for a transfer reserved %v", tx.Hash, reserved)
	}
	if n := count(t, watch, "transactions"); n != 1 {
		t.Errorf("%d transactions stored, want 1", n)
	}
	// Debited once, and the next Submit takes the next nonce.
	next, _, err := s.Submit(t.Context(), transfer(acct, ""), sign)
	if err != nil || next.Nonce != 1 {
		t.Errorf("next Submit: nonce %d, %v; want 1", next.Nonce, err)
	}
	a, err := s.Account(t.Context(), acct)
	if err != nil || a.Available.Cmp(big.NewInt(8*hold)) != 0 {
		t.Errorf("available = %v, %v; want %d", a.Available, err, 8*hold)
	}
	storetest.CheckInvariants(t, s, acct)
	wantGapFree(t, watch)
}

// TestUnknownOutcomeRolledBack loses the connection after the batch was
// sent, with its server session ended before it could commit: Submit
// finds nothing stored and says so, and the nonce and the idempotency key
// are still free.
func TestUnknownOutcomeRolledBack(t *testing.T) {
	t.Parallel()
	for _, kind := range submitKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			testUnknownOutcomeRolledBack(t, kind.sign, "lost", nil)
		})
	}
	// A reservation has no hash to be found by. Here another Submit, as
	// alike as can be but made a microsecond later, takes the nonce the
	// lost batch had given it before Submit asks: that transfer is not
	// the lost one.
	t.Run("reserved/nonce-taken", func(t *testing.T) {
		t.Parallel()
		testUnknownOutcomeRolledBack(t, nil, "", func(s *postgres.Store, p consolidate.SubmitParams) {
			p.Now = p.Now.Add(time.Microsecond)
			if _, _, err := s.Submit(t.Context(), p, nil); err != nil {
				t.Errorf("Submit taking the lost nonce: %v", err)
			}
		})
	})
}

// testUnknownOutcomeRolledBack loses a Submit under key with signer,
// after calling meanwhile, if not nil, with another Store and the lost
// request, once the batch's session has ended.
func testUnknownOutcomeRolledBack(t *testing.T, signer consolidate.SignFunc, key string, meanwhile func(*postgres.Store, consolidate.SubmitParams)) {
	dsn := database(t, nil)
	// One connection, so the batch runs on the one that has already
	// prepared its statements.
	s := open(t, dsn, &postgres.Options{MaxConns: 1})
	other := open(t, dsn, nil)
	acct := fund(t, s, 1, 10*hold)[0]
	if _, _, err := s.Submit(t.Context(), transfer(acct, "warm-up"), sign); err != nil {
		t.Fatal(err)
	}
	p := transfer(acct, key)
	p.Now = time.Now()
	// Hold the batch's event insert on a table lock, end its session
	// while it waits, then cut the client's line: COMMIT was sent, never
	// run, and the client cannot tell.
	blocker := connect(t, dsn)
	lock, err := blocker.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(t.Context(), `LOCK TABLE events IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	killer := connect(t, dsn)
	var cut atomic.Bool
	postgres.SetBatchSentHook(s, func(c *pgx.Conn) {
		if cut.Swap(true) {
			return
		}
		var gone bool
		err := killer.QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 10000)`, c.PgConn().PID()).Scan(&gone)
		if err != nil || !gone {
			t.Errorf("terminate the batch's session: %v, %v", gone, err)
		}
		c.PgConn().Conn().Close()
		lock.Rollback(context.Background())
		if meanwhile != nil {
			meanwhile(other, p)
		}
	})

	_, _, err = s.Submit(t.Context(), p, signer)
	if err == nil {
		t.Fatal("Submit succeeded, want an error: its batch never committed")
	}
	if errors.Is(err, postgres.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "nothing was stored") {
		t.Errorf("Submit error = %v; want the outcome found: nothing was stored", err)
	}
	if !cut.Load() {
		t.Fatal("the connection was never cut")
	}
	taken := 0
	if meanwhile != nil {
		taken = 1
	}
	if n := count(t, killer, "transactions"); n != 1+taken {
		t.Errorf("%d transactions stored, want %d (the warm-up and those stored meanwhile)", n, 1+taken)
	}
	// The key and the nonce were not used up.
	tx, created, err := s.Submit(t.Context(), transfer(acct, key), signer)
	if err != nil || !created || tx.Nonce != uint64(1+taken) {
		t.Errorf("retry = nonce %d, created %v, %v; want a new transfer with nonce %d", tx.Nonce, created, err, 1+taken)
	}
	storetest.CheckInvariants(t, s, acct)
	wantGapFree(t, killer)
}

// TestPoolExhausted has every pooled connection busy: a call waits for
// one only as long as its context allows, and the Submit holding it
// completes once its lock is free.
func TestPoolExhausted(t *testing.T) {
	t.Parallel()
	dsn := database(t, nil)
	s := open(t, dsn, &postgres.Options{MaxConns: 1})
	accts := fund(t, s, 2, 10*hold)
	// Another session holds the account's row, so the Submit's batch
	// waits on it with the pool's only connection.
	blocker := connect(t, dsn)
	lock, err := blocker.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(t.Context(), `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, accts[0]); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Submit(t.Context(), transfer(accts[0], "held"), sign)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the batch take the connection

	for name, call := range map[string]func(context.Context) error{
		"Account": func(ctx context.Context) error { _, err := s.Account(ctx, accts[1]); return err },
		"Credit": func(ctx context.Context) error {
			_, err := s.Credit(ctx, accts[1], big.NewInt(1), "waits")
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with the pool exhausted: %v, want context.DeadlineExceeded", name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s returned after %v, long after its deadline", name, d)
		}
	}
	// A Submit whose context ends while its batch waits gives up, and
	// nothing of it is stored.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, _, err = s.Submit(ctx, transfer(accts[1], "gives-up"), sign)
	cancel()
	if err == nil {
		t.Error("Submit with the pool exhausted succeeded before its deadline")
	}

	if err := lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Submit waiting on the lock: %v", err)
	}
	if _, err := s.Account(t.Context(), accts[1]); err != nil {
		t.Errorf("Account once the pool is free: %v", err)
	}
	c := connect(t, dsn)
	if n := count(t, c, "transactions"); n != 1 {
		t.Errorf("%d transactions stored, want 1", n)
	}
	storetest.CheckInvariants(t, s, accts...)
}
