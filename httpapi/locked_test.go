package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// gateLocker makes "two submits at once" deterministic. The account lock is
// held only for the store write, so two concurrent requests would usually
// run one after the other and both succeed. gateLocker lets whichever
// request wins the lock hold it until the other has been refused by the
// real MemoryLocker underneath; the refusal then travels the handler's real
// path to a 409.
type gateLocker struct {
	consolidate.Locker
	once    sync.Once
	refused chan struct{}
}

func (g *gateLocker) Lock(ctx context.Context, key string, ttl time.Duration) (consolidate.Lease, error) {
	lease, err := g.Locker.Lock(ctx, key, ttl)
	switch {
	case errors.Is(err, consolidate.ErrAccountLocked):
		g.once.Do(func() { close(g.refused) })
	case err == nil:
		select {
		case <-g.refused:
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			// The other request never came; it will then succeed too,
			// and the test says so.
		}
	}
	return lease, err
}

func TestConcurrentSubmitsOneLocked(t *testing.T) {
	t.Parallel()
	gate := &gateLocker{Locker: consolidate.NewMemoryLocker(), refused: make(chan struct{})}
	s := newServer(t, &serverOptions{cfg: consolidate.Config{Locker: gate}})
	acct := s.account(ether)

	start := make(chan struct{})
	reqs := make([]*http.Request, 2)
	replies := make([]reply, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, to := range []string{alice, bob} {
		req, err := http.NewRequest("POST", s.url+"/transactions", strings.NewReader(transfer(acct, to, `"1000"`)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		reqs[i] = req
		wg.Go(func() {
			<-start
			replies[i], errs[i] = roundTrip(req)
		})
	}
	close(start)
	wg.Wait()
	for i := range reqs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		s.check(reqs[i], replies[i])
	}

	created, locked := 0, 0
	for _, r := range replies {
		switch {
		case r.status == 201:
			created++
		case r.status == 409 && r.code() == "account_locked":
			locked++
			if msg := r.body["error"].(map[string]any)["message"]; msg != "account is locked by another operation, try again later" {
				t.Errorf("409 message %q", msg)
			}
			if r.header.Get("Retry-After") == "" {
				t.Error("409 without Retry-After")
			}
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if created != 1 || locked != 1 {
		t.Fatalf("%d created and %d locked, want one of each", created, locked)
	}
	if avail, _ := s.balances(acct); avail != "999949999999999000" {
		t.Fatalf("available %s, want one transfer held", avail)
	}
	// Once the first is done, the account takes submits again.
	s.do("POST", "/transactions", transfer(acct, bob, `"1000"`)).want(t, 201, "")
}

func TestLockBackendDownIs503(t *testing.T) {
	t.Parallel()
	s := newServer(t, &serverOptions{cfg: consolidate.Config{Locker: downLocker{}}})
	acct := s.account(ether)
	r := s.do("POST", "/transactions", transfer(acct, alice, `"1"`)).want(t, 503, "unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

type downLocker struct{}

func (downLocker) Lock(context.Context, string, time.Duration) (consolidate.Lease, error) {
	return nil, errors.New("dial tcp 127.0.0.1:6379: connection refused")
}
