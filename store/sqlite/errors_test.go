package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestErrorText checks the refusals of this store alone, beyond those of
// the Store interface the conformance suite checks.
func TestErrorText(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	closed := open(t, sqlite.Memory)
	closed.Close()
	storetest.CheckErrorText(t, []storetest.ErrorCase{
		{Name: "closed store", Call: func() error {
			_, err := closed.List(ctx, consolidate.Filter{Limit: 1})
			return err
		}, Want: consolidate.ErrClosed},
		{Name: "closed store, write", Call: func() error {
			_, err := closed.CreateAccount(ctx, consolidate.NewAccount{})
			return err
		}, Want: consolidate.ErrClosed},
		{Name: "invalid config", Call: func() error {
			_, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), &sqlite.Options{MaxBatch: -1})
			return err
		}, Want: consolidate.ErrInvalidConfig},
	})
}
