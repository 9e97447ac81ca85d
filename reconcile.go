package consolidate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Reconcile checks one transaction against the chain and settles it once
// the chain has decided it. It is idempotent and safe to run concurrently
// for the same transaction: a settlement is applied once.
//
// Every signed attempt of the transaction's nonce (the original, fee bumps,
// a cancel) is checked in one batch:
//
//   - An attempt in a final block decides: a transfer with receipt status 1
//     is SUCCESSFUL; status 0 (reverted) is FAILED with the amount refunded
//     and the fee charged; a cancel is FAILED with a full refund. The
//     transaction's hash becomes that of the attempt that landed.
//   - An attempt mined but not final yet: wait.
//   - Nothing mined, but the wallet's nonce is consumed in a final block by
//     a transaction that is none of ours: the transfer can never land, so
//     it is FAILED with a full refund, by the first check at least
//     Config.VoidDelay after the one that first saw it so (see there).
//   - Otherwise the nonce is still open: the newest attempt is broadcast
//     again if the node has lost it (same bytes, same hash), re-signed with
//     bumped fees if it has waited longer than Config.StuckAfter or the
//     node calls it underpriced, and replaced by a cancel if the node
//     refuses it for good, so that its nonce does not block every later
//     transfer. If the node has lost it and lacks a lower nonce of the
//     wallet too, the wallet's lowest open nonces are sent first, in
//     order: a node keeps only a few dozen transactions beyond an
//     account's next nonce and drops the rest. An attempt that cannot be
//     bumped under the maximum fee is broadcast again as it is.
//
// A transfer signed by another wallet than the Service's (a store kept
// across a key rotation, or shared by services with different wallets) is
// only watched: it is settled once an attempt is final and its newest
// attempt is broadcast again if the node has lost it, but it is never
// re-signed, cancelled or voided, since its nonce is not this wallet's.
//
// It returns the transaction as it stands afterwards; a PENDING status
// means "check again later". Errors are transient: the worker checks again.
func (s *Service) Reconcile(ctx context.Context, id int64) (Transaction, error) {
	if err := ctx.Err(); err != nil {
		return Transaction{}, err
	}
	if id <= 0 {
		return Transaction{}, fmt.Errorf("%w: transaction %d", ErrNotFound, id)
	}
	c := s.reconcile(ctx, []int64{id})[0]
	return c.tx, c.err
}

// check is one transaction's reconcile within a batch.
type check struct {
	tx       Transaction
	attempts []Attempt
	sts      []ChainStatus // of attempts, in order
	err      error
	done     bool // nothing more to do in this pass: settled, mined, or failed
	settled  bool // this check applied the settlement
	voided   bool // … as a void: the nonce was taken by another transaction
}

func (c *check) fail(err error) { c.err, c.done = err, true }

// reconcile does what Reconcile does for each of ids at once, with one
// Statuses call for every attempt of every transaction and at most one
// FinalizedNonce call, and applies the settlements concurrently, so that a
// store with group commit writes them in one commit. The checks come back
// in the order of ids.
func (s *Service) reconcile(ctx context.Context, ids []int64) []check {
	cs := make([]check, len(ids))
	ctx, span := s.tr.Start(ctx, spanReconcile)
	defer s.endPass(ctx, span, cs)
	// The checks that found their nonce consumed by another transaction;
	// every other check of the pass clears what an earlier one found.
	var suspects []int
	defer func() { s.clearSuspects(cs, suspects) }()
	s.loadAll(ctx, cs, ids)
	open := undecided(cs, allChecks(cs))
	s.statuses(ctx, cs, open)
	s.decide(ctx, cs, open)
	open, foreign := s.byWallet(cs, undecided(cs, open))
	s.watch(ctx, cs, foreign)
	if len(open) == 0 {
		return cs
	}
	// Nothing of theirs is mined. A nonce consumed in a final block by
	// some other transaction proves none of ours can land. Their attempts
	// are read and checked again after reading the final nonce: one of
	// them, perhaps a fee bump another worker has sent since the first
	// look, may be what consumed it. An attempt is recorded before it is
	// sent, so none that could have consumed the nonce is missed.
	groups := s.groupByWallet(cs, open)
	parallel(len(groups), func(k int) {
		g := &groups[k]
		g.final, g.err = g.w.chain.FinalizedNonce(ctx)
	})
	var consumed, live []int
	for k := range groups {
		g := &groups[k]
		if g.err != nil {
			for _, i := range g.idx {
				cs[i].fail(wrap("finalized nonce", g.err))
			}
			continue
		}
		lowest := uint64(math.MaxUint64)
		for _, i := range g.idx {
			if g.final > cs[i].tx.Nonce {
				consumed = append(consumed, i)
			} else {
				live = append(live, i)
				g.live = append(g.live, i)
				lowest = min(lowest, cs[i].tx.Nonce)
			}
		}
		s.finalSeen(ctx, g.w, g.final, lowest, len(g.live) > 0)
	}
	if len(consumed) > 0 {
		parallel(len(consumed), func(k int) { s.readAttempts(ctx, &cs[consumed[k]]) })
		consumed = undecided(cs, consumed)
		s.statuses(ctx, cs, consumed)
		s.decide(ctx, cs, consumed)
		suspects = undecided(cs, consumed)
		voided := s.voidsDue(ctx, cs, suspects)
		parallel(len(voided), func(k int) {
			c := &cs[voided[k]]
			s.log.WarnContext(ctx, "consolidate: transfer voided", "tx", c.tx.ID, "nonce", c.tx.Nonce, "reason", "nonce taken by a foreign transaction")
			c.voided = true
			c.tx, c.settled, c.err = s.settle(ctx, c.tx, Settlement{Outcome: OutcomeDropped, At: time.Now()})
		})
	}
	for _, g := range groups {
		s.refill(ctx, g.w, cs, g.live)
	}
	parallel(len(live), func(k int) {
		c := &cs[live[k]]
		c.err = s.advance(ctx, s.walletOf(c.tx.From), c.tx, c.attempts, c.sts)
	})
	return cs
}

// walletChecks are the open checks of one wallet's transfers in a pass.
type walletChecks struct {
	w     *wallet
	idx   []int // the checks
	live  []int // those whose nonce is not final yet
	final uint64
	err   error
}

// groupByWallet groups the checks at idx, all of this Service's wallets,
// by wallet, in the order of the wallets.
func (s *Service) groupByWallet(cs []check, idx []int) []walletChecks {
	var groups []walletChecks
	for _, w := range s.wallets {
		g := walletChecks{w: w}
		for _, i := range idx {
			if cs[i].tx.From == w.addr {
				g.idx = append(g.idx, i)
			}
		}
		if len(g.idx) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
}

// loadAll reads the checks' transactions and attempts: in one call for
// the whole batch when the store is a BatchReader, else one transfer at a
// time, concurrently.
func (s *Service) loadAll(ctx context.Context, cs []check, ids []int64) {
	br, ok := s.store.(BatchReader)
	if !ok || len(ids) == 1 {
		parallel(len(ids), func(i int) { s.load(ctx, &cs[i], ids[i]) })
		return
	}
	read, err := br.TransactionsWithAttempts(ctx, ids)
	if err == nil && len(read) != len(ids) {
		err = fmt.Errorf("consolidate: store read %d transactions for %d ids", len(read), len(ids))
	}
	if err != nil {
		for i := range cs {
			cs[i].fail(err)
		}
		return
	}
	// Signing a reservation adds its first attempt, read again after.
	var reservations []int
	for i := range cs {
		c, r := &cs[i], &read[i]
		c.tx = r.Transaction
		switch {
		case r.Err != nil || c.tx.Status.Final():
			c.fail(r.Err)
		case reserved(c.tx):
			reservations = append(reservations, i)
		default:
			c.setAttempts(r.Attempts, nil)
		}
	}
	parallel(len(reservations), func(k int) { s.signAndRead(ctx, &cs[reservations[k]]) })
}

// load reads a transaction and its attempts. A final transaction needs
// nothing more.
func (s *Service) load(ctx context.Context, c *check, id int64) {
	tx, err := s.store.Transaction(ctx, id)
	c.tx = tx
	if err != nil || tx.Status.Final() {
		c.fail(err)
		return
	}
	if reserved(tx) {
		s.signAndRead(ctx, c)
		return
	}
	s.readAttempts(ctx, c)
}

// signAndRead signs a reserved transfer and reads its attempts.
func (s *Service) signAndRead(ctx context.Context, c *check) {
	if err := s.signLater(ctx, c); err != nil {
		c.fail(err)
		return
	}
	s.readAttempts(ctx, c)
}

// readAttempts reads, or reads again, a check's attempts, forgetting any
// statuses of those read before.
func (s *Service) readAttempts(ctx context.Context, c *check) {
	as, err := s.store.Attempts(ctx, c.tx.ID)
	c.setAttempts(as, err)
}

// setAttempts gives a check the attempts read for it, forgetting any
// statuses of those read before.
func (c *check) setAttempts(as []Attempt, err error) {
	switch {
	case err != nil:
		c.fail(err)
	case len(as) == 0:
		c.fail(fmt.Errorf("consolidate: transaction %d has no signed attempt", c.tx.ID))
	default:
		c.attempts, c.sts = as, nil
	}
}

// byWallet splits the checks at idx into those of transfers one of this
// Service's wallets signed and those another wallet signed: a store
// outlives a key rotation, and several services with different wallets
// may share one.
func (s *Service) byWallet(cs []check, idx []int) (own, foreign []int) {
	for _, i := range idx {
		if s.walletOf(cs[i].tx.From) != nil {
			own = append(own, i)
		} else {
			foreign = append(foreign, i)
		}
	}
	return own, foreign
}

// watch handles unmined transfers of another wallet. Their nonces are not
// this wallet's, so this wallet's final nonce proves nothing about them,
// and only their own key can re-sign or cancel them. What is left is
// safe for anyone: the newest attempt's stored bytes are sent again if
// the node has lost them, and a later check settles the transfer once an
// attempt is final.
func (s *Service) watch(ctx context.Context, cs []check, idx []int) {
	parallel(len(idx), func(k int) {
		c := &cs[idx[k]]
		s.log.WarnContext(ctx, "consolidate: transfer of another wallet", "tx", c.tx.ID, "from", c.tx.From, "hint", "only its own wallet can bump or cancel it")
		if c.sts[len(c.sts)-1].State != TxUnknown {
			return
		}
		err := s.chain.Broadcast(ctx, c.attempts[len(c.attempts)-1].Raw)
		if err != nil && !errors.Is(err, ErrNonceTooLow) {
			c.err = wrap(fmt.Sprintf("broadcast transaction %d", c.tx.ID), err)
		}
	})
}

// undecided returns those of the checks at idx that are not done. An
// empty idx gives none: a filter never widens to every check.
func undecided(cs []check, idx []int) []int {
	var out []int
	for _, i := range idx {
		if !cs[i].done {
			out = append(out, i)
		}
	}
	return out
}

// allChecks returns the indices of all of cs.
func allChecks(cs []check) []int {
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// statuses asks the chain about every attempt of the checks at idx in one
// batch. If the batch fails, each check is asked about alone, and a chain
// error fails only the checks it answers for.
func (s *Service) statuses(ctx context.Context, cs []check, idx []int) {
	if len(idx) == 0 {
		return
	}
	var hashes []common.Hash
	for _, i := range idx {
		for _, a := range cs[i].attempts {
			hashes = append(hashes, a.Hash)
		}
	}
	sts, err := s.chain.Statuses(ctx, hashes)
	if err == nil && len(sts) != len(hashes) {
		err = fmt.Errorf("chain returned %d statuses for %d transactions", len(sts), len(hashes))
	}
	switch {
	case err != nil && len(idx) > 1 && ctx.Err() == nil:
		// The node may have failed on one hash (say, one whose block is
		// being reorganised): ask for each transaction on its own, so
		// that one of them cannot hold back every other in the batch.
		parallel(len(idx), func(k int) { s.statuses(ctx, cs, idx[k:k+1]) })
		return
	case err != nil:
		for _, i := range idx {
			cs[i].fail(wrap("chain status", err))
		}
		return
	}
	for _, i := range idx {
		n := len(cs[i].attempts)
		cs[i].sts, sts = sts[:n:n], sts[n:]
	}
}

// decide settles, concurrently, each check at idx that has an attempt in a
// final block, and marks done those with an attempt mined at all (final or
// not), which ends their check.
func (s *Service) decide(ctx context.Context, cs []check, idx []int) {
	var settle []int
	var sets []Settlement
	for _, i := range idx {
		c := &cs[i]
		if c.done {
			continue
		}
		set, done := verdict(c.tx, c.attempts, c.sts)
		c.done = done
		if set != nil {
			settle, sets = append(settle, i), append(sets, *set)
		}
	}
	parallel(len(settle), func(k int) {
		c := &cs[settle[k]]
		c.tx, c.settled, c.err = s.settle(ctx, c.tx, sets[k])
	})
}

// verdict returns the settlement of the first of tx's attempts in a final
// block, if any, and reports whether an attempt is mined at all.
func verdict(tx Transaction, attempts []Attempt, sts []ChainStatus) (*Settlement, bool) {
	for i, st := range sts {
		if st.State != TxFinal {
			continue
		}
		a := attempts[i]
		set := Settlement{
			Outcome:       OutcomeSuccess,
			Hash:          a.Hash,
			FeeBlockchain: st.Fee,
			BlockNumber:   st.BlockNumber,
			BlockHash:     st.BlockHash,
			At:            time.Now(),
		}
		switch {
		case a.Cancel:
			set.Outcome = OutcomeDropped
		case !delivered(tx, st):
			set.Outcome = OutcomeReverted
		}
		return &set, true
	}
	for _, st := range sts {
		if st.State == TxMined {
			return nil, true
		}
	}
	return nil, false
}

// parallel runs f(0) … f(n-1) concurrently and waits for them; a single
// call runs on the caller's goroutine.
func parallel(n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

// settle applies a final outcome and reports whether this call applied
// it. A settlement that lost a race with another worker is not an error:
// the stored row is returned.
func (s *Service) settle(ctx context.Context, tx Transaction, set Settlement) (Transaction, bool, error) {
	settled, err := s.store.Settle(ctx, tx.ID, set)
	if err != nil && !errors.Is(err, ErrNotPending) {
		return tx, false, err
	}
	if err == nil {
		s.m.settled(ctx, settled, set.At)
		s.log.InfoContext(ctx, "consolidate: transfer settled", "tx", tx.ID, "status", settled.Status, "outcome", set.Outcome, "hash", settled.Hash, "block", set.BlockNumber)
		if w := s.walletOf(settled.From); w != nil {
			s.wakeParked(w, settled.Nonce)
			s.settledNonce(ctx, w, settled.Nonce)
		}
	}
	s.refresh(ctx, settled)
	if settled.Status.Final() {
		s.waits.wake(settled.ID)
	}
	return settled, err == nil, nil
}
