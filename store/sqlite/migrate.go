package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
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
//
// Foreign keys are off while it runs and checked in full before it
// commits: a migration that rebuilds a table others refer to (0007) drops
// the old table, which with foreign keys on would fail or cascade. The
// pragma has no effect inside a transaction, so it is set on the
// connection around it.
func apply(ctx context.Context, db *sql.DB, ms []migration) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer func() {
		// A connection left without foreign keys must not serve writes:
		// failing here fails the Open.
		if _, onErr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); onErr != nil && err == nil {
			err = fmt.Errorf("turn foreign keys back on: %w", onErr)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
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
	applied := false
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
		applied = true
	}
	if applied {
		if err := foreignKeysHold(ctx, tx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// foreignKeysHold fails if any row refers to a row that is not there.
func foreignKeysHold(ctx context.Context, tx *sql.Tx) error {
	var (
		table, parent string
		rowid         sql.NullInt64
		fk            int
	)
	err := tx.QueryRowContext(ctx, `PRAGMA foreign_key_check`).Scan(&table, &rowid, &parent, &fk)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("after the migrations, a row of %s (rowid %v) refers to a missing row of %s", table, rowid.Int64, parent)
}
