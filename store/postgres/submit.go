package postgres

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// errCodeInsufficientFunds records a rejected request under its
// idempotency key, so a retry gets the same answer.
const errCodeInsufficientFunds = "insufficient_funds"

// submitReq is one Submit waiting for, or in, a batch.
type submitReq struct {
	ctx  context.Context
	p    consolidate.SubmitParams
	sign consolidate.SignFunc // nil for a reservation
	// The request as stored: validated and encoded by Submit's caller.
	amount, fee string
	hold        *big.Int
	quote       quoteRow
	now, next   time.Time
	done        chan submitResult // buffered: the committer never blocks on it
}

// submitResult is a batch's answer to one Submit.
type submitResult struct {
	tx      consolidate.Transaction
	created bool
	err     error
	// carry: the request was not run, and goes to the next batch.
	carry bool
	// unknown: the batch's COMMIT was sent but its outcome not learnt;
	// tx (without its ID) or err is what the request got if it committed.
	unknown bool
	cause   error // why the outcome is unknown
}

// Submit records a new PENDING transaction; see consolidate.Store and
// "Group commit" in the package documentation.
//
// A zero p.NextCheckAt means due at once and a zero p.Now the current
// time. FeeTotal may be zero; Amount must be positive. The signed
// transaction is also the transaction's first attempt, recorded with
// p.Quote, whose caps are both nil (not known) or both uint256 values
// (else ErrInvalidAmount). A signed transaction with the zero hash or no
// bytes is refused like a failed signature. sign may be called more than
// once, and from another goroutine; the store keeps the last signature.
//
// A nil sign reserves the transfer: it is stored with its nonce and its
// funds held, NULL hash and raw bytes and no attempt, and its first
// AddAttempt signs it. p.Quote is checked but not stored then; the
// attempt carries its own.
//
// If the connection is lost after the batch's COMMIT was sent, Submit
// finds out whether it committed before it returns (see "Unknown commit
// outcomes"); if ctx ends first, the error wraps ErrOutcomeUnknown.
func (s *Store) Submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	t, created, err := s.submit(ctx, p, sign)
	if err != nil {
		return consolidate.Transaction{}, false, wrap("submit", err)
	}
	return t, created, nil
}

func (s *Store) submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	r, err := newSubmitReq(ctx, p, sign)
	if err != nil {
		return consolidate.Transaction{}, false, err
	}
	if err := s.ready(ctx); err != nil {
		return consolidate.Transaction{}, false, err
	}
	res := s.c.submit(r)
	if res.unknown {
		res = s.resolve(ctx, r, res)
	}
	if res.err != nil {
		return consolidate.Transaction{}, false, res.err
	}
	return res.tx, res.created, nil
}

func newSubmitReq(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (*submitReq, error) {
	amount, err := encodeAmount(p.Amount)
	if err != nil || p.Amount.Sign() == 0 {
		return nil, fmt.Errorf("%w: amount %v", consolidate.ErrInvalidAmount, p.Amount)
	}
	fee, err := encodeAmount(p.FeeTotal)
	if err != nil {
		return nil, fmt.Errorf("%w: fee %v", consolidate.ErrInvalidAmount, p.FeeTotal)
	}
	quote, err := encodeQuote(p.Quote)
	if err != nil {
		return nil, err
	}
	return &submitReq{
		ctx:    ctx,
		p:      p,
		sign:   sign,
		amount: amount,
		fee:    fee,
		hold:   new(big.Int).Add(p.Amount, p.FeeTotal),
		quote:  quote,
		now:    dbTime(nowOr(p.Now)),
		next:   dbTime(nowOr(p.NextCheckAt)),
		done:   make(chan submitResult, 1),
	}, nil
}

// reserved reports whether r reserves its transfer: it is stored
// unsigned, with no attempt.
func (r *submitReq) reserved() bool { return r.sign == nil }

// keyOf names a request's idempotency key within a batch.
type keyOf struct {
	account int64
	key     string
}

// decision is what a batch decided for one request.
type decision struct {
	kind   decisionKind
	err    error
	nonce  uint64
	replay int64 // the transaction a reused key returns
	signed consolidate.SignedTx
}

type decisionKind int

const (
	decidedError    decisionKind = iota // err, nothing written
	decidedAccept                       // hold the funds, store the transfer
	decidedReject                       // insufficient funds, recorded under the key
	decidedReplay                       // a reused key: its transaction
	decidedCarry                        // run in the next batch
	decidedRejectNo                     // insufficient funds, no key to record it under
)

// state is what a batch read under its row locks: the accounts' available
// balances, the idempotency keys in use and the senders' next nonces.
type state struct {
	available map[int64]*big.Int
	tokens    map[int64]common.Address // each account's asset
	keys      map[keyOf]keyRow
	nonces    map[[20]byte]int64
}

type keyRow struct {
	requestHash []byte
	txID        *int64
	errorCode   *string
}

// decide runs the batch's requests in order against st, skipping those
// in failed (their signatures failed): funds are held in memory as each
// is accepted and nonces handed out per sender in order, so the database
// sees the same result as if the requests had run one after another.
func decide(reqs []*submitReq, st *state, failed []error) []decision {
	avail := make(map[int64]*big.Int, len(st.available))
	for id, a := range st.available {
		avail[id] = new(big.Int).Set(a)
	}
	next := make(map[[20]byte]int64, len(st.nonces))
	for s, n := range st.nonces {
		next[s] = n
	}
	seen := make(map[keyOf]bool)
	ds := make([]decision, len(reqs))
	for i, r := range reqs {
		if failed[i] != nil {
			ds[i] = decision{kind: decidedError, err: failed[i]}
			continue
		}
		ds[i] = decideOne(r, st, avail, next, seen)
	}
	return ds
}

func decideOne(r *submitReq, st *state, avail map[int64]*big.Int, next map[[20]byte]int64, seen map[keyOf]bool) decision {
	p := r.p
	k := keyOf{p.AccountID, p.IdempotencyKey}
	if p.IdempotencyKey != "" {
		if seen[k] {
			// The earlier request's outcome is known once its batch is.
			return decision{kind: decidedCarry}
		}
		seen[k] = true
		if row, ok := st.keys[k]; ok {
			return replayed(p, row)
		}
	}
	a, ok := avail[p.AccountID]
	if !ok {
		return decision{kind: decidedError, err: fmt.Errorf("%w: account %d", consolidate.ErrNotFound, p.AccountID)}
	}
	if st.tokens[p.AccountID] != p.Token {
		return decision{kind: decidedError, err: fmt.Errorf("%w: account %d", consolidate.ErrWrongAsset, p.AccountID)}
	}
	if a.Cmp(r.hold) < 0 {
		err := fmt.Errorf("%w: account %d", consolidate.ErrInsufficientFunds, p.AccountID)
		if p.IdempotencyKey == "" {
			return decision{kind: decidedRejectNo, err: err}
		}
		return decision{kind: decidedReject, err: err}
	}
	n := next[p.From]
	if n == maxNonce {
		return decision{kind: decidedError, err: fmt.Errorf("sender %s: nonces exhausted at %d", p.From, n)}
	}
	a.Sub(a, r.hold)
	next[p.From] = n + 1
	return decision{kind: decidedAccept, nonce: uint64(n)}
}

// maxNonce is the largest nonce a BIGINT holds; no sender gets there.
const maxNonce = 1<<63 - 1

// replayed answers a reused idempotency key from its row.
func replayed(p consolidate.SubmitParams, row keyRow) decision {
	switch {
	case !bytes.Equal(row.requestHash, p.RequestHash[:]):
		return decision{kind: decidedError, err: fmt.Errorf("%w: key %q", consolidate.ErrIdempotencyConflict, p.IdempotencyKey)}
	case row.txID != nil:
		return decision{kind: decidedReplay, replay: *row.txID}
	case row.errorCode != nil && *row.errorCode == errCodeInsufficientFunds:
		return decision{kind: decidedError, err: fmt.Errorf("%w: account %d, key %q", consolidate.ErrInsufficientFunds, p.AccountID, p.IdempotencyKey)}
	}
	return decision{kind: decidedError, err: fmt.Errorf("key %q: unknown recorded outcome", p.IdempotencyKey)}
}

// signAll signs every accepted request not signed yet, on up to
// parallel goroutines, and reports which signatures failed.
// Reservations are not signed. A panicking SignFunc fails its own
// request only.
func signAll(reqs []*submitReq, ds []decision, parallel int) []error {
	errs := make([]error, len(reqs))
	sem := make(chan struct{}, max(parallel, 1))
	done := make(chan struct{})
	pending := 0
	for i := range reqs {
		if ds[i].kind != decidedAccept || ds[i].signed.Hash != (common.Hash{}) || reqs[i].reserved() {
			continue
		}
		pending++
		go func() {
			defer func() { done <- struct{}{} }()
			sem <- struct{}{}
			defer func() { <-sem }()
			ds[i].signed, errs[i] = signOne(reqs[i], ds[i].nonce)
		}()
	}
	for range pending {
		<-done
	}
	return errs
}

func signOne(r *submitReq, nonce uint64) (st consolidate.SignedTx, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sign nonce %d: panic: %v", nonce, p)
		}
	}()
	st, err = r.sign(nonce)
	if err == nil {
		err = checkSigned(st)
	}
	if err != nil {
		return consolidate.SignedTx{}, within(fmt.Sprintf("sign nonce %d", nonce), err)
	}
	st.Raw = bytes.Clone(st.Raw)
	return st, nil
}

// transaction is r as stored with decision d, less its ID, and as
// Transaction reads it back.
func (r *submitReq) transaction(d decision) consolidate.Transaction {
	p := r.p
	amount, _ := new(big.Int).SetString(r.amount, 10)
	fee, _ := new(big.Int).SetString(r.fee, 10)
	return consolidate.Transaction{
		AccountID:      p.AccountID,
		From:           p.From,
		To:             p.To,
		Token:          p.Token,
		Amount:         amount,
		FeeTotal:       fee,
		Nonce:          d.nonce,
		Hash:           d.signed.Hash,
		Raw:            d.signed.Raw,
		Status:         consolidate.StatusPending,
		Version:        1,
		IdempotencyKey: p.IdempotencyKey,
		NextCheckAt:    r.next,
		CreatedAt:      r.now,
		UpdatedAt:      r.now,
	}
}
