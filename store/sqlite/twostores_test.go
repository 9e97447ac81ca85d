package sqlite_test

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestConformanceTwoStores runs the suite against two Stores on one file,
// alternating between them call by call, as two processes sharing a
// database would: writes must serialize across them and every read must
// see the other's commits.
func TestConformanceTwoStores(t *testing.T) {
	storetest.Run(t, func(t *testing.T) consolidate.Store {
		path := filepath.Join(t.TempDir(), "shared.db")
		return &twoStores{s: [2]*sqlite.Store{open(t, path), open(t, path)}}
	})
}

var (
	_ consolidate.Store       = (*twoStores)(nil)
	_ consolidate.BatchReader = (*twoStores)(nil)
)

type twoStores struct {
	s [2]*sqlite.Store
	n atomic.Uint64
}

func (m *twoStores) next() *sqlite.Store { return m.s[m.n.Add(1)%2] }

func (m *twoStores) CreateAccount(ctx context.Context, p consolidate.NewAccount) (consolidate.Account, error) {
	return m.next().CreateAccount(ctx, p)
}
func (m *twoStores) Account(ctx context.Context, id int64) (consolidate.Account, error) {
	return m.next().Account(ctx, id)
}
func (m *twoStores) Credit(ctx context.Context, id int64, amount *big.Int, ref string) (consolidate.Account, error) {
	return m.next().Credit(ctx, id, amount, ref)
}
func (m *twoStores) Submit(ctx context.Context, p consolidate.SubmitParams, sign consolidate.SignFunc) (consolidate.Transaction, bool, error) {
	return m.next().Submit(ctx, p, sign)
}
func (m *twoStores) AddAttempt(ctx context.Context, id int64, a consolidate.Attempt) error {
	return m.next().AddAttempt(ctx, id, a)
}
func (m *twoStores) Attempts(ctx context.Context, id int64) ([]consolidate.Attempt, error) {
	return m.next().Attempts(ctx, id)
}
func (m *twoStores) TransactionsWithAttempts(ctx context.Context, ids []int64) ([]consolidate.TransactionWithAttempts, error) {
	return m.next().TransactionsWithAttempts(ctx, ids)
}
func (m *twoStores) Note(ctx context.Context, id int64, typ string, at time.Time) error {
	return m.next().Note(ctx, id, typ, at)
}
func (m *twoStores) Transaction(ctx context.Context, id int64) (consolidate.Transaction, error) {
	return m.next().Transaction(ctx, id)
}
func (m *twoStores) Transactions(ctx context.Context, id, before int64, limit int) ([]consolidate.Transaction, error) {
	return m.next().Transactions(ctx, id, before, limit)
}
func (m *twoStores) Settle(ctx context.Context, id int64, s consolidate.Settlement) (consolidate.Transaction, error) {
	return m.next().Settle(ctx, id, s)
}
func (m *twoStores) Reschedule(ctx context.Context, id int64, checks int, next time.Time) error {
	return m.next().Reschedule(ctx, id, checks, next)
}
func (m *twoStores) Park(ctx context.Context, id int64, next time.Time) error {
	return m.next().Park(ctx, id, next)
}
func (m *twoStores) Parked(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	return m.next().Parked(ctx, t, after, limit)
}
func (m *twoStores) Due(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	return m.next().Due(ctx, t, after, limit)
}
func (m *twoStores) List(ctx context.Context, f consolidate.Filter) ([]consolidate.Transaction, error) {
	return m.next().List(ctx, f)
}
func (m *twoStores) Overview(ctx context.Context) (consolidate.Overview, error) {
	return m.next().Overview(ctx)
}
func (m *twoStores) SyncNonce(ctx context.Context, sender common.Address, next uint64) error {
	return m.next().SyncNonce(ctx, sender, next)
}
func (m *twoStores) Events(ctx context.Context, limit int) ([]consolidate.Event, error) {
	return m.next().Events(ctx, limit)
}
func (m *twoStores) MarkSent(ctx context.Context, ids []int64) error {
	return m.next().MarkSent(ctx, ids)
}
func (m *twoStores) Close() error { return errors.Join(m.s[0].Close(), m.s[1].Close()) }
