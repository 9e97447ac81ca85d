package consolidate_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// A node that lost the wallet's transactions takes back only a few dozen
// beyond its next nonce (go-ethereum queues 64 per account and drops the
// rest, answering each with success). One check of any lost transfer must
// hand the node the wallet's lowest open nonces again, in order, so that
// the whole backlog can be mined, rather than leave every transfer to
// land in the node's window by chance at its own check.
func TestReconcileRefillsLostNonces(t *testing.T) {
	e := newEnv(t, nil)
	e.sim.Commit() // past the node's first indexing of an empty chain
	a := e.funded(new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil))
	to := common.HexToAddress("0x00000000000000000000000000000000c0ffee00")
	const n = 150 // well beyond the node's 64 queued transactions per account
	txs := make([]int64, n)
	for i := range txs {
		txs[i] = e.submit(a.ID, to, big.NewInt(1)).ID
	}
	e.sim.Rollback() // the node forgets every one of them

	// The newest transfers are checked first, as a worker's batch may
	// find them: each is lost, and the nonces below it are too.
	for i := n - 1; i >= n-3; i-- {
		e.reconcile(txs[i])
	}
	// Blocks alone, with no further check, must now take every one. A
	// block built on a loaded machine may stop short of the pool (the
	// node bounds the time it spends building), so allow a few.
	var got uint64
	for range 5 {
		e.sim.Commit()
		var err error
		if got, err = e.sim.Client().NonceAt(t.Context(), e.sim.Sender(), nil); err != nil {
			t.Fatal(err)
		}
		if got == n {
			break
		}
	}
	if got != n {
		t.Fatalf("after five blocks the wallet's nonce is %d, want %d: the node did not get the lost transfers back in order", got, n)
	}
	for _, id := range txs {
		if tx := e.mineUntilFinal(id); tx.Status != "SUCCESSFUL" {
			t.Fatalf("transfer %d is %s", id, tx.Status)
		}
	}
	e.invariants(a.ID)
}
