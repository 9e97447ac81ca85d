package consolidate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Signing with I/O. A Chain whose signer is a key in process memory
// (OfflineSigning) signs inside the store's write: Store.Submit calls it
// with the nonce it allocates. Any other signer (a remote signer, a KMS, an
// HSM) may be slow or fail, and no store transaction waits on it:
//
//  1. reserve: Store.Submit with no SignFunc holds the funds, takes the
//     nonce and records the request, durably;
//  2. sign, outside any store transaction, bounded by Config.SignTimeout;
//     the Chain checks what the signer returns against the request;
//  3. record: Store.AddAttempt stores the signature as the first attempt,
//     and the transfer gets its hash;
//  4. broadcast.
//
// A crash or a failure after 1 leaves a reserved transfer: its reconcile
// signs it (with fees quoted then) and goes on as usual, so nothing is
// lost and the nonce has no gap. Two processes that sign one reservation
// at once both record their attempt; at most one can land, and the
// reconcile settles whichever does. A cancel of a reserved transfer signs
// the cancel as its first attempt.

// reserved reports whether tx is reserved and not signed yet, as far as
// this copy knows.
func reserved(tx Transaction) bool { return tx.Hash == (common.Hash{}) }

// signAttempt signs with w an attempt for tx's nonce, the transfer or a
// cancel, within SignTimeout. A signature that does not match the request
// is recorded as an EventSignatureRejected event about tx. A signer that
// fails takes w out of rotation; one that signs brings it back.
func (s *Service) signAttempt(ctx context.Context, w *wallet, tx Transaction, q Quote, cancel bool) (SignedTx, error) {
	sctx, span := s.tr.Start(ctx, spanSign)
	sctx, stop := context.WithTimeout(sctx, s.cfg.SignTimeout)
	var signed SignedTx
	var err error
	if cancel {
		signed, err = w.chain.SignCancel(sctx, tx.Nonce, q)
	} else {
		signed, err = w.chain.Sign(sctx, tx.Nonce, transferOf(tx), q)
	}
	stop()
	endSpan(span, err, true)
	s.m.signed(ctx, err)
	switch {
	case err == nil:
		s.healthy(ctx, w)
	case ctx.Err() == nil:
		s.fault(ctx, w, "signer", err)
	}
	if errors.Is(err, ErrSignerMismatch) {
		s.log.ErrorContext(ctx, "consolidate: signature rejected", "tx", tx.ID, "nonce", tx.Nonce, "err", err, "hint", "the signer returned another transaction than the one asked for; nothing was stored or sent")
		if nerr := s.store.Note(context.WithoutCancel(ctx), tx.ID, EventSignatureRejected, time.Now()); nerr != nil {
			s.log.WarnContext(ctx, "consolidate: event not recorded", "tx", tx.ID, "event", EventSignatureRejected, "err", nerr)
		}
	}
	if err != nil {
		return SignedTx{}, wrap(fmt.Sprintf("sign transaction %d", tx.ID), err)
	}
	return signed, nil
}

// signReserved signs a reserved transfer with quote q, records the
// signature as its first attempt, and returns the transfer as it stands
// then, with its hash.
func (s *Service) signReserved(ctx context.Context, w *wallet, tx Transaction, q Quote) (Transaction, error) {
	signed, err := s.signAttempt(ctx, w, tx, q, false)
	if err != nil {
		return tx, err
	}
	a := Attempt{SignedTx: signed, Quote: q, CreatedAt: time.Now()}
	if err := s.store.AddAttempt(ctx, tx.ID, a); err != nil {
		return tx, err
	}
	// Another process may have recorded its own signature first; the
	// transfer's hash is that one.
	return s.store.Transaction(ctx, tx.ID)
}

// signLater signs a check's transfer if it is still reserved: its Submit
// did not get a signature in time, failed, or died before storing it.
func (s *Service) signLater(ctx context.Context, c *check) error {
	as, err := s.store.Attempts(ctx, c.tx.ID)
	if err != nil || len(as) > 0 {
		return err
	}
	w := s.walletOf(c.tx.From)
	if w == nil {
		return fmt.Errorf("%w: transfer %d is reserved for %s, no wallet of this Service, and waits for its signature", ErrOtherWallet, c.tx.ID, c.tx.From)
	}
	q, err := w.chain.Quote(ctx, transferOf(c.tx))
	if err != nil {
		return wrap(fmt.Sprintf("quote transaction %d", c.tx.ID), err)
	}
	tx, err := s.signReserved(ctx, w, c.tx, q)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "consolidate: reserved transfer signed", "tx", tx.ID, "nonce", tx.Nonce, "hash", tx.Hash)
	c.tx = tx
	return nil
}
