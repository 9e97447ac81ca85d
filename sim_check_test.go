package consolidate_test

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// check compares the store with the model: each final status must be what
// the chain decided, final statuses never change, balances follow from the
// outcomes, money is conserved and the store's own invariants hold.
func (s *sim) check(ctx context.Context) {
	t := s.t
	t.Helper()
	storetest.CheckInvariants(t, s.store, s.accountIDs()...)
	nonces := map[simNonce]int64{}
	held := map[int64]*big.Int{}
	spent := map[int64]*big.Int{}
	for _, a := range s.accounts {
		held[a.id], spent[a.id] = new(big.Int), new(big.Int)
	}
	for _, id := range s.ids() {
		m := s.txs[id]
		tx, err := s.store.Transaction(ctx, id)
		if err != nil {
			t.Fatalf("Transaction(%d): %v", id, err)
		}
		if other, dup := nonces[simNonce{tx.From, tx.Nonce}]; dup {
			t.Fatalf("transactions %d and %d share nonce %d of %s", other, id, tx.Nonce, tx.From)
		}
		nonces[simNonce{tx.From, tx.Nonce}] = id
		if m.status.Final() && tx.Status != m.status {
			t.Fatalf("transaction %d went from %s to %s", id, m.status, tx.Status)
		}
		fee := s.feeOf(m.account)
		cost := new(big.Int).Add(m.amount, fee)
		if !tx.Status.Final() {
			held[m.account].Add(held[m.account], cost)
			m.status = tx.Status
			continue
		}
		if !m.status.Final() {
			m.outcome = s.outcome(tx)
			s.count("settled: " + m.outcome.String())
		}
		m.status = tx.Status
		if m.outcome.Status() != tx.Status {
			t.Fatalf("transaction %d is %s; the chain says %s", id, tx.Status, m.outcome)
		}
		switch m.outcome {
		case consolidate.OutcomeSuccess:
			spent[m.account].Add(spent[m.account], cost)
		case consolidate.OutcomeReverted:
			spent[m.account].Add(spent[m.account], fee)
		}
	}
	totalCredits, totalCurrent, totalSpent := new(big.Int), new(big.Int), new(big.Int)
	for _, a := range s.accounts {
		got, err := s.store.Account(ctx, a.id)
		if err != nil {
			t.Fatal(err)
		}
		current := new(big.Int).Sub(a.credits, spent[a.id])
		available := new(big.Int).Sub(current, held[a.id])
		if got.Current.Cmp(current) != 0 || got.Available.Cmp(available) != 0 {
			t.Fatalf("account %d: available %s current %s; the model says %s and %s", a.id, got.Available, got.Current, available, current)
		}
		if got.Available.Sign() < 0 {
			t.Fatalf("account %d overdrawn: %s", a.id, got.Available)
		}
		totalCredits.Add(totalCredits, a.credits)
		totalCurrent.Add(totalCurrent, got.Current)
		totalSpent.Add(totalSpent, spent[a.id])
	}
	if new(big.Int).Add(totalCurrent, totalSpent).Cmp(totalCredits) != 0 {
		t.Fatalf("money not conserved: credits %s, current %s + settled outflows %s", totalCredits, totalCurrent, totalSpent)
	}
}

// outcome is what the chain decided for a transfer the store calls final;
// the test fails if the chain has decided nothing yet.
func (s *sim) outcome(tx consolidate.Transaction) consolidate.Outcome {
	b, ok := s.chain.finalLanding(tx.From, tx.Nonce)
	if !ok {
		s.t.Fatalf("transaction %d is %s, but its nonce %d is not consumed in a final block", tx.ID, tx.Status, tx.Nonce)
	}
	m := s.txs[tx.ID]
	switch {
	case b.tx.foreign || b.tx.cancel:
		if !b.tx.foreign && tx.Hash != b.tx.hash {
			s.t.Fatalf("transaction %d: hash %s, but the cancel %s landed", tx.ID, tx.Hash, b.tx.hash)
		}
		return consolidate.OutcomeDropped
	case b.tx.to != m.to || b.tx.amount.Cmp(m.amount) != 0:
		s.t.Fatalf("transaction %d: nonce %d consumed by a transfer of another amount or recipient", tx.ID, tx.Nonce)
	case tx.Hash != b.tx.hash:
		s.t.Fatalf("transaction %d: hash %s, but attempt %s landed", tx.ID, tx.Hash, b.tx.hash)
	case tx.Token != b.tx.token:
		s.t.Fatalf("transaction %d of %s: nonce %d consumed by a transfer of %s", tx.ID, tx.Token, tx.Nonce, b.tx.token)
	case !b.success:
		return consolidate.OutcomeReverted
	case b.tx.token != (common.Address{}) && !b.delivered:
		// The receipt says success, but the token did not move the amount.
		return consolidate.OutcomeReverted
	}
	return consolidate.OutcomeSuccess
}

func (s *sim) accountIDs() []int64 {
	ids := make([]int64, len(s.accounts))
	for i, a := range s.accounts {
		ids[i] = a.id
	}
	return ids
}

// checkEvents checks, once every transfer is final, that each has exactly
// one final event, published or still in the outbox, with its status.
func (s *sim) checkEvents(ctx context.Context) {
	evs, err := s.store.Events(ctx, 1<<20)
	if err != nil {
		s.t.Fatal(err)
	}
	all := make(map[string]consolidate.EventMessage, len(s.events)+len(evs))
	for id, m := range s.events {
		all[id] = m
	}
	for _, ev := range evs {
		all[consolidate.EventID(ev.ID)] = consolidate.EventMessage{ID: consolidate.EventID(ev.ID), Type: ev.Type, TransactionID: ev.TransactionID, Status: ev.Status}
	}
	final := map[int64]int{}
	for _, m := range all {
		if m.Type != consolidate.EventSuccessful && m.Type != consolidate.EventFailed {
			continue
		}
		final[m.TransactionID]++
		if tx := s.txs[m.TransactionID]; tx == nil || tx.status != m.Status {
			s.t.Fatalf("event %s: transaction %d %s, but the store says %v", m.ID, m.TransactionID, m.Status, tx)
		}
	}
	for id, n := range final {
		if n != 1 {
			s.t.Fatalf("transaction %d has %d final events", id, n)
		}
	}
	if len(final) != len(s.txs) {
		s.t.Fatalf("%d final events for %d transfers", len(final), len(s.txs))
	}
}
