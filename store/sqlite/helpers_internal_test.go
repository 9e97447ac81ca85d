package sqlite

import (
	"context"
	"database/sql"
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

// queryStrings returns the one text column of a query's rows, in order.
func queryStrings(tb testing.TB, db *sql.DB, query string, args ...any) []string {
	tb.Helper()
	return queryColumn[string](tb, db, query, args...)
}

// queryColumn returns the one column of a query's rows, in order.
func queryColumn[T any](tb testing.TB, db *sql.DB, query string, args ...any) []T {
	tb.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			tb.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}
