package consolidate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// advance moves a transfer whose nonce is still open: it re-signs the
// newest attempt with bumped fees once it has waited StuckAfter, and
// broadcasts it again if the node has lost it.
func (s *Service) advance(ctx context.Context, w *wallet, tx Transaction, attempts []Attempt, sts []ChainStatus) error {
	latest, lost := attempts[len(attempts)-1], sts[len(sts)-1].State == TxUnknown
	if time.Since(latest.CreatedAt) >= s.cfg.StuckAfter {
		err := s.replace(ctx, w, tx, latest.Quote, latest.Cancel)
		if !errors.Is(err, ErrFeeTooHigh) || !lost {
			return err
		}
		// No replacement fits under the maximum fee (the attempt may be
		// priced at it already), but the node has lost the attempt we
		// have: its bytes can still land once the base fee allows.
		s.log.WarnContext(ctx, "consolidate: stuck transfer resent unbumped", "tx", tx.ID, "err", err)
	}
	if lost {
		return s.send(ctx, w, tx, latest)
	}
	return nil
}

// refillWindow bounds how many of the wallet's lowest open nonces one
// refill sends, and refillScan how many open transfers it reads to find
// them.
const (
	refillWindow = 256
	refillScan   = 4 * sweepBatch
	// refillRetry spaces refills that could not send the lowest open
	// nonce (its transfer is parked, say), so that they do not repeat the
	// scan on every pass.
	refillRetry = time.Second
)

// refill sends w's lowest open nonces again, in nonce order, when one of
// the live checks at idx, all of w, shows that the node has lost a transfer
// above a nonce it does not hold either. A node drops what it holds beyond
// a few dozen nonces past the account's next one; sent lowest first, each
// is executable on arrival (RELIABILITY.md tells the story).
func (s *Service) refill(ctx context.Context, w *wallet, cs []check, idx []int) {
	lowest, found := uint64(0), false
	for _, i := range idx {
		c := &cs[i]
		if c.sts[len(c.sts)-1].State == TxUnknown && (!found || c.tx.Nonce < lowest) {
			lowest, found = c.tx.Nonce, true
		}
	}
	if !found || !w.refillMu.TryLock() {
		return
	}
	defer w.refillMu.Unlock()
	if time.Now().Before(w.refillNext) {
		return
	}
	next, err := w.chain.Nonce(ctx)
	if err != nil || next >= lowest {
		// Nothing below the lost transfer is missing: its own check
		// sends it.
		return
	}
	open, err := s.openFrom(ctx, w, next)
	if err != nil {
		s.log.WarnContext(ctx, "consolidate: refill read failed", "err", err)
		return
	}
	if len(open) == 0 || open[0].Nonce != next {
		w.refillNext = time.Now().Add(refillRetry)
		s.log.WarnContext(ctx, "consolidate: refill nonce missing", "wallet", w.addr, "nonce", next, "reason", "no open transfer holds it")
		return
	}
	sent := 0
	for _, tx := range open {
		as, err := s.store.Attempts(ctx, tx.ID)
		if err != nil || len(as) == 0 {
			break
		}
		if err := w.chain.Broadcast(ctx, as[len(as)-1].Raw); err != nil && !errors.Is(err, ErrNonceTooLow) {
			// Its own check deals with a refusal (underpriced, rejected):
			// make it due now, since nothing above it can land first.
			s.log.InfoContext(ctx, "consolidate: refill broadcast refused", "tx", tx.ID, "nonce", tx.Nonce, "err", err)
			if err := s.enqueueReconcile(ctx, 0, tx.ID); err != nil {
				s.log.WarnContext(ctx, "consolidate: refill enqueue failed", "tx", tx.ID, "err", err)
			}
			break
		}
		sent++
	}
	s.log.InfoContext(ctx, "consolidate: node refilled", "wallet", w.addr, "from", next, "sent", sent)
}

// openFrom returns w's open transfers with nonces from next up,
// at most refillWindow of them, in nonce order, read from the oldest open
// transfers. Nonces the store gave out are never reused, so they are
// found among the oldest; the scan stops once the window is complete.
func (s *Service) openFrom(ctx context.Context, w *wallet, next uint64) ([]Transaction, error) {
	// Every PENDING transfer with a scheduled check: the sweeper's query
	// with a cutoff past any schedule.
	all := time.Now().Add(100 * 365 * 24 * time.Hour)
	nonces := make(map[int64]uint64, len(w.refillNonces))
	var open []Transaction
	after := int64(0)
	for scanned := 0; scanned < refillScan; {
		ids, err := s.store.Due(ctx, all, after, sweepBatch)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			n, ok := w.refillNonces[id]
			if !ok || (n >= next && n < next+refillWindow) {
				tx, err := s.store.Transaction(ctx, id)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				if tx.From != w.addr || tx.Status.Final() {
					continue
				}
				n = tx.Nonce
				if n >= next && n < next+refillWindow {
					open = append(open, tx)
				}
			}
			nonces[id] = n
		}
		scanned += len(ids)
		after = ids[len(ids)-1]
		if len(open) == refillWindow {
			break
		}
	}
	// What the next refill need not read again: a transfer's nonce never
	// changes. Transfers no longer open drop out.
	w.refillNonces = nonces
	slices.SortFunc(open, func(a, b Transaction) int { return cmp.Compare(a.Nonce, b.Nonce) })
	// Only a contiguous run from next can be executed.
	for i := range open {
		if open[i].Nonce != next+uint64(i) {
			return open[:i], nil
		}
	}
	return open, nil
}

// send broadcasts one attempt of w and acts on what the node says.
func (s *Service) send(ctx context.Context, w *wallet, tx Transaction, a Attempt) error {
	err := w.chain.Broadcast(ctx, a.Raw)
	s.broadcastDone(ctx, w, err)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNonceTooLow):
		// Something took the nonce, perhaps one of our own attempts that
		// the node has not indexed yet: the next check decides.
		s.log.InfoContext(ctx, "consolidate: nonce already used", "tx", tx.ID, "nonce", tx.Nonce)
		return nil
	case errors.Is(err, ErrUnderpriced):
		return s.replace(ctx, w, tx, a.Quote, a.Cancel)
	case errors.Is(err, ErrRejected) && !a.Cancel:
		// These bytes can never be included. Void the nonce with a cancel
		// so it does not hold back every later transfer of the wallet;
		// the refund follows once the cancel is final. The rejected
		// attempt never entered the pool, so the cancel is priced from
		// the network's current fees rather than as a bump over it.
		s.log.ErrorContext(ctx, "consolidate: transfer rejected", "tx", tx.ID, "err", err)
		return s.replace(ctx, w, tx, Quote{GasLimit: a.Quote.GasLimit, GasTipCap: new(big.Int), GasFeeCap: new(big.Int)}, true)
	case errors.Is(err, ErrWalletUnderfunded):
		s.log.ErrorContext(ctx, "consolidate: wallet underfunded", "tx", tx.ID, "wallet", w.addr, "err", err, "hint", "top up the wallet")
	}
	return wrap(fmt.Sprintf("broadcast transaction %d", tx.ID), err)
}

// replace signs with w a new attempt for tx's nonce with fees bumped over
// prev, a cancel if cancel is set, records it, and only then sends it.
func (s *Service) replace(ctx context.Context, w *wallet, tx Transaction, prev Quote, cancel bool) error {
	if prev.GasLimit == 0 || prev.GasTipCap == nil || prev.GasFeeCap == nil {
		// An attempt stored without its quote: price from today's fees.
		fresh, err := w.chain.Quote(ctx, transferOf(tx))
		if err != nil {
			return wrap(fmt.Sprintf("quote replacement of transaction %d", tx.ID), err)
		}
		prev.GasLimit = fresh.GasLimit
		prev.GasTipCap, prev.GasFeeCap = new(big.Int), new(big.Int)
	}
	q, err := w.chain.Bump(ctx, prev)
	if err != nil {
		// Above the maximum fee: the current attempt stays in the pool
		// until fees come down.
		return wrap(fmt.Sprintf("bump fees of transaction %d", tx.ID), err)
	}
	signed, err := s.signAttempt(ctx, w, tx, q, cancel)
	if err != nil {
		return err
	}
	a := Attempt{SignedTx: signed, Quote: q, Cancel: cancel, CreatedAt: time.Now()}
	if err := s.store.AddAttempt(ctx, tx.ID, a); err != nil {
		return err
	}
	s.m.replaced(ctx, cancel)
	s.log.InfoContext(ctx, "consolidate: replacement signed", "tx", tx.ID, "hash", a.Hash, "cancel", cancel, "fee_cap", q.GasFeeCap)
	err = w.chain.Broadcast(ctx, a.Raw)
	s.broadcastDone(ctx, w, err)
	if err != nil && !errors.Is(err, ErrNonceTooLow) {
		return wrap(fmt.Sprintf("broadcast replacement of transaction %d", tx.ID), err)
	}
	return nil
}

// Cancel asks the chain to void a PENDING transfer: it signs a zero-value
// transfer from the wallet to itself with the same nonce and bumped fees,
// records it, and sends it. Whichever attempt lands decides: the cancel
// makes the transfer FAILED with a full refund once final; the original
// landing first makes it SUCCESSFUL as usual. Cancel also puts a
// dead-lettered transfer back to work. Cancelling a transfer already being
// cancelled sends nothing new. Only the wallet that signed a transfer can
// cancel it: another's fails with ErrOtherWallet.
func (s *Service) Cancel(ctx context.Context, id int64) (Transaction, error) {
	if err := ctx.Err(); err != nil {
		return Transaction{}, err
	}
	if id <= 0 {
		return Transaction{}, fmt.Errorf("%w: transaction %d", ErrNotFound, id)
	}
	tx, err := s.store.Transaction(ctx, id)
	if err != nil {
		return Transaction{}, err
	}
	if tx.Status.Final() {
		return tx, fmt.Errorf("%w: transaction %d is %s", ErrNotPending, id, tx.Status)
	}
	w := s.walletOf(tx.From)
	if w == nil {
		return tx, fmt.Errorf("%w: transaction %d is from %s, no wallet of this service", ErrOtherWallet, id, tx.From)
	}
	attempts, err := s.store.Attempts(ctx, id)
	if err != nil {
		return tx, err
	}
	if len(attempts) == 0 {
		// Reserved, never signed: the cancel is its first attempt,
		// priced from today's fees.
		if err := s.replace(ctx, w, tx, Quote{}, true); err != nil {
			return tx, err
		}
	} else if latest := attempts[len(attempts)-1]; !latest.Cancel {
		if err := s.replace(ctx, w, tx, latest.Quote, true); err != nil {
			return tx, err
		}
	}
	return tx, s.Requeue(ctx, id)
}
