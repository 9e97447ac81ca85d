package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

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

// sqlSelectSettling reads a transaction and its account's balances.
var sqlSelectSettling = `SELECT ` + qualified("t", txColumns) + `, a.available, a.current
	FROM transactions t JOIN accounts a ON a.id = t.account_id WHERE t.id = ?`

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
		p, err := loadSettling(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.t.Status != consolidate.StatusPending {
			out = p.t
			return fmt.Errorf("%w: transaction %d is %s", consolidate.ErrNotPending, id, p.t.Status)
		}
		hash, raw, err := landed(ctx, tx, id, p.t.Hash, st.Hash)
		if err != nil {
			return err
		}
		if err := saveBalances(ctx, tx, p.t.AccountID, settled(p, st.Outcome), at); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, sqlSettle, string(st.Outcome.Status()), hash, raw,
			feeChain, block, nullHash(st.BlockHash), unixNano(at), id)
		if err != nil {
			return err
		}
		// Under the write lock the row read as PENDING is still there:
		// anything else is a bug worth failing the write for.
		if err := oneRow(res, id); err != nil {
			return err
		}
		typ := consolidate.EventSuccessful
		if st.Outcome.Status() == consolidate.StatusFailed {
			typ = consolidate.EventFailed
		}
		if err := insertEvent(ctx, tx, typ, id, p.t.AccountID, st.Outcome.Status(), at); err != nil {
			return err
		}
		out, err = afterSettle(p.t, st, hash, raw, feeChain, at)
		return err
	})
	return out, err
}

// afterSettle returns t as sqlSettle leaves it, given the values it was
// passed, instead of reading the row back. Each value is decoded as
// scanTransaction decodes the column, so the two are the same Transaction.
func afterSettle(t consolidate.Transaction, st consolidate.Settlement, hash, raw, feeChain []byte, at time.Time) (consolidate.Transaction, error) {
	var errs [2]error
	if hash != nil {
		t.Hash, errs[0] = decodeHash(hash)
		t.Raw = raw
	}
	t.FeeBlockchain, errs[1] = decodeOptionalAmount(feeChain)
	if err := errors.Join(errs[:]...); err != nil {
		return consolidate.Transaction{}, fmt.Errorf("transaction %d: %w", t.ID, err)
	}
	t.Status = st.Outcome.Status()
	t.Version++
	t.BlockNumber = st.BlockNumber
	t.BlockHash = st.BlockHash
	t.NextCheckAt = time.Time{}
	t.UpdatedAt = fromUnixNano(unixNano(at))
	return t, nil
}

// settling is what Settle reads before it writes: the transaction as
// stored, and its account's balances.
type settling struct {
	t                  consolidate.Transaction
	available, current *big.Int
}

// loadSettling reads transaction id and its account's balances in one
// statement, and ErrNotFound if there is no such transaction.
func loadSettling(ctx context.Context, tx *wtx, id int64) (settling, error) {
	var (
		p          settling
		avail, cur []byte
	)
	t, err := scanTransaction(tx.QueryRowContext(ctx, sqlSelectSettling, id), &avail, &cur)
	if err != nil {
		return settling{}, notFound(err, "transaction", id)
	}
	p.t = t
	var errs [2]error
	p.available, errs[0] = decodeAmount(avail)
	p.current, errs[1] = decodeAmount(cur)
	if err := errors.Join(errs[:]...); err != nil {
		return settling{}, fmt.Errorf("account %d: %w", t.AccountID, err)
	}
	return p, nil
}

// landed returns the hash and bytes transaction id, whose own hash is
// own, settles with, as sqlSettle takes them: those of the attempt named
// by hash, which must be one of id's, or nil for both to keep id's own if
// hash is zero or already own. A transaction's hash is always NULL or one
// of its own attempts', and attempts.hash is UNIQUE: that index, not one
// on transactions.hash, keeps two transfers from sharing a hash.
func landed(ctx context.Context, tx *wtx, id int64, own, hash common.Hash) ([]byte, []byte, error) {
	if hash == (common.Hash{}) || hash == own {
		return nil, nil, nil
	}
	owner, a, err := attemptByHash(ctx, tx, hash)
	if errors.Is(err, sql.ErrNoRows) || err == nil && owner != id {
		return nil, nil, fmt.Errorf("%w: transaction %d has no attempt %s", consolidate.ErrNotFound, id, hash)
	}
	if err != nil {
		return nil, nil, err
	}
	return a.hash, a.raw, nil
}

// settled returns the account's balances after p ends with outcome o,
// by the money rules of the consolidate package: the hold of amount+fee_total leaves current on success, the
// amount returns on a revert (the fee is charged), everything returns when
// the transfer was dropped.
func settled(p settling, o consolidate.Outcome) balances {
	amount, fee := p.t.Amount, p.t.FeeTotal
	hold := new(big.Int).Add(amount, fee)
	switch o {
	case consolidate.OutcomeSuccess:
		return balances{available: p.available, current: new(big.Int).Sub(p.current, hold)}
	case consolidate.OutcomeReverted:
		return balances{
			available: new(big.Int).Add(p.available, amount),
			current:   new(big.Int).Sub(p.current, fee),
		}
	default:
		return balances{available: new(big.Int).Add(p.available, hold), current: p.current}
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
