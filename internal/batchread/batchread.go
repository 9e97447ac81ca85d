// Package batchread assembles the answer of a consolidate.BatchReader
// from rows read in any order: transactions by id, then attempts in the
// order they were recorded.
package batchread

import (
	"fmt"

	"github.com/go-consolidate/consolidate"
)

// Answer is a BatchReader's answer being assembled. Every entry starts
// as ErrNotFound and stays so until its transaction is given.
type Answer struct {
	out []consolidate.TransactionWithAttempts
	at  map[int64][]int // an id's places in out: ids may repeat
}

// New starts the answer for ids, in their order.
func New(ids []int64) *Answer {
	a := &Answer{out: make([]consolidate.TransactionWithAttempts, len(ids)), at: make(map[int64][]int, len(ids))}
	for i, id := range ids {
		a.at[id] = append(a.at[id], i)
		a.out[i].Err = fmt.Errorf("%w: transaction %d", consolidate.ErrNotFound, id)
	}
	return a
}

// Transaction fills the entries of t's id.
func (a *Answer) Transaction(t consolidate.Transaction) {
	for _, i := range a.at[t.ID] {
		a.out[i].Transaction, a.out[i].Err = t, nil
	}
}

// Attempt appends at to the entries of transaction id. Attempts of a
// transaction not given are dropped: it was inserted after it was looked
// for, and its entry stays ErrNotFound.
func (a *Answer) Attempt(id int64, at consolidate.Attempt) {
	for _, i := range a.at[id] {
		if a.out[i].Err == nil {
			a.out[i].Attempts = append(a.out[i].Attempts, at)
		}
	}
}

// Entries returns the answer, one entry per id asked.
func (a *Answer) Entries() []consolidate.TransactionWithAttempts { return a.out }
