package consolidate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
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
}

func (c *check) fail(err error) { c.err, c.done = err, true }

// reconcile does what Reconcile does for each of ids at once, with one
// Statuses call for every attempt of every transaction and at most one
// FinalizedNonce call, and applies the settlements concurrently, so that a
// store with group commit writes them in one commit. The checks come back
// in the order of ids.
func (s *Service) reconcile(ctx context.Context, ids []int64) []check {
	cs := make([]check, len(ids))
	// The checks that found their nonce consumed by another transaction;
	// every other check of the pass clears what an earlier one found.
	var suspects []int
	defer func() { s.clearSuspects(cs, suspects) }()
	parallel(len(ids), func(i int) { s.load(ctx, &cs[i], ids[i]) })
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
	final, err := s.chain.FinalizedNonce(ctx)
	if err != nil {
		for _, i := range open {
			cs[i].fail(fmt.Errorf("consolidate: finalized nonce: %w", err))
		}
		return cs
	}
	var consumed, live []int
	for _, i := range open {
		if final > cs[i].tx.Nonce {
			consumed = append(consumed, i)
		} else {
			live = append(live, i)
		}
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
			s.log.WarnContext(ctx, "consolidate: nonce consumed by a foreign transaction; transfer voided", "tx", c.tx.ID, "nonce", c.tx.Nonce)
			c.tx, c.err = s.settle(ctx, c.tx, Settlement{Outcome: OutcomeDropped, At: time.Now()})
		})
	}
	s.refill(ctx, cs, live)
	parallel(len(live), func(k int) {
		c := &cs[live[k]]
		c.err = s.advance(ctx, c.tx, c.attempts, c.sts)
	})
	return cs
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
	s.readAttempts(ctx, c)
}

// readAttempts reads, or reads again, a check's attempts, forgetting any
// statuses of those read before.
func (s *Service) readAttempts(ctx context.Context, c *check) {
	as, err := s.store.Attempts(ctx, c.tx.ID)
	switch {
	case err != nil:
		c.fail(err)
	case len(as) == 0:
		c.fail(fmt.Errorf("consolidate: transaction %d has no signed attempt", c.tx.ID))
	default:
		c.attempts, c.sts = as, nil
	}
}

// maxSuspects bounds the transfers remembered by voidsDue; past it, those
// seen longer ago than ten VoidDelays (whose checks have likely moved to
// another process) are forgotten.
const maxSuspects = 4096

// voidsDue returns those of the checks at idx, each a transfer whose nonce
// is consumed by another transaction with none of its attempts known, that
// were first seen so at least VoidDelay ago. The others are remembered
// from now, and stay PENDING until a later check.
func (s *Service) voidsDue(ctx context.Context, cs []check, idx []int) []int {
	if len(idx) == 0 {
		return nil
	}
	now := time.Now()
	s.voidMu.Lock()
	defer s.voidMu.Unlock()
	if s.suspects == nil {
		s.suspects = make(map[int64]time.Time)
	}
	var due []int
	for _, i := range idx {
		id := cs[i].tx.ID
		first, seen := s.suspects[id]
		switch {
		case !seen:
			if len(s.suspects) >= maxSuspects {
				for k, t := range s.suspects {
					if now.Sub(t) > 10*s.cfg.VoidDelay {
						delete(s.suspects, k)
					}
				}
			}
			s.suspects[id] = now
			s.log.InfoContext(ctx, "consolidate: nonce consumed by another transaction and none of the transfer's attempts known; voiding it if a later check agrees", "tx", id, "nonce", cs[i].tx.Nonce, "after", s.cfg.VoidDelay)
		case now.Sub(first) >= s.cfg.VoidDelay:
			delete(s.suspects, id)
			due = append(due, i)
		}
	}
	return due
}

// clearSuspects forgets what voidsDue remembered of every check but those
// at keep: their transfers were found mined, open or final, or could not
// be checked, and a later finding starts its wait afresh.
func (s *Service) clearSuspects(cs []check, keep []int) {
	s.voidMu.Lock()
	defer s.voidMu.Unlock()
	if len(s.suspects) == 0 {
		return
	}
	for i := range cs {
		if !slices.Contains(keep, i) {
			delete(s.suspects, cs[i].tx.ID)
		}
	}
}

// byWallet splits the checks at idx into those of transfers this Service's
// wallet signed and those another wallet signed: a store outlives a key
// rotation, and several services with different wallets may share one.
func (s *Service) byWallet(cs []check, idx []int) (own, foreign []int) {
	for _, i := range idx {
		if cs[i].tx.From == s.sender {
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
		s.log.WarnContext(ctx, "consolidate: transfer signed by another wallet; only that wallet's service can bump or cancel it", "tx", c.tx.ID, "from", c.tx.From, "wallet", s.sender)
		if c.sts[len(c.sts)-1].State != TxUnknown {
			return
		}
		err := s.chain.Broadcast(ctx, c.attempts[len(c.attempts)-1].Raw)
		if err != nil && !errors.Is(err, ErrNonceTooLow) {
			c.err = fmt.Errorf("consolidate: broadcast transaction %d: %w", c.tx.ID, err)
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
			cs[i].fail(fmt.Errorf("consolidate: chain status: %w", err))
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
		set, done := verdict(c.attempts, c.sts)
		c.done = done
		if set != nil {
			settle, sets = append(settle, i), append(sets, *set)
		}
	}
	parallel(len(settle), func(k int) {
		c := &cs[settle[k]]
		c.tx, c.err = s.settle(ctx, c.tx, sets[k])
	})
}

// verdict returns the settlement of the first attempt in a final block, if
// any, and reports whether an attempt is mined at all.
func verdict(attempts []Attempt, sts []ChainStatus) (*Settlement, bool) {
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
		case !st.Success:
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

// advance moves a transfer whose nonce is still open: it re-signs the
// newest attempt with bumped fees once it has waited StuckAfter, and
// broadcasts it again if the node has lost it.
func (s *Service) advance(ctx context.Context, tx Transaction, attempts []Attempt, sts []ChainStatus) error {
	latest, lost := attempts[len(attempts)-1], sts[len(sts)-1].State == TxUnknown
	if time.Since(latest.CreatedAt) >= s.cfg.StuckAfter {
		err := s.replace(ctx, tx, latest.Quote, latest.Cancel)
		if !errors.Is(err, ErrFeeTooHigh) || !lost {
			return err
		}
		// No replacement fits under the maximum fee (the attempt may be
		// priced at it already), but the node has lost the attempt we
		// have: its bytes can still land once the base fee allows.
		s.log.WarnContext(ctx, "consolidate: cannot bump a stuck transfer; sending it again as it is", "tx", tx.ID, "err", err)
	}
	if lost {
		return s.send(ctx, tx, latest)
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

// refill sends the wallet's lowest open nonces again, in nonce order, when
// one of the live checks at idx shows that the node has lost a transfer
// above a nonce it does not hold either.
//
// A node keeps only a few dozen of an account's transactions beyond its
// next nonce (go-ethereum: 64) and silently drops the rest, though it
// answered each with success. Once it lacks the wallet's lowest open
// nonce (a crash between commit and broadcast, a restarted node, a
// reorg), everything sent above that window is dropped, and each transfer
// rebroadcast at its own check lands in the window only by chance: the
// wallet's backlog would drain by a handful of nonces per check interval.
// Sent lowest first, each transaction is executable on arrival, so the
// node takes them all.
func (s *Service) refill(ctx context.Context, cs []check, idx []int) {
	lowest, found := uint64(0), false
	for _, i := range idx {
		c := &cs[i]
		if c.sts[len(c.sts)-1].State == TxUnknown && (!found || c.tx.Nonce < lowest) {
			lowest, found = c.tx.Nonce, true
		}
	}
	if !found || !s.refillMu.TryLock() {
		return
	}
	defer s.refillMu.Unlock()
	if time.Now().Before(s.refillNext) {
		return
	}
	next, err := s.chain.Nonce(ctx)
	if err != nil || next >= lowest {
		// Nothing below the lost transfer is missing: its own check
		// sends it.
		return
	}
	open, err := s.openFrom(ctx, next)
	if err != nil {
		s.log.WarnContext(ctx, "consolidate: refill: read open transfers", "err", err)
		return
	}
	if len(open) == 0 || open[0].Nonce != next {
		s.refillNext = time.Now().Add(refillRetry)
		s.log.WarnContext(ctx, "consolidate: the node lacks the wallet's next nonce and no open transfer holds it", "nonce", next)
		return
	}
	sent := 0
	for _, tx := range open {
		as, err := s.store.Attempts(ctx, tx.ID)
		if err != nil || len(as) == 0 {
			break
		}
		if err := s.chain.Broadcast(ctx, as[len(as)-1].Raw); err != nil && !errors.Is(err, ErrNonceTooLow) {
			// Its own check deals with a refusal (underpriced, rejected):
			// make it due now, since nothing above it can land first.
			s.log.InfoContext(ctx, "consolidate: refill: broadcast refused; checking the transfer now", "tx", tx.ID, "nonce", tx.Nonce, "err", err)
			if err := s.enqueueReconcile(ctx, 0, tx.ID); err != nil {
				s.log.WarnContext(ctx, "consolidate: refill: enqueue", "tx", tx.ID, "err", err)
			}
			break
		}
		sent++
	}
	s.log.InfoContext(ctx, "consolidate: refilled the node with the wallet's lowest open nonces", "from", next, "sent", sent)
}

// openFrom returns the wallet's open transfers with nonces from next up,
// at most refillWindow of them, in nonce order, read from the oldest open
// transfers. Nonces the store gave out are never reused, so they are
// found among the oldest; the scan stops once the window is complete.
func (s *Service) openFrom(ctx context.Context, next uint64) ([]Transaction, error) {
	// Every PENDING transfer with a scheduled check: the sweeper's query
	// with a cutoff past any schedule.
	all := time.Now().Add(100 * 365 * 24 * time.Hour)
	nonces := make(map[int64]uint64, len(s.refillNonces))
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
			n, ok := s.refillNonces[id]
			if !ok || (n >= next && n < next+refillWindow) {
				tx, err := s.store.Transaction(ctx, id)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				if tx.From != s.sender || tx.Status.Final() {
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
	s.refillNonces = nonces
	slices.SortFunc(open, func(a, b Transaction) int { return cmp.Compare(a.Nonce, b.Nonce) })
	// Only a contiguous run from next can be executed.
	for i := range open {
		if open[i].Nonce != next+uint64(i) {
			return open[:i], nil
		}
	}
	return open, nil
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

// settle applies a final outcome. A settlement that lost a race with
// another worker is not an error: the stored row is returned.
func (s *Service) settle(ctx context.Context, tx Transaction, set Settlement) (Transaction, error) {
	settled, err := s.store.Settle(ctx, tx.ID, set)
	if err != nil && !errors.Is(err, ErrNotPending) {
		return tx, err
	}
	if err == nil {
		s.log.InfoContext(ctx, "consolidate: settled", "tx", tx.ID, "status", settled.Status, "outcome", set.Outcome, "hash", settled.Hash, "block", set.BlockNumber)
		if settled.From == s.sender {
			s.wakeParked(settled.Nonce)
		}
	}
	s.refresh(ctx, settled)
	return settled, nil
}

// send broadcasts one attempt and acts on what the node says.
func (s *Service) send(ctx context.Context, tx Transaction, a Attempt) error {
	err := s.chain.Broadcast(ctx, a.Raw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNonceTooLow):
		// Something took the nonce, perhaps one of our own attempts that
		// the node has not indexed yet: the next check decides.
		s.log.InfoContext(ctx, "consolidate: nonce already used; checking attempts next time", "tx", tx.ID, "nonce", tx.Nonce)
		return nil
	case errors.Is(err, ErrUnderpriced):
		return s.replace(ctx, tx, a.Quote, a.Cancel)
	case errors.Is(err, ErrRejected) && !a.Cancel:
		// These bytes can never be included. Void the nonce with a cancel
		// so it does not hold back every later transfer of the wallet;
		// the refund follows once the cancel is final. The rejected
		// attempt never entered the pool, so the cancel is priced from
		// the network's current fees rather than as a bump over it.
		s.log.ErrorContext(ctx, "consolidate: transfer rejected by the node; cancelling its nonce", "tx", tx.ID, "err", err)
		return s.replace(ctx, tx, Quote{GasLimit: a.Quote.GasLimit, GasTipCap: new(big.Int), GasFeeCap: new(big.Int)}, true)
	case errors.Is(err, ErrWalletUnderfunded):
		s.log.ErrorContext(ctx, "consolidate: sending wallet cannot pay; top it up", "tx", tx.ID, "wallet", s.sender, "err", err)
	}
	return fmt.Errorf("consolidate: broadcast transaction %d: %w", tx.ID, err)
}

// replace signs a new attempt for tx's nonce with fees bumped over prev, a
// cancel if cancel is set, records it, and only then sends it.
func (s *Service) replace(ctx context.Context, tx Transaction, prev Quote, cancel bool) error {
	if prev.GasLimit == 0 || prev.GasTipCap == nil || prev.GasFeeCap == nil {
		// An attempt stored without its quote: price from today's fees.
		fresh, err := s.chain.Quote(ctx, tx.To, tx.Amount)
		if err != nil {
			return fmt.Errorf("consolidate: quote replacement of transaction %d: %w", tx.ID, err)
		}
		prev.GasLimit = fresh.GasLimit
		prev.GasTipCap, prev.GasFeeCap = new(big.Int), new(big.Int)
	}
	q, err := s.chain.Bump(ctx, prev)
	if err != nil {
		// Above the maximum fee: the current attempt stays in the pool
		// until fees come down.
		return fmt.Errorf("consolidate: bump fees of transaction %d: %w", tx.ID, err)
	}
	var signed SignedTx
	if cancel {
		signed, err = s.chain.SignCancel(tx.Nonce, q)
	} else {
		signed, err = s.chain.Sign(tx.Nonce, tx.To, tx.Amount, q)
	}
	if err != nil {
		return fmt.Errorf("consolidate: sign replacement of transaction %d: %w", tx.ID, err)
	}
	a := Attempt{SignedTx: signed, Quote: q, Cancel: cancel, CreatedAt: time.Now()}
	if err := s.store.AddAttempt(ctx, tx.ID, a); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "consolidate: replacement signed", "tx", tx.ID, "hash", a.Hash, "cancel", cancel, "fee_cap", q.GasFeeCap)
	if err := s.chain.Broadcast(ctx, a.Raw); err != nil && !errors.Is(err, ErrNonceTooLow) {
		return fmt.Errorf("consolidate: broadcast replacement of transaction %d: %w", tx.ID, err)
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
	if tx.From != s.sender {
		return tx, fmt.Errorf("%w: transaction %d is from %s, this service's wallet is %s", ErrOtherWallet, id, tx.From, s.sender)
	}
	attempts, err := s.store.Attempts(ctx, id)
	if err != nil {
		return tx, err
	}
	if len(attempts) == 0 {
		return tx, fmt.Errorf("consolidate: transaction %d has no signed attempt", id)
	}
	if latest := attempts[len(attempts)-1]; !latest.Cancel {
		if err := s.replace(ctx, tx, latest.Quote, true); err != nil {
			return tx, err
		}
	}
	return tx, s.Requeue(ctx, id)
}

// enqueueReconcile schedules a check of transactions after delay.
func (s *Service) enqueueReconcile(ctx context.Context, delay time.Duration, ids ...int64) error {
	msgs := make([]Message, len(ids))
	for i, id := range ids {
		msgs[i] = Message{Queue: s.cfg.QueueName, ID: taskID(id), Body: []byte(strconv.FormatInt(id, 10)), Delay: delay}
	}
	return s.cfg.Queue.Enqueue(ctx, msgs...)
}

// handle runs a batch of reconcile tasks as one reconcile pass and
// decides the fate of each: ack when final, retry with backoff when not,
// dead letters when the budget is spent. A chain error fails the pass for
// every task in it, and each is retried as it would be on its own.
func (s *Service) handle(ctx context.Context, ds []Delivery) {
	tasks := make([]Delivery, 0, len(ds))
	ids := make([]int64, 0, len(ds))
	for _, d := range ds {
		id, err := parseTaskBody(d.Body)
		if err != nil {
			s.log.ErrorContext(ctx, "consolidate: bad reconcile task", "task", d.ID, "attempt", d.Attempt, "err", err)
			s.bury(ctx, d, err.Error())
			continue
		}
		tasks, ids = append(tasks, d), append(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	cs := s.reconcile(ctx, ids)
	// Concurrently, so that the reschedules of a pass share a commit too.
	parallel(len(tasks), func(i int) { s.finish(ctx, tasks[i], ids[i], cs[i].tx, cs[i].err) })
}

// finish acks, retries or buries one task after its reconcile.
func (s *Service) finish(ctx context.Context, d Delivery, id int64, tx Transaction, err error) {
	log := s.log.With("task", d.ID, "attempt", d.Attempt)
	switch {
	case errors.Is(err, ErrNotFound) && tx.ID == 0:
		log.ErrorContext(ctx, "consolidate: reconcile task for a missing transaction", "tx", id)
		s.bury(ctx, d, err.Error())
		return
	case err == nil && tx.Status.Final():
		if err := s.cfg.Queue.Ack(ctx, d); err != nil && !errors.Is(err, ErrLeaseLost) {
			log.WarnContext(ctx, "consolidate: ack", "err", err)
		}
		return
	case err != nil:
		log.WarnContext(ctx, "consolidate: reconcile", "tx", id, "err", err)
		if tx.ID == 0 {
			// The store could not even be read: try again soon, without
			// spending the budget on the store's outage.
			s.retry(ctx, d, s.cfg.Backoff.Base)
			return
		}
	}
	checks := tx.Checks + 1
	if checks >= s.cfg.Backoff.Checks {
		if err := s.park(ctx, id); err != nil && !errors.Is(err, ErrNotPending) {
			log.WarnContext(ctx, "consolidate: park", "tx", id, "err", err)
			s.retry(ctx, d, s.cfg.Backoff.Max)
			return
		}
		log.ErrorContext(ctx, "consolidate: reconcile budget spent, task dead-lettered; the transaction stays PENDING", "tx", id, "checks", checks, "next_check", s.cfg.ParkedCheckInterval)
		s.bury(ctx, d, fmt.Sprintf("not final after %d checks", checks))
		return
	}
	delay := jitter(s.cfg.Backoff.Delay(checks-1), s.cfg.Backoff.Jitter)
	if err := s.store.Reschedule(ctx, id, checks, time.Now().Add(delay)); err != nil && !errors.Is(err, ErrNotPending) {
		log.WarnContext(ctx, "consolidate: reschedule", "tx", id, "err", err)
	}
	s.retry(ctx, d, delay)
}

func (s *Service) retry(ctx context.Context, d Delivery, delay time.Duration) {
	// A lost lease means the task already went to another worker.
	if err := s.cfg.Queue.Retry(ctx, d, delay); err != nil && !errors.Is(err, ErrLeaseLost) {
		s.log.WarnContext(ctx, "consolidate: retry task", "task", d.ID, "err", err)
	}
}

func (s *Service) bury(ctx context.Context, d Delivery, reason string) {
	if err := s.cfg.Queue.Bury(ctx, d, reason); err != nil && !errors.Is(err, ErrLeaseLost) {
		s.log.WarnContext(ctx, "consolidate: bury task", "task", d.ID, "err", err)
	}
}
