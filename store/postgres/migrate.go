package postgres

import (
	"context"
	"embed"
	"fmt"

	migs "github.com/go-consolidate/consolidate/internal/migrations"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration = migs.Migration

// migrationLock is the key of the advisory lock that serializes
// migrations: any 64-bit number no other application on the database
// uses; these are the bytes of "consolid".
const migrationLock int64 = 0x636f6e736f6c6964

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) { return migs.Load(migrationFiles) }

// migrate applies the migrations the database has not seen, all in one
// transaction: PostgreSQL's DDL is transactional, so a crash leaves the
// schema as it was. Processes starting together queue on an advisory
// lock held until that transaction ends; the later ones find nothing to
// do.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return apply(ctx, pool, ms)
}

// apply applies those of ms, in version order, that the database has not
// seen.
func apply(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    INTEGER PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
			return err
		}
		if n := len(ms); n > 0 && current > ms[n-1].Version {
			// An older library must not write to a schema it does not know.
			return fmt.Errorf("database schema version %d is newer than this library's %d", current, ms[n-1].Version)
		}
		for _, m := range ms {
			if m.Version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.Version); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		return nil
	})
}
