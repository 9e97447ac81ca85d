package sqlite

import (
	"context"
	"testing"

	"github.com/go-consolidate/consolidate"
)

// openWithAccount opens a store at path, closed when the test ends, with
// one new account in it.
func openWithAccount(tb testing.TB, path string, opts *Options) (*Store, consolidate.Account) {
	tb.Helper()
	s, err := Open(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	a, err := s.CreateAccount(context.Background(), consolidate.NewAccount{})
	if err != nil {
		tb.Fatal(err)
	}
	return s, a
}
