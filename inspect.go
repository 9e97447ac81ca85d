package consolidate

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Filter selects transactions of every account for Service.List.
type Filter struct {
	// Status keeps only transactions in this status; empty keeps all.
	Status Status
	// Parked keeps only parked transactions: PENDING ones whose check
	// budget is spent (see "Reconciling" in the package docs).
	Parked bool
	// Oldest lists oldest first; the default is newest first.
	Oldest bool
	// Cursor continues a listing: only IDs below it (above it with
	// Oldest). 0 starts from the newest (or the oldest).
	Cursor int64
	// Limit is the page size, 1 to 1000.
	Limit int
}

// Overview counts the ledger's open work.
type Overview struct {
	Pending       int64     // PENDING transactions, parked ones included
	Parked        int64     // of which parked
	OldestPending time.Time // creation time of the oldest PENDING one; zero if none
	Wallets       []WalletNonces
	// Queue counts the reconcile queue's messages. The Service fills it
	// when its Queue implements QueueInspector; stores leave it nil.
	Queue *QueueStats
}

// WalletNonces is what the ledger knows of one sending wallet.
type WalletNonces struct {
	Sender     common.Address
	Next       uint64 // the next nonce the store hands out
	Open       int64  // PENDING transactions from this wallet
	LowestOpen uint64 // the lowest nonce among them; 0 when Open is 0
}

// Wallet is a sending wallet as an operator sees it: the ledger's nonces
// and, where the Chain can tell, the node's.
type Wallet struct {
	WalletNonces
	// Finalized is the wallet's nonce at the finalized block: every
	// nonce below it is consumed for good. Gap is Next − Finalized.
	Finalized uint64
	// Balance is the wallet's balance in wei at the latest block; nil
	// when the Chain does not implement BalanceReader.
	Balance *big.Int
	// Tokens is what the wallet holds of each of Config.Tokens at the
	// latest block, by token; set for the Service's own wallets.
	Tokens map[common.Address]*big.Int
	// Own is set for the Service's wallets; the fields below are theirs.
	Own bool
	// InRotation: new transfers may go to the wallet. Otherwise
	// OutOfRotation says why: "signer" (its signer failed),
	// "underfunded" (too little ether for gas) or "stuck" (its lowest
	// open nonce has not been final for Config.WalletStuckAfter).
	InRotation    bool
	OutOfRotation string
}

// BalanceReader is an optional capability of a Chain: the balance of its
// sending wallet, shown to operators. An error wrapping
// errors.ErrUnsupported means it cannot tell.
type BalanceReader interface {
	Balance(ctx context.Context) (*big.Int, error)
}

// List returns transactions of every account that match f, for operators.
// Pending and parked listings cost their page; a listing of final
// statuses may read history until it fills the page.
func (s *Service) List(ctx context.Context, f Filter) ([]Transaction, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return s.store.List(ctx, f)
}

func (f Filter) validate() error {
	switch {
	case f.Limit <= 0 || f.Limit > 1000:
		return fmt.Errorf("%w: limit %d, want 1 to 1000", ErrInvalidArgument, f.Limit)
	case f.Cursor < 0:
		return fmt.Errorf("%w: negative cursor", ErrInvalidArgument)
	case f.Status != "" && f.Status != StatusPending && !f.Status.Final():
		return fmt.Errorf("%w: status %q", ErrInvalidArgument, f.Status)
	case f.Parked && f.Status != "" && f.Status != StatusPending:
		return fmt.Errorf("%w: parked transactions are PENDING, not %s", ErrInvalidArgument, f.Status)
	}
	return nil
}

// Overview counts the open work of the ledger and, when the Queue
// implements QueueInspector, of the reconcile queue.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	o, err := s.store.Overview(ctx)
	if err != nil {
		return Overview{}, err
	}
	if qi, ok := s.cfg.Queue.(QueueInspector); ok {
		st, err := qi.Stats(ctx, s.cfg.QueueName)
		if err != nil {
			return Overview{}, wrap("queue stats", err)
		}
		o.Queue = &st
	}
	return o, nil
}

// Wallets returns the ledger's wallets with the node's view of this
// Service's own: each one's finalized nonce, its balance if the Chain can
// tell, and whether it is in rotation. Other wallets (an earlier key,
// another Service's) carry the ledger's figures only.
func (s *Service) Wallets(ctx context.Context) ([]Wallet, error) {
	o, err := s.store.Overview(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Wallet, 0, len(o.Wallets)+len(s.wallets))
	at := make(map[common.Address]int, len(o.Wallets))
	for _, wn := range o.Wallets {
		at[wn.Sender] = len(out)
		out = append(out, Wallet{WalletNonces: wn})
	}
	for _, w := range s.wallets {
		i, ok := at[w.addr]
		if !ok {
			i = len(out)
			out = append(out, Wallet{WalletNonces: WalletNonces{Sender: w.addr}})
		}
		own := &out[i]
		own.Own = true
		own.InRotation, own.OutOfRotation = w.rotation()
		if own.Finalized, err = w.chain.FinalizedNonce(ctx); err != nil {
			return nil, wrap("finalized nonce", err)
		}
		if br, ok := w.chain.(BalanceReader); ok {
			bal, err := br.Balance(ctx)
			if err != nil && !errors.Is(err, errors.ErrUnsupported) {
				return nil, wrap("wallet balance", err)
			}
			own.Balance = bal
		}
		if own.Tokens, err = s.tokenBalances(ctx, w); err != nil {
			return nil, err
		}
	}
	return out, nil
}
