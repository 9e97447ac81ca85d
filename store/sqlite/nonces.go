package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

const (
	sqlSelectNonce = `SELECT next FROM nonces WHERE sender = ?`
	sqlUpsertNonce = `INSERT INTO nonces (sender, next) VALUES (?, ?)
		ON CONFLICT (sender) DO UPDATE SET next = excluded.next`
	// max() makes SyncNonce monotonic even against a concurrent Submit.
	sqlSyncNonce = `INSERT INTO nonces (sender, next) VALUES (?, ?)
		ON CONFLICT (sender) DO UPDATE SET next = max(next, excluded.next)`
)

// nextNonce reads the sender's next nonce and stores the one after it.
func nextNonce(ctx context.Context, tx *wtx, p consolidate.SubmitParams) (uint64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, sqlSelectNonce, p.From.Bytes()).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	after, err := toInt64("nonce", uint64(n)+1)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, sqlUpsertNonce, p.From.Bytes(), after); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// SyncNonce raises the next nonce handed out for sender to at least next.
func (s *Store) SyncNonce(ctx context.Context, sender common.Address, next uint64) error {
	n, err := toInt64("nonce", next)
	if err != nil {
		return fmt.Errorf("consolidate: sqlite: sync nonce: %w", err)
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, sqlSyncNonce, sender[:], n)
		return err
	})
	if err != nil {
		return fmt.Errorf("consolidate: sqlite: sync nonce: %w", err)
	}
	return nil
}
