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
		WHERE id = ? AND status = 'PENDING'
		RETURNING ` + txColumns
	sqlSelectSettling = `SELECT t.status, t.amount, t.fee_total, t.hash, a.id, a.available, a.current
		FROM transactions t JOIN accounts a ON a.id = t.account_id WHERE t.id = ?`
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
		p, err := loadSettling(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.status != consolidate.StatusPending {
			if out, err = loadTransaction(ctx, tx, id); err != nil {
				return err
			}
			return fmt.Errorf("%w: transaction %d is %s", consolidate.ErrNotPending, id, p.status)
		}
		hash, raw, err := landed(ctx, tx, id, p.hash, st.Hash)
		if err != nil {
			return err
		}
		if err := saveBalances(ctx, tx, p.account.ID, settled(p, st.Outcome), at); err != nil {
			return err
		}
		// RETURNING reads the row back as stored, in the same statement.
		out, err = scanTransaction(tx.QueryRowContext(ctx, sqlSettle, string(st.Outcome.Status()), hash, raw,
			feeChain, block, nullHash(st.BlockHash), unixNano(at), id))
		if err != nil {
			// Under the write lock the row read as PENDING is still
			// there: anything else is a bug worth failing the write for.
			return fmt.Errorf("transaction %d: settle: %w", id, err)
		}
		typ := consolidate.EventSuccessful
		if st.Outcome.Status() == consolidate.StatusFailed {
			typ = consolidate.EventFailed
		}
		return insertEvent(ctx, tx, typ, id, p.account.ID, st.Outcome.Status(), at)
	})
	return out, err
}

// settling is what Settle reads of a transaction and its account before
// it writes: the status, the hold it gives back or spends, the hash it
// has, and the account's balances.
type settling struct {
	status      consolidate.Status
	amount, fee *big.Int
	hash        common.Hash
	account     consolidate.Account
}

// loadSettling reads what Settle needs of transaction id and its account
// in one statement, and ErrNotFound if there is no such transaction.
func loadSettling(ctx context.Context, tx *wtx, id int64) (settling, error) {
	var (
		p                             settling
		status                        string
		amount, fee, hash, avail, cur []byte
	)
	err := tx.QueryRowContext(ctx, sqlSelectSettling, id).Scan(&status, &amount, &fee, &hash,
		&p.account.ID, &avail, &cur)
	if err != nil {
		return settling{}, notFound(err, "transaction", id)
	}
	var errs [5]error
	p.amount, errs[0] = decodeAmount(amount)
	p.fee, errs[1] = decodeAmount(fee)
	p.hash, errs[2] = decodeHash(hash)
	p.account.Available, errs[3] = decodeAmount(avail)
	p.account.Current, errs[4] = decodeAmount(cur)
	if err := errors.Join(errs[:]...); err != nil {
		return settling{}, fmt.Errorf("transaction %d: %w", id, err)
	}
	p.status = consolidate.Status(status)
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
	a := p.account
	hold := new(big.Int).Add(p.amount, p.fee)
	switch o {
	case consolidate.OutcomeSuccess:
		return balances{available: a.Available, current: new(big.Int).Sub(a.Current, hold)}
	case consolidate.OutcomeReverted:
		return balances{
			available: new(big.Int).Add(a.Available, p.amount),
			current:   new(big.Int).Sub(a.Current, p.fee),
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
