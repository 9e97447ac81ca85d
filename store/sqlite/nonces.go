package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/common"
)

const (
	sqlSelectNonce = `SELECT next FROM nonces WHERE sender = ?`
	// Hands out next and stores the one after it, in one statement; a
	// sender at the largest storable nonce gets no row back.
	sqlTakeNonce = `INSERT INTO nonces (sender, next) VALUES (?, 1)
		ON CONFLICT (sender) DO UPDATE SET next = next + 1 WHERE next < 9223372036854775807
		RETURNING next - 1`
	// max() makes SyncNonce monotonic even against a concurrent Submit.
	sqlSyncNonce = `INSERT INTO nonces (sender, next) VALUES (?, ?)
		ON CONFLICT (sender) DO UPDATE SET next = max(next, excluded.next)`
)

// nextNonce returns sender's next nonce. Outside a deferring batch it
// also stores the one after it. In one, the batch keeps each sender's
// next nonce in memory from its first read, takeNonce moves it on when a
// Submit is deferred, and finish stores it once for the batch.
func nextNonce(ctx context.Context, tx *wtx, sender common.Address) (uint64, error) {
	if !tx.deferring {
		var n int64
		err := tx.QueryRowContext(ctx, sqlTakeNonce, sender.Bytes()).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, errNoncesExhausted(sender)
		}
		return uint64(n), err
	}
	n, ok := tx.nonces[sender]
	if !ok {
		err := tx.QueryRowContext(ctx, sqlSelectNonce, sender.Bytes()).Scan(&n)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
		if tx.nonces == nil {
			tx.nonces = make(map[common.Address]int64)
		}
		tx.nonces[sender] = n
	}
	if n == math.MaxInt64 {
		return 0, errNoncesExhausted(sender)
	}
	return uint64(n), nil
}

func errNoncesExhausted(sender common.Address) error {
	return fmt.Errorf("sender %s: nonces exhausted at %d", sender, int64(math.MaxInt64))
}

// takeNonce records that nonce, which nextNonce returned, is used.
func (t *wtx) takeNonce(sender common.Address, nonce uint64) {
	t.nonces[sender] = int64(nonce) + 1
}

// saveNonces stores the next nonces a deferring batch kept in memory.
func (t *wtx) saveNonces(ctx context.Context) error {
	for sender, n := range t.nonces {
		if _, err := t.ExecContext(ctx, sqlSyncNonce, sender.Bytes(), n); err != nil {
			return err
		}
	}
	return nil
}

// SyncNonce raises the next nonce handed out for sender to at least next.
func (s *Store) SyncNonce(ctx context.Context, sender common.Address, next uint64) error {
	n, err := toInt64("nonce", next)
	if err != nil {
		return wrap("sync nonce", err)
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		// A batch that keeps sender's nonce in memory stores it later.
		if cur, ok := tx.nonces[sender]; ok {
			tx.nonces[sender] = max(cur, n)
			return nil
		}
		_, err := tx.ExecContext(ctx, sqlSyncNonce, sender[:], n)
		return err
	})
	if err != nil {
		return wrap("sync nonce", err)
	}
	return nil
}
