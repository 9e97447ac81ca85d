package postgres_test

import (
	"context"
	"testing"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// open opens a Store on dsn, closed when t ends.
func open(t testing.TB, dsn string, opts *postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// semantics is a server for tests of behaviour, not of durability: with
// fsync off a commit costs no disk flush, and nothing else changes short
// of a crash of the whole machine.
var semantics = &pgtest.Options{Settings: map[string]string{"fsync": "off"}}

// database returns the DSN of a new database of its own for t, on the
// server this process shares among tests with opts. It is a copy of one
// migrated once, which is faster than migrating each.
func database(t testing.TB, opts *pgtest.Options) string {
	t.Helper()
	return pgtest.Shared(t, opts).CreateDatabaseFrom(t, "migrated", func(ctx context.Context, dsn string) error {
		s, err := postgres.Open(ctx, dsn, nil)
		if err != nil {
			return err
		}
		return s.Close()
	})
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) consolidate.Store {
		s, err := postgres.Open(t.Context(), database(t, semantics), nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestConformanceNoBatching runs the suite with group commit off: every
// Submit is a transaction of its own.
func TestConformanceNoBatching(t *testing.T) {
	storetest.Run(t, func(t *testing.T) consolidate.Store {
		s, err := postgres.Open(t.Context(), database(t, semantics), &postgres.Options{MaxBatch: 1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
