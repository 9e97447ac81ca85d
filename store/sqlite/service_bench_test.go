package sqlite_test

import (
	"context"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// instantChain signs for real but quotes from a fixed quote and accepts
// every broadcast at once, so a benchmark measures the library and the
// disk rather than a node.
type instantChain struct {
	*chain.Chain
	quote consolidate.Quote
}

func (c *instantChain) Quote(context.Context, common.Address, *big.Int) (consolidate.Quote, error) {
	return c.quote, nil
}

func (c *instantChain) Broadcast(context.Context, []byte) error { return nil }

// benchService is a Service on a SQLite file with in-process backends and
// one account funded for any number of transfers.
func benchService(b *testing.B) (*consolidate.Service, int64) {
	b.Helper()
	store, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	sim := chaintest.NewT(b, nil)
	real, err := sim.NewChain(nil)
	if err != nil {
		b.Fatal(err)
	}
	q, err := real.Quote(b.Context(), common.HexToAddress("0x02"), big.NewInt(1))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := consolidate.New(store, &instantChain{Chain: real, quote: q}, &consolidate.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	acct, err := svc.CreateAccount(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Credit(b.Context(), acct.ID, new(big.Int).Lsh(big.NewInt(1), 200), "fund"); err != nil {
		b.Fatal(err)
	}
	return svc, acct.ID
}

// BenchmarkSubmit is one Service.Submit after another: validation, account
// lock, real secp256k1 signing, one durable SQLite commit, cache fill and
// enqueue. Compare with BenchmarkRawCommit, a bare single-row commit on the
// same kind of file.
func BenchmarkSubmit(b *testing.B) {
	svc, acct := benchService(b)
	req := consolidate.SubmitRequest{AccountID: acct, To: common.HexToAddress("0x02"), Amount: big.NewInt(1)}
	for b.Loop() {
		if _, err := svc.Submit(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}
