package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/go-consolidate/consolidate"
)

// queryer is what reads need from *sql.DB and *sql.Tx alike.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const (
	sqlInsertAccount = `INSERT INTO accounts (token, available, current, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`
	sqlSelectAccount = `SELECT id, token, available, current, created_at, updated_at FROM accounts WHERE id = ?`
	sqlUpdateBalance = `UPDATE accounts SET available = ?, current = ?, updated_at = ? WHERE id = ?`
	sqlSelectCredit  = `SELECT amount FROM credits WHERE account_id = ? AND reference = ?`
	sqlInsertCredit  = `INSERT INTO credits (account_id, reference, amount, created_at) VALUES (?, ?, ?, ?)`
	sqlSelectKeyed   = `SELECT account_id FROM account_keys WHERE key = ?`
	sqlInsertKey     = `INSERT INTO account_keys (key, account_id) VALUES (?, ?)`
)

// CreateAccount creates an account with zero balances holding p.Token,
// once per p.Key if it has one; see consolidate.Store.
func (s *Store) CreateAccount(ctx context.Context, p consolidate.NewAccount) (consolidate.Account, error) {
	if len(p.Key) > 255 {
		return consolidate.Account{}, fmt.Errorf("%w: account key of %d bytes", consolidate.ErrInvalidReference, len(p.Key))
	}
	a, err := s.createAccount(ctx, p)
	if err != nil {
		return consolidate.Account{}, wrap("create account", err)
	}
	return a, nil
}

func (s *Store) createAccount(ctx context.Context, p consolidate.NewAccount) (consolidate.Account, error) {
	key := p.Key
	now := time.Now()
	zero := make([]byte, amountSize)
	var a consolidate.Account
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if key != "" {
			var id int64
			switch err := tx.QueryRowContext(ctx, sqlSelectKeyed, key).Scan(&id); {
			case err == nil:
				var lerr error
				a, lerr = loadAccount(ctx, tx, id)
				if lerr == nil && a.Token != p.Token {
					lerr = fmt.Errorf("%w: account key %q opened an account in another asset", consolidate.ErrIdempotencyConflict, key)
				}
				return lerr
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		res, err := tx.ExecContext(ctx, sqlInsertAccount, nullToken(p.Token), zero, zero, unixNano(now), unixNano(now))
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if key != "" {
			if _, err := tx.ExecContext(ctx, sqlInsertKey, key, id); err != nil {
				return err
			}
		}
		a = consolidate.Account{
			ID:        id,
			Token:     p.Token,
			Available: new(big.Int),
			Current:   new(big.Int),
			CreatedAt: fromUnixNano(unixNano(now)),
			UpdatedAt: fromUnixNano(unixNano(now)),
		}
		return nil
	})
	return a, err
}

// Account returns one account, or ErrNotFound.
func (s *Store) Account(ctx context.Context, id int64) (consolidate.Account, error) {
	if err := s.ready(ctx); err != nil {
		return consolidate.Account{}, wrap("account", err)
	}
	a, err := loadAccount(ctx, s.r, id)
	if err != nil {
		return consolidate.Account{}, wrap("account", err)
	}
	return a, nil
}

func loadAccount(ctx context.Context, q queryer, id int64) (consolidate.Account, error) {
	var (
		a                           consolidate.Account
		token, avail, cur           []byte
		created, updated            int64
		errToken, errAvail, errCurr error
	)
	err := q.QueryRowContext(ctx, sqlSelectAccount, id).Scan(&a.ID, &token, &avail, &cur, &created, &updated)
	if err != nil {
		return consolidate.Account{}, notFound(err, "account", id)
	}
	a.Token, errToken = decodeToken(token)
	a.Available, errAvail = decodeAmount(avail)
	a.Current, errCurr = decodeAmount(cur)
	if err := errors.Join(errToken, errAvail, errCurr); err != nil {
		return consolidate.Account{}, fmt.Errorf("account %d: %w", id, err)
	}
	a.CreatedAt = fromUnixNano(created)
	a.UpdatedAt = fromUnixNano(updated)
	return a, nil
}

// saveBalances writes an account's new balances after checking them.
func saveBalances(ctx context.Context, tx *wtx, id int64, b balances, now time.Time) error {
	if err := b.check(); err != nil {
		return fmt.Errorf("account %d: %w", id, err)
	}
	avail, err := encodeAmount(b.available)
	if err != nil {
		return err
	}
	cur, err := encodeAmount(b.current)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, sqlUpdateBalance, avail, cur, unixNano(now), id)
	return err
}

// Credit adds amount to both balances once per reference; see
// consolidate.Store. An empty reference is ErrInvalidReference.
func (s *Store) Credit(ctx context.Context, accountID int64, amount *big.Int, reference string) (consolidate.Account, error) {
	enc, err := encodeAmount(amount)
	if err != nil || amount.Sign() == 0 {
		return consolidate.Account{}, fmt.Errorf("%w: credit of %v", consolidate.ErrInvalidAmount, amount)
	}
	if reference == "" {
		return consolidate.Account{}, fmt.Errorf("%w: empty credit reference", consolidate.ErrInvalidReference)
	}
	now := time.Now()
	var acct consolidate.Account
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var prev []byte
		switch err := tx.QueryRowContext(ctx, sqlSelectCredit, accountID, reference).Scan(&prev); {
		case err == nil:
			if !bytes.Equal(prev, enc) {
				return fmt.Errorf("%w: credit reference %q", consolidate.ErrIdempotencyConflict, reference)
			}
			// Already applied: report the account as it is now.
			acct, err = loadAccount(ctx, tx, accountID)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}

		a, err := loadAccount(ctx, tx, accountID)
		if err != nil {
			return err
		}
		b := balances{
			available: new(big.Int).Add(a.Available, amount),
			current:   new(big.Int).Add(a.Current, amount),
		}
		if err := saveBalances(ctx, tx, accountID, b, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlInsertCredit, accountID, reference, enc, unixNano(now)); err != nil {
			return err
		}
		a.Available, a.Current, a.UpdatedAt = b.available, b.current, fromUnixNano(unixNano(now))
		acct = a
		return nil
	})
	if err != nil {
		return consolidate.Account{}, wrap("credit", err)
	}
	return acct, nil
}
