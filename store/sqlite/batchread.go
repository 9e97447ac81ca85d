package sqlite

import (
	"context"
	"fmt"
	"strconv"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/batchread"
)

// Both reads take their ids as one JSON array, so that one prepared
// statement serves every batch size; each id is a primary-key lookup.
const (
	sqlSelectTransactionsByID = `SELECT ` + txColumns + ` FROM transactions
		WHERE id IN (SELECT value FROM json_each(?))`
	sqlSelectAttemptsByID = `SELECT transaction_id, ` + attemptColumns + ` FROM attempts
		WHERE transaction_id IN (SELECT value FROM json_each(?)) ORDER BY transaction_id, seq`
)

// TransactionsWithAttempts reads the transactions of ids and then their
// attempts, in two statements; see consolidate.BatchReader.
func (s *Store) TransactionsWithAttempts(ctx context.Context, ids []int64) ([]consolidate.TransactionWithAttempts, error) {
	out, err := s.withAttempts(ctx, ids)
	if err != nil {
		return nil, wrap("transactions with attempts", err)
	}
	return out, nil
}

func (s *Store) withAttempts(ctx context.Context, ids []int64) ([]consolidate.TransactionWithAttempts, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	answer := batchread.New(ids)
	if len(ids) == 0 {
		return answer.Entries(), nil
	}
	list := jsonIDs(ids)
	rows, err := s.r.QueryContext(ctx, sqlSelectTransactionsByID, list)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTransaction(rows)
		if err != nil {
			return nil, err
		}
		answer.Transaction(t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if rows, err = s.r.QueryContext(ctx, sqlSelectAttemptsByID, list); err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		r, err := scanAttemptRow(rows, &id)
		if err != nil {
			return nil, err
		}
		a, err := r.decode()
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", id, err)
		}
		answer.Attempt(id, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return answer.Entries(), nil
}

// jsonIDs writes ids as a JSON array.
func jsonIDs(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}
