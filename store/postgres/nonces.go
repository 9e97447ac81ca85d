package postgres

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
)

// GREATEST makes SyncNonce monotonic even against a concurrent Submit,
// whose row lock it waits for.
const sqlSyncNonce = `INSERT INTO nonces (sender, next) VALUES ($1, $2)
	ON CONFLICT (sender) DO UPDATE SET next = GREATEST(nonces.next, excluded.next)`

// SyncNonce raises the next nonce handed out for sender to at least next.
func (s *Store) SyncNonce(ctx context.Context, sender common.Address, next uint64) error {
	n, err := toInt64("nonce", next)
	if err == nil {
		err = s.ready(ctx)
	}
	if err == nil {
		_, err = s.pool.Exec(ctx, sqlSyncNonce, sender.Bytes(), n)
	}
	if err != nil {
		return wrap("sync nonce", err)
	}
	return nil
}
