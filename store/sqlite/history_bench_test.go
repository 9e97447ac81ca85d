package sqlite

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// BenchmarkSubmitHistory is one durable Store.Submit with an idempotency
// key, on a file that already holds rows=N settled transactions of the
// same account (with their attempts, events and idempotency keys). Its
// p50 should not depend on N: no statement on the submit path scans
// history (see TestQueryPlans).
func BenchmarkSubmitHistory(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			s, a := openWithAccount(b, filepath.Join(b.TempDir(), "history.db"), nil)
			ctx := context.Background()
			if _, err := s.Credit(ctx, a.ID, new(big.Int).Lsh(big.NewInt(1), 200), "fund"); err != nil {
				b.Fatal(err)
			}
			if err := fillHistory(ctx, s, a.ID, n); err != nil {
				b.Fatal(err)
			}
			p := consolidate.SubmitParams{
				AccountID: a.ID,
				From:      common.HexToAddress("0x01"),
				To:        common.HexToAddress("0x02"),
				Amount:    big.NewInt(1000),
				FeeTotal:  big.NewInt(10),
				Quote:     consolidate.Quote{GasLimit: 21_000, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(30e9)},
			}
			sign := func(nonce uint64) (consolidate.SignedTx, error) {
				h := common.Hash{0: 1}
				binary.BigEndian.PutUint64(h[24:], nonce)
				return consolidate.SignedTx{Hash: h, Raw: h[:]}, nil
			}
			var lat []time.Duration
			i := 0
			for b.Loop() {
				i++
				p.IdempotencyKey = fmt.Sprint("bench-", i)
				start := time.Now()
				if _, _, err := s.Submit(ctx, p, sign); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		})
	}
}

// fillHistory stores n settled transactions of account id from another
// sender, in one transaction, with SQL alone: building them through Submit
// would take minutes.
func fillHistory(ctx context.Context, s *Store, id int64, n int) error {
	sender := common.HexToAddress("0x03").Bytes()
	zero := make([]byte, 32)
	stmts := []struct {
		q    string
		args []any
	}{
		{`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
			INSERT INTO transactions (account_id, sender, recipient, amount, fee_total, fee_blockchain, nonce,
				hash, raw, status, version, idempotency_key, block_number, block_hash, checks, next_check_at,
				created_at, updated_at)
			SELECT ?, ?, ?, ?, ?, ?, i, randomblob(32), randomblob(110), 'SUCCESSFUL', 2, 'old-' || i, i,
				randomblob(32), 1, NULL, i, i FROM seq`,
			[]any{n, id, sender, sender, zero, zero, zero}},
		{`INSERT INTO attempts (transaction_id, seq, hash, raw, gas_limit, gas_tip_cap, gas_fee_cap, cancel, created_at)
			SELECT id, 1, hash, raw, 21000, ?, ?, 0, created_at FROM transactions WHERE sender = ?`,
			[]any{zero, zero, sender}},
		{`INSERT INTO events (type, transaction_id, account_id, status, created_at, sent_at)
			SELECT 'transaction.successful', id, account_id, status, created_at, created_at FROM transactions WHERE sender = ?`,
			[]any{sender}},
		{`INSERT INTO idempotency (account_id, key, request_hash, transaction_id, error_code, created_at)
			SELECT account_id, idempotency_key, randomblob(32), id, NULL, created_at FROM transactions WHERE sender = ?`,
			[]any{sender}},
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx) error {
		for _, st := range stmts {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return err
			}
		}
		return nil
	})
}
