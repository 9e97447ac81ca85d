package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
)

const txColumns = `id, account_id, sender, recipient, token, amount::text, fee_total::text, fee_blockchain::text,
	nonce, hash, raw, status, version, idempotency_key, block_number, block_hash,
	checks, next_check_at, created_at, updated_at`

const (
	sqlSelectTransaction = `SELECT ` + txColumns + ` FROM transactions WHERE id = $1`
	// Walks the (account_id, id) index backwards from before: the cost is
	// the page size, not the account's history.
	sqlSelectTransactions = `SELECT ` + txColumns + ` FROM transactions
		WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`
	sqlAccountExists = `SELECT 1 FROM accounts WHERE id = $1`
)

// scanTransaction reads txColumns.
func scanTransaction(row pgx.Row) (consolidate.Transaction, error) {
	var (
		t                       consolidate.Transaction
		sender, recipient, tok  []byte
		amount, feeTotal        string
		feeChain                *string
		hash, blockHash         []byte
		nonce, blockNumber, ver int64
		status                  string
		key                     *string
		checks                  int32
		next                    *time.Time
	)
	err := row.Scan(&t.ID, &t.AccountID, &sender, &recipient, &tok, &amount, &feeTotal, &feeChain,
		&nonce, &hash, &t.Raw, &status, &ver, &key, &blockNumber, &blockHash,
		&checks, &next, &t.CreatedAt, &t.UpdatedAt)
	if err != nil {
		return consolidate.Transaction{}, err
	}
	var errs [8]error
	t.From, errs[0] = decodeAddress(sender)
	t.To, errs[1] = decodeAddress(recipient)
	t.Amount, errs[2] = decodeAmount(amount)
	t.FeeTotal, errs[3] = decodeAmount(feeTotal)
	t.FeeBlockchain, errs[4] = decodeOptionalAmount(feeChain)
	t.Hash, errs[5] = decodeHash(hash)
	t.BlockHash, errs[6] = decodeHash(blockHash)
	t.Token, errs[7] = decodeToken(tok)
	if err := errors.Join(errs[:]...); err != nil {
		return consolidate.Transaction{}, fmt.Errorf("transaction %d: %w", t.ID, err)
	}
	t.Nonce = uint64(nonce)
	t.BlockNumber = uint64(blockNumber)
	t.Version = ver
	t.Checks = int(checks)
	t.Status = consolidate.Status(status)
	if key != nil {
		t.IdempotencyKey = *key
	}
	t.NextCheckAt = fromNullTime(next)
	return t, nil
}

func collectTransaction(row pgx.CollectableRow) (consolidate.Transaction, error) {
	return scanTransaction(row)
}

// Transaction returns one transaction, or ErrNotFound.
func (s *Store) Transaction(ctx context.Context, id int64) (consolidate.Transaction, error) {
	if err := s.ready(ctx); err != nil {
		return consolidate.Transaction{}, wrap("transaction", err)
	}
	t, err := scanTransaction(s.pool.QueryRow(ctx, sqlSelectTransaction, id))
	if err != nil {
		return consolidate.Transaction{}, wrap("transaction", notFound(err, "transaction", id))
	}
	return t, nil
}

// Transactions lists an account's transactions newest first, those with
// ID < before when before > 0, at most limit of them. An unknown account
// is ErrNotFound; limit ≤ 0 returns none.
func (s *Store) Transactions(ctx context.Context, accountID int64, before int64, limit int) ([]consolidate.Transaction, error) {
	txs, err := s.transactions(ctx, accountID, before, limit)
	if err != nil {
		return nil, wrap("transactions", err)
	}
	return txs, nil
}

func (s *Store) transactions(ctx context.Context, accountID int64, before int64, limit int) ([]consolidate.Transaction, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	var txs []consolidate.Transaction
	if limit > 0 {
		rows, err := s.pool.Query(ctx, sqlSelectTransactions, accountID, before, limit)
		if err != nil {
			return nil, err
		}
		txs, err = pgx.CollectRows(rows, collectTransaction)
		if err != nil {
			return nil, err
		}
	}
	if len(txs) == 0 {
		// Only an empty page pays for telling "no such account" apart.
		var one int
		if err := s.pool.QueryRow(ctx, sqlAccountExists, accountID).Scan(&one); err != nil {
			return nil, notFound(err, "account", accountID)
		}
	}
	return txs, nil
}
