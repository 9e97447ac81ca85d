package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// Every statement that changes a transaction is guarded by
// status = 'PENDING', so a final row can never change again.
const (
	// A NULL hash and raw keep the transaction's own, or its lack of one:
	// a reservation settled without a signature.
	sqlSettle = `UPDATE transactions SET status = ?, version = version + 1,
		hash = coalesce(?, hash), raw = coalesce(?, raw),
		fee_blockchain = ?, block_number = ?, block_hash = ?, next_check_at = NULL, updated_at = ?
		WHERE id = ? AND status = 'PENDING'`
)

// Settle applies a final outcome to a PENDING transaction; see
// consolidate.Store. A zero st.At means the current time.
//
// A non-zero st.Hash must be one of the transaction's attempts, or Settle
// changes nothing and fails with ErrNotFound; the transaction's Hash and
// Raw become that attempt's. A zero st.Hash keeps them, so a reservation
// never signed (voided with OutcomeDropped) keeps the zero Hash and nil
// Raw. FeeBlockchain, BlockNumber and BlockHash are
// stored as given for every outcome: for OutcomeDropped they describe the
// cancel that landed, if one did. The wallet paid for it, the account is
// still refunded in full.
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
	var feeChain []byte
	if st.FeeBlockchain != nil {
		var err error
		if feeChain, err = encodeAmount(st.FeeBlockchain); err != nil {
			return consolidate.Transaction{}, fmt.Errorf("%w: blockchain fee %v", err, st.FeeBlockchain)
		}
	}
	block, err := toInt64("block number", st.BlockNumber)
	if err != nil {
		return consolidate.Transaction{}, err
	}
	at := nowOr(st.At)

	var out consolidate.Transaction
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		out = consolidate.Transaction{}
		t, err := loadTransaction(ctx, tx, id)
		if err != nil {
			return err
		}
		if t.Status != consolidate.StatusPending {
			out = t
			return fmt.Errorf("%w: transaction %d is %s", consolidate.ErrNotPending, id, t.Status)
		}
		hash, raw, err := landed(ctx, tx, t, st.Hash)
		if err != nil {
			return err
		}
		a, err := loadAccount(ctx, tx, t.AccountID)
		if err != nil {
			return err
		}
		if err := saveBalances(ctx, tx, a.ID, settled(a, t, st.Outcome), at); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, sqlSettle, string(st.Outcome.Status()), hash, raw,
			feeChain, block, nullHash(st.BlockHash), unixNano(at), id)
		if err != nil {
			return err
		}
		if err := oneRow(res, id); err != nil {
			return err
		}
		typ := consolidate.EventSuccessful
		if st.Outcome.Status() == consolidate.StatusFailed {
			typ = consolidate.EventFailed
		}
		if err := insertEvent(ctx, tx, typ, id, t.AccountID, st.Outcome.Status(), at); err != nil {
			return err
		}
		out, err = loadTransaction(ctx, tx, id)
		return err
	})
	return out, err
}

// landed returns the hash and bytes t settles with, as sqlSettle takes
// them: those of the attempt named by hash, which must be one of t's, or
// nil for both to keep t's own if hash is zero or already t's. Moving
// transactions.hash (UNIQUE) to it cannot collide: every transaction's
// hash is NULL or one of its own attempts, and attempts.hash is UNIQUE
// too.
func landed(ctx context.Context, tx *wtx, t consolidate.Transaction, hash common.Hash) ([]byte, []byte, error) {
	if hash == (common.Hash{}) || hash == t.Hash {
		return nil, nil, nil
	}
	owner, a, err := attemptByHash(ctx, tx, hash)
	if errors.Is(err, sql.ErrNoRows) || err == nil && owner != t.ID {
		return nil, nil, fmt.Errorf("%w: transaction %d has no attempt %s", consolidate.ErrNotFound, t.ID, hash)
	}
	if err != nil {
		return nil, nil, err
	}
	return a.hash, a.raw, nil
}

// settled returns the account's balances after t ends with outcome o,
// by the money rules of the consolidate package: the hold of amount+fee_total leaves current on success, the
// amount returns on a revert (the fee is charged), everything returns when
// the transfer was dropped.
func settled(a consolidate.Account, t consolidate.Transaction, o consolidate.Outcome) balances {
	hold := new(big.Int).Add(t.Amount, t.FeeTotal)
	switch o {
	case consolidate.OutcomeSuccess:
		return balances{available: a.Available, current: new(big.Int).Sub(a.Current, hold)}
	case consolidate.OutcomeReverted:
		return balances{
			available: new(big.Int).Add(a.Available, t.Amount),
			current:   new(big.Int).Sub(a.Current, t.FeeTotal),
		}
	default:
		return balances{available: new(big.Int).Add(a.Available, hold), current: a.Current}
	}
}

// oneRow checks that a guarded UPDATE hit its row. Under the write lock it
// always does once the row was read as PENDING; anything else is a bug
// worth failing the transaction for.
func oneRow(res sql.Result, id int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("transaction %d: updated %d rows, want 1", id, n)
	}
	return nil
}
