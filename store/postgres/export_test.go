package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SetBatchSentHook has f run on the connection of every batch of s
// whose writes and COMMIT have been sent, before their results are read.
// Set it before the first Submit.
func SetBatchSentHook(s *Store, f func(*pgx.Conn)) { s.batchSent = f }

// MigrateTo applies the embedded migrations up to version to the
// database at dsn, leaving it as a release with that schema version
// would have.
func MigrateTo(ctx context.Context, dsn string, version int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var upTo []migration
	for _, m := range ms {
		if m.Version <= version {
			upTo = append(upTo, m)
		}
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return apply(ctx, pool, upTo)
}
