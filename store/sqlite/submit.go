package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

const (
	sqlSelectIdempotency = `SELECT request_hash, transaction_id, error_code FROM idempotency
		WHERE account_id = ? AND key = ?`
	sqlInsertIdempotencyHead = `INSERT INTO idempotency
		(account_id, key, request_hash, transaction_id, error_code, created_at) VALUES `
	sqlIdempotencyRow    = `(?, ?, ?, ?, ?, ?)`
	sqlInsertIdempotency = sqlInsertIdempotencyHead + sqlIdempotencyRow
	// The columns left out (fee_blockchain, block_number, block_hash,
	// checks) take their defaults: the zero values of a Transaction.
	sqlInsertPendingHead = `INSERT INTO transactions
		(account_id, sender, recipient, token, amount, fee_total, nonce, hash, raw, status, version,
		 idempotency_key, next_check_at, created_at, updated_at) VALUES `
	sqlPendingRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', 1, ?, ?, ?, ?)`
	// RETURNING's rows come in no set order: sender and nonce, UNIQUE
	// together, tell them apart (a reservation has no hash to). A single
	// row needs no telling apart.
	sqlPendingReturning    = `RETURNING id, sender, nonce`
	sqlPendingReturningOne = `RETURNING id`
)

// errCodeInsufficientFunds records a rejected request under its
// idempotency key, so a retry gets the same answer.
const errCodeInsufficientFunds = "insufficient_funds"

// Submit records a new PENDING transaction; see consolidate.Store.
//
// A zero p.NextCheckAt means due at once and a zero p.Now the current
// time. FeeTotal may be zero; Amount must be positive. The signed
// transaction is also the transaction's first attempt, recorded with
// p.Quote, whose caps are both nil (not known) or both uint256 values
// (else ErrInvalidAmount). A signed transaction with the zero hash or no
// bytes is refused like a failed signature.
//
// A nil sign reserves the transfer: its row has no hash and no bytes
// (NULL), and it has no attempt until AddAttempt records its first.
func (s *Store) Submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	t, created, err := s.submit(ctx, p, sign)
	if err != nil {
		return consolidate.Transaction{}, false, wrap("submit", err)
	}
	return t, created, nil
}

func (s *Store) submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	amount, err := encodeAmount(p.Amount)
	if err != nil || p.Amount.Sign() == 0 {
		return consolidate.Transaction{}, false, fmt.Errorf("%w: amount %v", consolidate.ErrInvalidAmount, p.Amount)
	}
	fee, err := encodeAmount(p.FeeTotal)
	if err != nil {
		return consolidate.Transaction{}, false, fmt.Errorf("%w: fee %v", consolidate.ErrInvalidAmount, p.FeeTotal)
	}
	quote, err := encodeQuote(p.Quote)
	if err != nil {
		return consolidate.Transaction{}, false, err
	}
	sub := submission{p: p, amount: amount, fee: fee, quote: quote, now: nowOr(p.Now), next: nowOr(p.NextCheckAt)}
	now := sub.now
	hold := new(big.Int).Add(p.Amount, p.FeeTotal)

	var (
		out      consolidate.Transaction
		created  bool
		rejected error // committed, then returned: the rejection is recorded
	)
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		out, created, rejected = consolidate.Transaction{}, false, nil
		if p.IdempotencyKey != "" {
			t, found, err := replay(ctx, tx, p)
			if err != nil || found {
				out = t
				return err
			}
			// The key's row is written when the deferred write that claimed
			// it finishes: see its outcome from the next batch.
			if tx.claimed(idempotencyClaim(p)) {
				return errNextBatch
			}
		}

		a, err := loadAccount(ctx, tx, p.AccountID)
		if err != nil {
			return err
		}
		if a.Token != p.Token {
			return fmt.Errorf("%w: account %d", consolidate.ErrWrongAsset, p.AccountID)
		}
		if a.Available.Cmp(hold) < 0 {
			rejected = fmt.Errorf("%w: account %d", consolidate.ErrInsufficientFunds, p.AccountID)
			if p.IdempotencyKey == "" {
				return nil
			}
			_, err := tx.ExecContext(ctx, sqlInsertIdempotency, p.AccountID, p.IdempotencyKey,
				p.RequestHash[:], nil, errCodeInsufficientFunds, unixNano(now))
			return err
		}

		nonce, err := nextNonce(ctx, tx, p.From)
		if err != nil {
			return err
		}
		b := balances{available: new(big.Int).Sub(a.Available, hold), current: a.Current}
		if err := saveBalances(ctx, tx, p.AccountID, b, now); err != nil {
			return err
		}
		// Signing happens inside the transaction so the nonce it uses is the
		// one stored; if it fails, the rollback returns the nonce. In a
		// batch it runs on a worker while the committer goes on, and the
		// rows that need its hash are written once the batch has run. A
		// reservation has nothing to sign; in a batch its rows are
		// written with the others.
		ps := &pendingSubmit{sub: sub, nonce: nonce, sign: sign,
			record: func(t consolidate.Transaction) { out, created = t, true }}
		if tx.deferSubmit(ps) {
			return nil
		}
		if err := ps.signNonce(); err != nil {
			return err
		}
		return insertSubmitted(ctx, tx, []*pendingSubmit{ps})
	})
	if err == nil {
		err = rejected
	}
	if err != nil {
		return consolidate.Transaction{}, false, err
	}
	return out, created, nil
}

// submission is a checked Submit request as stored.
type submission struct {
	p           consolidate.SubmitParams
	amount, fee []byte
	quote       quoteRow
	now, next   time.Time
}

// A pendingSubmit is a Submit whose funds are held and nonce taken, to be
// signed and then stored. A reservation has a nil sign and stays
// unsigned.
type pendingSubmit struct {
	sub    submission
	nonce  uint64
	sign   consolidate.SignFunc
	signed consolidate.SignedTx
	record func(consolidate.Transaction) // receives the stored transaction
}

func (ps *pendingSubmit) reserved() bool { return ps.sign == nil }

func (ps *pendingSubmit) signNonce() error {
	if ps.reserved() {
		return nil
	}
	st, err := ps.sign(ps.nonce)
	if err == nil {
		err = checkSigned(st)
	}
	if err != nil {
		return wrap(fmt.Sprintf("submit: sign nonce %d", ps.nonce), err)
	}
	ps.signed = st
	return nil
}

// deferSubmit hands ps's signature to a worker (a reservation has none)
// and its rows to the end of the batch, reporting false if tx takes no
// deferred work. It takes ps's nonce and claims its idempotency key, and
// cannot fail: it is the last step of the Submit's write.
func (tx *wtx) deferSubmit(ps *pendingSubmit) bool {
	if !tx.deferring {
		return false
	}
	if !ps.reserved() {
		tx.later(ps.signNonce)
	}
	tx.submitted = append(tx.submitted, ps)
	tx.takeNonce(ps.sub.p.From, ps.nonce)
	if ps.sub.p.IdempotencyKey != "" {
		tx.claim(idempotencyClaim(ps.sub.p))
	}
	return true
}

// idempotencyClaim names an idempotency key within a batch.
func idempotencyClaim(p consolidate.SubmitParams) string {
	return fmt.Sprintf("idempotency %d %s", p.AccountID, p.IdempotencyKey)
}

// insertSubmitted writes signed and reserved submits: their transactions,
// the first attempts of the signed ones, idempotency keys and outbox
// events, a chunk of rows per statement, and hands each its transaction
// as Transaction will read it back, built from the values stored.
func insertSubmitted(ctx context.Context, tx *wtx, pss []*pendingSubmit) error {
	ts := make([]consolidate.Transaction, len(pss))
	// signed indexes the submits that have a first attempt; nil when all
	// do, as they do without reservations.
	var signed []int
	for i, ps := range pss {
		ts[i] = ps.transaction()
		if ps.reserved() && signed == nil {
			signed = make([]int, i, len(pss))
			for k := range signed {
				signed[k] = k
			}
		}
		if !ps.reserved() && signed != nil {
			signed = append(signed, i)
		}
	}
	nSigned := len(pss)
	if signed != nil {
		nSigned = len(signed)
	}
	err := chunks(len(pss), func(lo, hi int) error {
		args := make([]any, 0, 13*(hi-lo))
		for i := lo; i < hi; i++ {
			t := &ts[i]
			args = append(args, t.AccountID, t.From.Bytes(), t.To.Bytes(), nullToken(t.Token), pss[i].sub.amount, pss[i].sub.fee,
				int64(t.Nonce), nullHash(t.Hash), t.Raw, nullString(t.IdempotencyKey),
				nullTime(t.NextCheckAt), unixNano(t.CreatedAt), unixNano(t.UpdatedAt))
		}
		if hi-lo == 1 {
			return tx.QueryRowContext(ctx, values(sqlInsertPendingHead, sqlPendingRow, 1, sqlPendingReturningOne), args...).Scan(&ts[lo].ID)
		}
		index := make(map[senderNonce]int, hi-lo)
		for i := lo; i < hi; i++ {
			index[senderNonce{ts[i].From, ts[i].Nonce}] = i
		}
		rows, err := tx.QueryContext(ctx, values(sqlInsertPendingHead, sqlPendingRow, hi-lo, sqlPendingReturning), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for ; rows.Next(); n++ {
			var (
				id, nonce int64
				sender    sql.RawBytes // copied into an Address at once
			)
			if err := rows.Scan(&id, &sender, &nonce); err != nil {
				return err
			}
			i, ok := index[senderNonce{common.BytesToAddress(sender), uint64(nonce)}]
			if !ok {
				return fmt.Errorf("inserted transaction %d has an unknown sender and nonce", id)
			}
			ts[i].ID = id
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n != hi-lo {
			return fmt.Errorf("inserted %d transactions, want %d", n, hi-lo)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = insertRows(ctx, tx, sqlInsertAttemptHead, sqlAttemptRow, nSigned, func(args []any, k int) []any {
		i := k
		if signed != nil {
			i = signed[k]
		}
		first := attemptRow{hash: ts[i].Hash.Bytes(), raw: ts[i].Raw, quote: pss[i].sub.quote, createdAt: unixNano(ts[i].CreatedAt)}
		return first.args(args, ts[i].ID, 1)
	})
	if err != nil {
		return err
	}
	var keyed []int
	for i, t := range ts {
		if t.IdempotencyKey != "" {
			keyed = append(keyed, i)
		}
	}
	err = insertRows(ctx, tx, sqlInsertIdempotencyHead, sqlIdempotencyRow, len(keyed), func(args []any, k int) []any {
		i := keyed[k]
		return append(args, ts[i].AccountID, ts[i].IdempotencyKey, pss[i].sub.p.RequestHash[:], ts[i].ID, nil, unixNano(ts[i].CreatedAt))
	})
	if err != nil {
		return err
	}
	es := make([]eventRow, len(ts))
	for i, t := range ts {
		es[i] = eventRow{typ: consolidate.EventSubmitted, txID: t.ID, accountID: t.AccountID, status: t.Status, at: unixNano(t.CreatedAt)}
	}
	if err := tx.outbox(ctx, es...); err != nil {
		return err
	}
	for i, ps := range pss {
		ps.record(ts[i])
	}
	return nil
}

// senderNonce names a transaction: UNIQUE (sender, nonce).
type senderNonce struct {
	sender common.Address
	nonce  uint64
}

// transaction is ps as sqlPendingRow stores it, less the ID, and as
// Transaction reads it back: a reservation has the zero Hash and nil Raw.
func (ps *pendingSubmit) transaction() consolidate.Transaction {
	p := ps.sub.p
	return consolidate.Transaction{
		AccountID:      p.AccountID,
		From:           p.From,
		To:             p.To,
		Token:          p.Token,
		Amount:         new(big.Int).SetBytes(ps.sub.amount),
		FeeTotal:       new(big.Int).SetBytes(ps.sub.fee),
		Nonce:          ps.nonce,
		Hash:           ps.signed.Hash,
		Raw:            bytes.Clone(ps.signed.Raw),
		Status:         consolidate.StatusPending,
		Version:        1,
		IdempotencyKey: p.IdempotencyKey,
		NextCheckAt:    fromNullTime(nullTime(ps.sub.next)),
		CreatedAt:      fromUnixNano(unixNano(ps.sub.now)),
		UpdatedAt:      fromUnixNano(unixNano(ps.sub.now)),
	}
}

// replay answers a reused idempotency key: the original transaction (found
// true), the original rejection, a conflict, or found false for a new key.
func replay(ctx context.Context, tx *wtx, p consolidate.SubmitParams) (consolidate.Transaction, bool, error) {
	var (
		hash []byte
		txID sql.NullInt64
		code sql.NullString
	)
	err := tx.QueryRowContext(ctx, sqlSelectIdempotency, p.AccountID, p.IdempotencyKey).Scan(&hash, &txID, &code)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return consolidate.Transaction{}, false, nil
	case err != nil:
		return consolidate.Transaction{}, false, err
	case !bytes.Equal(hash, p.RequestHash[:]):
		return consolidate.Transaction{}, true, fmt.Errorf("%w: key %q", consolidate.ErrIdempotencyConflict, p.IdempotencyKey)
	case txID.Valid:
		t, err := loadTransaction(ctx, tx, txID.Int64)
		return t, true, err
	case code.String == errCodeInsufficientFunds:
		return consolidate.Transaction{}, true, fmt.Errorf("%w: account %d, key %q", consolidate.ErrInsufficientFunds, p.AccountID, p.IdempotencyKey)
	}
	return consolidate.Transaction{}, true, fmt.Errorf("key %q: unknown recorded error %q", p.IdempotencyKey, code.String)
}
