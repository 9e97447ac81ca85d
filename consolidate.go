package consolidate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.opentelemetry.io/otel/trace"
)

// Service submits transfers, holds funds while they are unconfirmed and
// reconciles them to a final status. It is safe for concurrent use, and any
// number of Services in any number of processes may share one Store, Chain
// wallet, Locker, Cache and Queue.
type Service struct {
	store Store
	chain Chain
	cfg   Config
	log   *slog.Logger
	m     *instruments
	tr    trace.Tracer
	// wallets are the hot wallets, New's chain first; chain also
	// answers for the network (statuses, fees).
	wallets []*wallet
	tokens  *tokens
	reads   flights
	waits   waiters
	// fills orders the cache fills of Get against the refreshes after
	// commits, per stripe of transaction IDs; see refresh.
	fills [cacheStripes]fillStripe

	voidMu   sync.Mutex
	suspects map[int64]time.Time // transfers seen with their nonce consumed by another transaction, and since when

	parked parking

	repairMu sync.Mutex
	repairs  map[string]*repairing // cache entries whose refresh failed; see repair
}

// New returns a Service over store and chain. A nil cfg means defaults.
func New(store Store, chain Chain, cfg *Config) (*Service, error) {
	if store == nil || chain == nil {
		return nil, errors.New("consolidate: New needs a Store and a Chain")
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	ws, err := newWallets(chain, c.Wallets)
	if err == nil {
		err = checkTokenWallets(ws, c.Tokens)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s := &Service{store: store, chain: chain, cfg: c, log: c.Logger, wallets: ws, tokens: newTokens(c.Tokens), tr: c.TracerProvider.Tracer(scope)}
	s.parked.init()
	m, err := newInstruments(c.MeterProvider)
	s.m = m
	if err == nil {
		err = s.observe(c.MeterProvider)
	}
	if err != nil {
		// Metrics never stop a Service: what could not be set up records nothing.
		s.log.Warn("consolidate: metrics setup failed", "err", err)
	}
	return s, nil
}

// SubmitRequest asks to send Amount wei from the service's wallet to To, paid
// for by the account AccountID.
type SubmitRequest struct {
	AccountID int64
	To        common.Address
	Amount    *big.Int
	// IdempotencyKey, if set, makes the request safe to repeat: the same
	// key with the same request returns the original transaction (or the
	// original rejection); with a different request ErrIdempotencyConflict.
	// Keys are per account, 1 to 255 printable ASCII characters, no spaces.
	IdempotencyKey string
}

// CreateAccount creates an account with zero balances.
func (s *Service) CreateAccount(ctx context.Context) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	return s.store.CreateAccount(ctx, NewAccount{})
}

// CreateAccountWithKey creates an account with zero balances once per
// key: repeating it with the same key returns the account it created, with
// its balances as they stand now. Keys follow the rules of idempotency
// keys (ErrInvalidReference otherwise).
func (s *Service) CreateAccountWithKey(ctx context.Context, key string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	if err := checkReference("account key", key); err != nil {
		return Account{}, err
	}
	return s.store.CreateAccount(ctx, NewAccount{Key: key})
}

// Account returns an account's balances.
func (s *Service) Account(ctx context.Context, id int64) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	if id <= 0 {
		return Account{}, fmt.Errorf("%w: account %d", ErrNotFound, id)
	}
	return s.store.Account(ctx, id)
}

// Credit adds a deposit of amount wei to an account, once per reference:
// repeating a credit with the same reference and amount changes nothing;
// with another amount it fails with ErrIdempotencyConflict.
func (s *Service) Credit(ctx context.Context, accountID int64, amount *big.Int, reference string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	if accountID <= 0 {
		return Account{}, fmt.Errorf("%w: account %d", ErrNotFound, accountID)
	}
	if err := checkAmount(amount); err != nil {
		return Account{}, err
	}
	if err := checkReference("credit reference", reference); err != nil {
		return Account{}, err
	}
	return s.store.Credit(ctx, accountID, amount, reference)
}

// Submit holds Amount plus the fee on the account, signs the transfer with
// the next nonce of the sending wallet, stores it durably, and only then
// broadcasts it and enqueues its reconcile task. The returned transaction
// is PENDING.
//
// Submit fails without changing anything on bad input (ErrInvalidAddress,
// ErrInvalidAmount, ErrSelfTransfer, ErrInvalidReference, ErrNotFound),
// ErrInsufficientFunds, ErrIdempotencyConflict, ErrAccountLocked when
// another submit for the account is under way, or ErrLockUnavailable.
// A failed broadcast does not fail Submit: the transaction is stored and
// reconciling sends it again.
func (s *Service) Submit(ctx context.Context, req SubmitRequest) (Transaction, error) {
	ctx, span := s.tr.Start(ctx, spanSubmit)
	began := time.Now()
	tx, created, err := s.submit(ctx, req)
	s.submitDone(ctx, span, req, tx, submitOutcomeOf(created, err), err, time.Since(began))
	return tx, err
}

// submit is Submit; created is false for a replayed idempotency key.
func (s *Service) submit(ctx context.Context, req SubmitRequest) (Transaction, bool, error) {
	if err := s.checkSubmit(ctx, req); err != nil {
		return Transaction{}, false, err
	}
	t, fee, err := s.transferFor(ctx, req)
	if err != nil {
		return Transaction{}, false, err
	}
	w, placed, err := s.pickFor(ctx, t)
	if err != nil {
		return Transaction{}, false, err
	}
	tx, quote, created, err := s.quoteAndRecord(ctx, w, req, t, fee)
	placed(tx, created)
	if err != nil {
		return Transaction{}, false, err
	}
	if created {
		w.handedOut(tx.Nonce)
	}
	if created && reserved(tx) {
		signed, err := s.signReserved(ctx, w, tx, quote)
		if err != nil {
			// Reserved and safe: reconciling signs it.
			s.log.WarnContext(ctx, "consolidate: transfer reserved, not signed yet", "tx", tx.ID, "err", err)
		} else {
			tx = signed
		}
	}
	if created && !reserved(tx) {
		s.broadcast(ctx, w, tx)
	}
	s.refresh(ctx, tx)
	// A replayed key re-enqueues too: the first attempt may have died
	// between commit and enqueue. Enqueueing a live task is a no-op.
	if err := s.enqueueReconcile(ctx, 0, tx.ID); err != nil {
		// Not fatal: the transaction is stored, and the sweeper enqueues
		// every overdue PENDING row.
		s.log.WarnContext(ctx, "consolidate: reconcile enqueue failed", "tx", tx.ID, "err", err)
	}
	return tx, created, nil
}

// transferFor returns what req moves, in its account's asset, and the
// fee the account pays for it.
func (s *Service) transferFor(ctx context.Context, req SubmitRequest) (Transfer, *big.Int, error) {
	asset, err := s.assetOf(ctx, req.AccountID)
	if err != nil {
		return Transfer{}, nil, err
	}
	fee, err := s.fee(asset)
	if err != nil {
		return Transfer{}, nil, err
	}
	if new(big.Int).Add(req.Amount, fee).Cmp(maxUint256) > 0 {
		return Transfer{}, nil, fmt.Errorf("%w: amount plus fee exceeds 2^256-1", ErrInvalidAmount)
	}
	return Transfer{Token: asset, To: req.To, Amount: req.Amount}, fee, nil
}

// quoteAndRecord prices transfer t for wallet w and stores it.
func (s *Service) quoteAndRecord(ctx context.Context, w *wallet, req SubmitRequest, t Transfer, fee *big.Int) (Transaction, Quote, bool, error) {
	if err := s.syncNonce(ctx, w); err != nil {
		return Transaction{}, Quote{}, false, err
	}
	quote, err := w.chain.Quote(ctx, t)
	if err != nil {
		return Transaction{}, Quote{}, false, wrap("quote fees", err)
	}
	tx, created, err := s.record(ctx, w, req, t, fee, quote)
	return tx, quote, created, err
}

// record stores the transfer under the account's lock. The lock only
// guards the store's submit; what follows touches no balance and may run
// concurrently with the account's next submit. It is released on every
// path, a panic in the store or the signer included.
func (s *Service) record(ctx context.Context, w *wallet, req SubmitRequest, t Transfer, fee *big.Int, quote Quote) (Transaction, bool, error) {
	unlock, err := s.lockAccount(ctx, req.AccountID)
	if err != nil {
		return Transaction{}, false, err
	}
	defer unlock()
	now := time.Now()
	p := SubmitParams{
		AccountID:      req.AccountID,
		From:           w.addr,
		To:             req.To,
		Token:          t.Token,
		Amount:         new(big.Int).Set(req.Amount),
		FeeTotal:       new(big.Int).Set(fee),
		IdempotencyKey: req.IdempotencyKey,
		RequestHash:    requestHash(req),
		Quote:          quote,
		NextCheckAt:    now,
		Now:            now,
	}
	var sign SignFunc // nil: reserve, and sign after the store's write
	if w.offline {
		sign = func(nonce uint64) (SignedTx, error) { return s.signOffline(ctx, w, nonce, t, quote) }
	}
	ctx, span := s.tr.Start(ctx, spanStoreSubmit)
	tx, created, err := s.store.Submit(ctx, p, sign)
	endSpan(span, err, submitOutcomeOf(created, err).failed())
	return tx, created, err
}

// signOffline signs the transfer being submitted with a Chain that does no
// I/O to sign. The store calls it, perhaps on another goroutine, while its
// span is open.
func (s *Service) signOffline(ctx context.Context, w *wallet, nonce uint64, t Transfer, quote Quote) (SignedTx, error) {
	ctx, span := s.tr.Start(ctx, spanSign)
	signed, err := w.chain.Sign(ctx, nonce, t, quote)
	endSpan(span, err, true)
	return signed, err
}

func (s *Service) checkSubmit(ctx context.Context, req SubmitRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if req.AccountID <= 0 {
		return fmt.Errorf("%w: account %d", ErrNotFound, req.AccountID)
	}
	if req.To == (common.Address{}) {
		return fmt.Errorf("%w: the zero address", ErrInvalidAddress)
	}
	if s.walletOf(req.To) != nil {
		return ErrSelfTransfer
	}
	if err := checkAmount(req.Amount); err != nil {
		return err
	}
	if req.IdempotencyKey != "" {
		if err := checkReference("idempotency key", req.IdempotencyKey); err != nil {
			return err
		}
	}
	return nil
}

// requestHash fingerprints what an idempotency key promises to repeat.
func requestHash(req SubmitRequest) [32]byte {
	h := sha256.New()
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(req.AccountID))
	h.Write([]byte("consolidate.submit.v1"))
	h.Write(id[:])
	h.Write(req.To.Bytes())
	h.Write(req.Amount.FillBytes(make([]byte, 32)))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// lockAccount takes the account's lock and returns its release.
func (s *Service) lockAccount(ctx context.Context, accountID int64) (func(), error) {
	lease, err := s.cfg.Locker.Lock(ctx, "account:"+strconv.FormatInt(accountID, 10), s.cfg.LockTTL)
	switch {
	case err == nil:
		return func() {
			// A lost lease only means the TTL ran out first; the store
			// already guarded the money.
			if err := lease.Unlock(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, ErrLeaseLost) {
				s.log.WarnContext(ctx, "consolidate: unlock failed", "account", accountID, "err", err)
			}
		}, nil
	case errors.Is(err, ErrAccountLocked):
		return nil, err
	case s.cfg.LockFailOpen && ctx.Err() == nil:
		s.log.WarnContext(ctx, "consolidate: lock unavailable", "fallback", "submit without lock", "account", accountID, "err", err)
		return func() {}, nil
	case errors.Is(err, ErrLockUnavailable) || ctx.Err() != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("%w: %w", ErrLockUnavailable, err)
	}
}

// syncNonce raises the store's nonce for w to the chain's, once per
// Service, so that transfers sent from the wallet by other means before
// this Service started do not collide with ours.
func (s *Service) syncNonce(ctx context.Context, w *wallet) error {
	w.nonceMu.Lock()
	defer w.nonceMu.Unlock()
	if w.nonceSynced {
		return nil
	}
	n, err := w.chain.Nonce(ctx)
	if err != nil {
		return wrap("read wallet nonce", err)
	}
	if err := s.store.SyncNonce(ctx, w.addr, n); err != nil {
		return err
	}
	w.nonceSynced = true
	return nil
}

// broadcast sends tx's stored bytes. Failure is logged, not returned:
// reconciling finds the transaction unknown to the node and sends it again.
func (s *Service) broadcast(ctx context.Context, w *wallet, tx Transaction) {
	ctx, span := s.tr.Start(ctx, spanBroadcast)
	err := w.chain.Broadcast(ctx, tx.Raw)
	endSpan(span, err, true)
	s.broadcastDone(ctx, w, err)
	if err != nil {
		s.log.WarnContext(ctx, "consolidate: broadcast failed", "tx", tx.ID, "hash", tx.Hash, "err", err)
	}
}

// broadcastDone updates w's rotation after a broadcast of its bytes: a
// wallet that cannot pay for gas rests; one whose bytes a node takes is
// healthy.
func (s *Service) broadcastDone(ctx context.Context, w *wallet, err error) {
	switch {
	case err == nil:
		s.healthy(ctx, w)
	case errors.Is(err, ErrWalletUnderfunded):
		s.fault(ctx, w, "underfunded", err)
	}
}

// Transactions lists an account's transactions newest first: at most limit
// (1 to 1000) of those with an ID below before, or the newest if before is 0.
func (s *Service) Transactions(ctx context.Context, accountID, before int64, limit int) ([]Transaction, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if accountID <= 0 {
		return nil, fmt.Errorf("%w: account %d", ErrNotFound, accountID)
	}
	if limit <= 0 || limit > 1000 || before < 0 {
		return nil, fmt.Errorf("%w: limit must be 1 to 1000 and before not negative", ErrInvalidArgument)
	}
	if _, err := s.store.Account(ctx, accountID); err != nil {
		return nil, err
	}
	return s.store.Transactions(ctx, accountID, before, limit)
}
