package postgres

import (
	"context"
	"fmt"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/internal/batchread"
	"github.com/jackc/pgx/v5"
)

const sqlSelectAttemptsByID = `SELECT transaction_id, ` + attemptColumns + ` FROM attempts
	WHERE transaction_id = ANY($1) ORDER BY transaction_id, seq`

// TransactionsWithAttempts reads the transactions of ids and then their
// attempts: two statements sent together, one round trip to the server,
// run in that order; see consolidate.BatchReader.
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
	b := &pgx.Batch{}
	b.Queue(sqlSelectReplays, ids)
	b.Queue(sqlSelectAttemptsByID, ids)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	txs, err := pgx.CollectRows(rows, collectTransaction)
	if err != nil {
		return nil, err
	}
	for _, t := range txs {
		answer.Transaction(t)
	}
	if rows, err = br.Query(); err != nil {
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
