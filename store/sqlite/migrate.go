package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	migs "github.com/go-consolidate/consolidate/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration = migs.Migration

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) { return migs.Load(migrationFiles) }

// migrate applies the migrations the database has not seen, all in one
// transaction: a crash leaves the schema as it was, and two processes
// opening the same new file do not both apply them (BEGIN IMMEDIATE
// serializes them; the second finds nothing to do).
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return apply(ctx, db, ms)
}

// apply applies those of ms, in version order, that db has not seen.
func apply(ctx context.Context, db *sql.DB, ms []migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return err
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return err
	}
	if n := len(ms); n > 0 && current > ms[n-1].Version {
		// An older library must not write to a schema it does not know.
		return fmt.Errorf("database schema version %d is newer than this library's %d", current, ms[n-1].Version)
	}
	now := time.Now().UnixNano()
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, m.Version, now); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return tx.Commit()
}
