package httpapi_test

import (
	"context"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// blindChain is a chain whose node sees no transaction while blind, so the
// Service's checks find nothing and its tasks end as dead letters.
type blindChain struct {
	consolidate.Chain
	blind atomic.Bool
}

func (c *blindChain) Statuses(ctx context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	if c.blind.Load() {
		return make([]consolidate.ChainStatus, len(hashes)), nil
	}
	return c.Chain.Statuses(ctx, hashes)
}

// Balance is the wrapped chain's: a blind node still reports the wallet's
// balance.
func (c *blindChain) Balance(ctx context.Context) (*big.Int, error) {
	return c.Chain.(consolidate.BalanceReader).Balance(ctx)
}

// parkingServer is a server whose transfers are dead-lettered after two
// checks a few milliseconds apart while bc is blind, once its worker runs
// (see work). Parked transfers are not re-checked on their own within the
// test.
func parkingServer(t *testing.T, o *serverOptions) (*server, *blindChain) {
	t.Helper()
	if o == nil {
		o = &serverOptions{}
	}
	bc := &blindChain{}
	o.chain = func(c consolidate.Chain) consolidate.Chain { bc.Chain = c; return bc }
	o.cfg.Backoff = consolidate.Backoff{Base: 5 * time.Millisecond, Max: 5 * time.Millisecond, Checks: 2}
	o.cfg.VoidDelay = time.Hour
	o.cfg.ParkedCheckInterval = time.Hour
	o.cfg.PollInterval = 10 * time.Millisecond
	return newServer(t, o), bc
}

// work runs the Service's worker until the test ends.
func (s *server) work() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.svc.Run(ctx)
	}()
	s.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// park submits a transfer of 1000 wei from acct, has it mined while the
// node is blind, and waits until it is parked. It returns its id.
func (s *server) park(bc *blindChain, acct int64) int64 {
	s.t.Helper()
	bc.blind.Store(true)
	r := s.do("POST", "/transactions", transfer(acct, alice, `"1000"`)).want(s.t, 201, "")
	id := int64(r.body["id"].(float64))
	s.sim.Commit()
	deadline := time.Now().Add(10 * time.Second)
	for !s.parked(id) {
		if time.Now().After(deadline) {
			s.t.Fatalf("transfer %d was never parked", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return id
}

// parked reports whether id is among the dead letters.
func (s *server) parked(id int64) bool {
	s.t.Helper()
	txs, err := s.svc.List(s.t.Context(), consolidate.Filter{Parked: true, Limit: 1000})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, tx := range txs {
		if tx.ID == id {
			return true
		}
	}
	return false
}

// waitStatus waits until transfer id has the status.
func (s *server) waitStatus(id int64, want consolidate.Status) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tx, err := s.svc.Get(s.t.Context(), id)
		if err == nil && tx.Status == want {
			return
		}
		if err == nil && tx.Status.Final() {
			s.t.Fatalf("transfer %d is %s, want %s", id, tx.Status, want)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("transfer %d: %v %v, want %s", id, tx.Status, err, want)
		}
		s.sim.Commit()
		time.Sleep(20 * time.Millisecond)
	}
}
