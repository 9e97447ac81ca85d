package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/go-consolidate/consolidate"
)

const txColumns = `id, account_id, sender, recipient, token, amount, fee_total, fee_blockchain,
	nonce, hash, raw, status, version, idempotency_key, block_number, block_hash,
	checks, next_check_at, created_at, updated_at`

const (
	sqlSelectTransaction = `SELECT ` + txColumns + ` FROM transactions WHERE id = ?`
	// Walks the (account_id, id) index backwards from before: the cost is
	// the page size, not the account's history.
	sqlSelectTransactions = `SELECT ` + txColumns + ` FROM transactions
		WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?`
	sqlAccountExists = `SELECT 1 FROM accounts WHERE id = ?`
)

// qualified prefixes each of a list of columns with table and a dot.
func qualified(table, columns string) string {
	cs := strings.Split(columns, ",")
	for i, c := range cs {
		cs[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cs, ", ")
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanTransaction reads a row of txColumns, and after them into extra.
func scanTransaction(sc scanner, extra ...any) (consolidate.Transaction, error) {
	var (
		t                                    consolidate.Transaction
		sender, recipient, tok               []byte
		amount, feeTotal                     []byte
		feeChain, hash, blockHash            []byte
		nonce, blockNumber, created, updated int64
		status                               string
		key                                  sql.NullString
		next                                 sql.NullInt64
	)
	dest := append([]any{&t.ID, &t.AccountID, &sender, &recipient, &tok, &amount, &feeTotal, &feeChain,
		&nonce, &hash, &t.Raw, &status, &t.Version, &key, &blockNumber, &blockHash,
		&t.Checks, &next, &created, &updated}, extra...)
	err := sc.Scan(dest...)
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
	t.Status = consolidate.Status(status)
	t.IdempotencyKey = key.String
	t.NextCheckAt = fromNullTime(next)
	t.CreatedAt = fromUnixNano(created)
	t.UpdatedAt = fromUnixNano(updated)
	return t, nil
}

func loadTransaction(ctx context.Context, q queryer, id int64) (consolidate.Transaction, error) {
	t, err := scanTransaction(q.QueryRowContext(ctx, sqlSelectTransaction, id))
	if err != nil {
		return consolidate.Transaction{}, notFound(err, "transaction", id)
	}
	return t, nil
}

// Transaction returns one transaction, or ErrNotFound.
func (s *Store) Transaction(ctx context.Context, id int64) (consolidate.Transaction, error) {
	if err := s.ready(ctx); err != nil {
		return consolidate.Transaction{}, wrap("transaction", err)
	}
	t, err := loadTransaction(ctx, s.r, id)
	if err != nil {
		return consolidate.Transaction{}, wrap("transaction", err)
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
		rows, err := s.r.QueryContext(ctx, sqlSelectTransactions, accountID, before, limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTransaction(rows)
			if err != nil {
				return nil, err
			}
			txs = append(txs, t)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if len(txs) == 0 {
		// Only an empty page pays for telling "no such account" apart.
		var one int
		if err := s.r.QueryRowContext(ctx, sqlAccountExists, accountID).Scan(&one); err != nil {
			return nil, notFound(err, "account", accountID)
		}
	}
	return txs, nil
}
