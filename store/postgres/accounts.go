package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/jackc/pgx/v5"
)

const (
	accountColumns   = `id, token, available::text, current::text, created_at, updated_at`
	sqlInsertAccount = `INSERT INTO accounts (token, available, current, created_at, updated_at)
		VALUES ($2, 0, 0, $1, $1) RETURNING ` + accountColumns
	sqlSelectAccount = `SELECT ` + accountColumns + ` FROM accounts WHERE id = $1`
	sqlLockAccount   = sqlSelectAccount + ` FOR UPDATE`
	sqlInsertKey     = `INSERT INTO account_keys (key, account_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`
	sqlSelectKeyed   = `SELECT ` + accountColumns + ` FROM accounts WHERE id = (SELECT account_id FROM account_keys WHERE key = $1)`
	sqlSelectCredit  = `SELECT amount::text FROM credits WHERE account_id = $1 AND reference = $2`
	sqlInsertCredit  = `INSERT INTO credits (account_id, reference, amount, created_at) VALUES ($1, $2, $3::numeric, $4)`
	// The arithmetic is NUMERIC, exact; the wei domain refuses a balance
	// above 2^256 − 1.
	sqlCreditAccount = `UPDATE accounts SET available = available + $2::numeric, current = current + $2::numeric,
		updated_at = $3 WHERE id = $1 RETURNING ` + accountColumns
)

// scanAccount reads accountColumns.
func scanAccount(row pgx.Row) (consolidate.Account, error) {
	var (
		a          consolidate.Account
		token      []byte
		avail, cur string
	)
	if err := row.Scan(&a.ID, &token, &avail, &cur, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return consolidate.Account{}, err
	}
	var errToken, errAvail, errCur error
	a.Token, errToken = decodeToken(token)
	a.Available, errAvail = decodeAmount(avail)
	a.Current, errCur = decodeAmount(cur)
	if err := errors.Join(errToken, errAvail, errCur); err != nil {
		return consolidate.Account{}, fmt.Errorf("account %d: %w", a.ID, err)
	}
	return a, nil
}

// errKeyTaken reports that another account holds the key.
var errKeyTaken = errors.New("account key taken")

// CreateAccount creates an account with zero balances holding p.Token,
// once per p.Key if it has one; see consolidate.Store. Two creations with
// one key at once: the second waits on the first's key row, then finds it
// taken, rolls its own account back and reads the first's.
func (s *Store) CreateAccount(ctx context.Context, p consolidate.NewAccount) (consolidate.Account, error) {
	if len(p.Key) > 255 {
		return consolidate.Account{}, fmt.Errorf("%w: account key of %d bytes", consolidate.ErrInvalidReference, len(p.Key))
	}
	var a consolidate.Account
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if a, err = scanAccount(tx.QueryRow(ctx, sqlInsertAccount, dbTime(time.Now()), nullToken(p.Token))); err != nil || p.Key == "" {
			return err
		}
		tag, err := tx.Exec(ctx, sqlInsertKey, p.Key, a.ID)
		if err == nil && tag.RowsAffected() == 0 {
			err = errKeyTaken
		}
		return err
	})
	if errors.Is(err, errKeyTaken) {
		a, err = scanAccount(s.pool.QueryRow(ctx, sqlSelectKeyed, p.Key))
		if err == nil && a.Token != p.Token {
			err = fmt.Errorf("%w: account key %q opened an account in another asset", consolidate.ErrIdempotencyConflict, p.Key)
		}
	}
	if err != nil {
		return consolidate.Account{}, wrap("create account", err)
	}
	return a, nil
}

// Account returns one account, or ErrNotFound.
func (s *Store) Account(ctx context.Context, id int64) (consolidate.Account, error) {
	if err := s.ready(ctx); err != nil {
		return consolidate.Account{}, wrap("account", err)
	}
	a, err := scanAccount(s.pool.QueryRow(ctx, sqlSelectAccount, id))
	if err != nil {
		return consolidate.Account{}, wrap("account", notFound(err, "account", id))
	}
	return a, nil
}

// Credit adds amount to both balances once per reference; see
// consolidate.Store. An empty reference is ErrInvalidReference; a credit
// that would take the balance beyond 2^256 − 1 is ErrInvalidAmount.
func (s *Store) Credit(ctx context.Context, accountID int64, amount *big.Int, reference string) (consolidate.Account, error) {
	a, err := s.credit(ctx, accountID, amount, reference)
	if err != nil {
		return consolidate.Account{}, wrap("credit", err)
	}
	return a, nil
}

func (s *Store) credit(ctx context.Context, accountID int64, amount *big.Int, reference string) (consolidate.Account, error) {
	enc, err := encodeAmount(amount)
	if err != nil || amount.Sign() == 0 {
		return consolidate.Account{}, fmt.Errorf("%w: credit of %v", consolidate.ErrInvalidAmount, amount)
	}
	if reference == "" {
		return consolidate.Account{}, fmt.Errorf("%w: empty credit reference", consolidate.ErrInvalidReference)
	}
	now := dbTime(time.Now())
	var acct consolidate.Account
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The row lock orders concurrent credits of the account, so the
		// reference check below sees any that committed first.
		a, err := scanAccount(tx.QueryRow(ctx, sqlLockAccount, accountID))
		if err != nil {
			return notFound(err, "account", accountID)
		}
		var prev string
		switch err := tx.QueryRow(ctx, sqlSelectCredit, accountID, reference).Scan(&prev); {
		case err == nil:
			if prev != enc {
				return fmt.Errorf("%w: credit reference %q", consolidate.ErrIdempotencyConflict, reference)
			}
			acct = a // already applied: the account as it is now
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := tx.Exec(ctx, sqlInsertCredit, accountID, reference, enc, now); err != nil {
			return err
		}
		acct, err = scanAccount(tx.QueryRow(ctx, sqlCreditAccount, accountID, enc, now))
		if sqlState(err) == checkViolation {
			return fmt.Errorf("%w: balance would exceed 2^256-1", consolidate.ErrInvalidAmount)
		}
		return err
	})
	return acct, err
}

// SQLSTATEs this package maps to the library's errors.
const (
	checkViolation  = "23514"
	uniqueViolation = "23505"
)
