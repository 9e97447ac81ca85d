package chaintest_test

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// Once Commit returns, the node answers lookups of unknown transactions
// with "not found", not with "transaction indexing is in progress": on a
// fresh chain the indexer's first pass runs in the background.
func TestCommitWaitsForTheIndexer(t *testing.T) {
	t.Parallel()
	for range 20 {
		c := chaintest.NewT(t, nil)
		c.Commit()
		_, err := c.Client().TransactionReceipt(t.Context(), common.Hash{1})
		if !errors.Is(err, ethereum.NotFound) {
			t.Fatalf("receipt of an unknown transaction right after Commit: %v, want not found", err)
		}
		c.Close()
	}
}
