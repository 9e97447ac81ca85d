package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
)

const (
	sqlLockTransaction = sqlSelectTransaction + ` FOR UPDATE`
	// Relative, in NUMERIC: the CHECK constraints refuse a result that
	// breaks 0 ≤ available ≤ current.
	sqlSettleAccount = `UPDATE accounts SET available = available + $2::numeric, current = current - $3::numeric,
		updated_at = $4 WHERE id = $1`
	// Guarded by status = 'PENDING', so a final row can never change again.
	sqlSettle = `UPDATE transactions SET status = $2, version = version + 1, hash = $3, raw = $4,
		fee_blockchain = $5::numeric, block_number = $6, block_hash = $7, next_check_at = NULL, updated_at = $8
		WHERE id = $1 AND status = 'PENDING' RETURNING ` + txColumns
)

// Settle applies a final outcome to a PENDING transaction; see
// consolidate.Store. A zero st.At means the current time.
//
// A non-zero st.Hash must be one of the transaction's attempts, or Settle
// changes nothing and fails with ErrNotFound; the transaction's Hash and
// Raw become that attempt's. FeeBlockchain, BlockNumber and BlockHash are
// stored as given for every outcome.
func (s *Store) Settle(ctx context.Context, id int64, st consolidate.Settlement) (consolidate.Transaction, error) {
	t, err := s.settle(ctx, id, st)
	if err != nil {
		return t, wrap("settle", err)
	}
	return t, nil
}

func (s *Store) settle(ctx context.Context, id int64, st consolidate.Settlement) (consolidate.Transaction, error) {
	switch st.Outcome {
	case consolidate.OutcomeSuccess, consolidate.OutcomeReverted, consolidate.OutcomeDropped:
	default:
		return consolidate.Transaction{}, fmt.Errorf("%w: transaction %d: invalid outcome %d", consolidate.ErrInvalidArgument, id, int(st.Outcome))
	}
	feeChain, err := optionalAmount(st.FeeBlockchain)
	if err != nil {
		return consolidate.Transaction{}, fmt.Errorf("%w: blockchain fee %v", err, st.FeeBlockchain)
	}
	block, err := toInt64("block number", st.BlockNumber)
	if err != nil {
		return consolidate.Transaction{}, err
	}
	at := dbTime(nowOr(st.At))

	var out consolidate.Transaction
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		out = consolidate.Transaction{}
		t, err := scanTransaction(tx.QueryRow(ctx, sqlLockTransaction, id))
		if err != nil {
			return notFound(err, "transaction", id)
		}
		if t.Status != consolidate.StatusPending {
			out = t // a duplicate delivery learns the outcome
			return fmt.Errorf("%w: transaction %d is %s", consolidate.ErrNotPending, id, t.Status)
		}
		hash, raw, err := landed(ctx, tx, t, st.Hash)
		if err != nil {
			return err
		}
		back, spent := settled(t, st.Outcome)
		b := &pgx.Batch{}
		b.Queue(sqlSettleAccount, t.AccountID, back.String(), spent.String(), at)
		// A reservation settled without an attempt keeps its NULL hash
		// and raw bytes.
		b.Queue(sqlSettle, id, string(st.Outcome.Status()), nullHash(hash), raw,
			feeChain, block, nullHash(st.BlockHash), at).QueryRow(func(row pgx.Row) error {
			out, err = scanTransaction(row)
			return err
		})
		b.Queue(sqlInsertEvent, eventType(st.Outcome), id, t.AccountID, string(st.Outcome.Status()), at)
		return tx.SendBatch(ctx, b).Close()
	})
	return out, err
}

func eventType(o consolidate.Outcome) string {
	if o.Status() == consolidate.StatusFailed {
		return consolidate.EventFailed
	}
	return consolidate.EventSuccessful
}

// landed returns the hash and bytes t settles with: those of the attempt
// named by hash, which must be one of t's, or t's own if hash is zero
// (none, for a reservation that was never signed).
func landed(ctx context.Context, tx pgx.Tx, t consolidate.Transaction, hash common.Hash) (common.Hash, []byte, error) {
	if hash == (common.Hash{}) || hash == t.Hash {
		return t.Hash, t.Raw, nil
	}
	owner, a, err := attemptByHash(ctx, tx, hash)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && owner != t.ID {
		return common.Hash{}, nil, fmt.Errorf("%w: transaction %d has no attempt %s", consolidate.ErrNotFound, t.ID, hash)
	}
	if err != nil {
		return common.Hash{}, nil, err
	}
	return hash, a.raw, nil
}

// settled returns what t's outcome o gives back to the available balance
// and takes from the current one, by the money rules: the hold leaves
// current on success, the amount returns on a revert (the fee is
// charged), everything returns when the transfer was dropped.
func settled(t consolidate.Transaction, o consolidate.Outcome) (back, spent *big.Int) {
	hold := new(big.Int).Add(t.Amount, t.FeeTotal)
	switch o {
	case consolidate.OutcomeSuccess:
		return new(big.Int), hold
	case consolidate.OutcomeReverted:
		return new(big.Int).Set(t.Amount), new(big.Int).Set(t.FeeTotal)
	default:
		return hold, new(big.Int)
	}
}
