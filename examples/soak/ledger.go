package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/sqlite"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the audit
)

// openStore opens the ledger: the PostgreSQL database with -postgres,
// else the SQLite file, as examples/server does.
func openStore(ctx context.Context, c config) (consolidate.Store, error) {
	if c.postgres != "" {
		s, err := postgres.Open(ctx, c.postgres, nil)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := sqlite.Open(c.db, nil)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openAudit opens the ledger for the drain and the audit, which read its
// tables directly rather than through the library.
func openAudit(c config) (*sql.DB, error) {
	if c.postgres != "" {
		return sql.Open("pgx", c.postgres)
	}
	return sql.Open("sqlite", "file:"+c.db+"?mode=ro&_pragma=busy_timeout(5000)")
}

// ledgerName says where the ledger is, for the summary; never the DSN,
// which may hold a password.
func ledgerName(c config) string {
	if c.postgres != "" {
		return "PostgreSQL"
	}
	return "SQLite " + c.db
}

// money scans an amount of wei: SQLite stores it as a big-endian blob,
// PostgreSQL as NUMERIC, which database/sql hands over as decimal text.
// NULL scans as nil.
type money struct{ v **big.Int }

func (m money) Scan(src any) error {
	switch x := src.(type) {
	case nil:
		*m.v = nil
	case []byte:
		*m.v = new(big.Int).SetBytes(x)
	case string:
		v, ok := new(big.Int).SetString(x, 10)
		if !ok {
			return fmt.Errorf("amount %q is not an integer", x)
		}
		*m.v = v
	default:
		return fmt.Errorf("amount of type %T", src)
	}
	return nil
}
