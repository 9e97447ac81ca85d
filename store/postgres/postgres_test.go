package postgres_test

import (
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

func TestConformance(t *testing.T) {
	srv := pgtest.Start(t, semantics)
	storetest.Run(t, func(t *testing.T) consolidate.Store {
		s, err := postgres.Open(t.Context(), srv.CreateDatabase(t), nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestConformanceNoBatching runs the suite with group commit off: every
// Submit is a transaction of its own.
func TestConformanceNoBatching(t *testing.T) {
	srv := pgtest.Start(t, semantics)
	storetest.Run(t, func(t *testing.T) consolidate.Store {
		s, err := postgres.Open(t.Context(), srv.CreateDatabase(t), &postgres.Options{MaxBatch: 1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
