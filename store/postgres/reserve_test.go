package postgres_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestReserveInBatches submits reservations and signed transfers at
// once, with a batch wait so that batches hold both: each Submit gets its
// own transfer back, as stored, the signed ones with their first attempt
// and the reservations with neither hash nor attempt; every transfer has
// one submitted event and each key one row; the nonces are gap-free.
func TestReserveInBatches(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := database(t, semantics)
	s := open(t, dsn, &postgres.Options{BatchWait: 20 * time.Millisecond})
	accts := fund(t, s, 8, 100*hold)
	const n = 64
	txs := make([]consolidate.Transaction, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var signer consolidate.SignFunc
			if i%2 == 0 {
				signer = sign
			}
			key := ""
			if i%3 == 0 {
				key = fmt.Sprintf("k%d", i)
			}
			tx, created, err := s.Submit(ctx, transfer(accts[i%len(accts)], key), signer)
			if err != nil || !created {
				t.Errorf("Submit %d: created %v, %v", i, created, err)
			}
			txs[i] = tx
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	keys := 0
	for i, tx := range txs {
		reserved := i%2 == 1
		if i%3 == 0 {
			keys++
		}
		stored, err := s.Transaction(ctx, tx.ID)
		if err != nil || stored.AccountID != accts[i%len(accts)] || stored.Nonce != tx.Nonce ||
			stored.Hash != tx.Hash || !bytes.Equal(stored.Raw, tx.Raw) || stored.IdempotencyKey != tx.IdempotencyKey {
			t.Errorf("Submit %d returned %+v; stored %+v, %v", i, tx, stored, err)
			continue
		}
		if reserved != (tx.Hash == common.Hash{}) || reserved != (tx.Raw == nil) {
			t.Errorf("Submit %d (reserved %v) returned hash %s and %d raw bytes", i, reserved, tx.Hash, len(tx.Raw))
		}
		as, err := s.Attempts(ctx, tx.ID)
		switch {
		case err != nil:
			t.Errorf("Attempts(%d): %v", tx.ID, err)
		case reserved && len(as) != 0:
			t.Errorf("reservation %d has %d attempts, want none", tx.ID, len(as))
		case !reserved && (len(as) != 1 || as[0].Hash != tx.Hash):
			t.Errorf("transfer %d has attempts %v, want its own", tx.ID, as)
		}
	}
	c := connect(t, dsn)
	for table, want := range map[string]int{"transactions": n, "attempts": n / 2, "events": n, "idempotency": keys} {
		if got := count(t, c, table); got != want {
			t.Errorf("%d rows in %s, want %d", got, table, want)
		}
	}
	wantGapFree(t, c)
	storetest.CheckInvariants(t, s, accts...)
}

// TestMigrateReservations upgrades a database at schema version 2, which
// refuses a transfer without a hash, holding a pending signed transfer:
// the transfer reads back and replays as it was stored, and the upgraded
// schema stores a reservation at the next nonce, which its first attempt
// signs.
func TestMigrateReservations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pgtest.Shared(t, nil).CreateDatabase(t)
	if err := postgres.MigrateTo(ctx, dsn, 2); err != nil {
		t.Fatalf("migrate to version 2: %v", err)
	}
	c := connect(t, dsn)
	// What a release with version 2 stored for one Submit under key
	// "old", with its funds held and its nonce taken.
	st, _ := sign(0)
	old := transfer(0, "old")
	var acct, oldID int64
	err := c.QueryRow(ctx, `INSERT INTO accounts (available, current, created_at, updated_at)
		VALUES ($1, $2, now(), now()) RETURNING id`, 4*hold, 5*hold).Scan(&acct)
	if err != nil {
		t.Fatal(err)
	}
	const insertTransaction = `INSERT INTO transactions (account_id, sender, recipient, amount, fee_total, nonce,
		hash, raw, status, version, idempotency_key, next_check_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 0, $6, $7, 'PENDING', 1, $8, now(), now(), now()) RETURNING id`
	err = c.QueryRow(ctx, insertTransaction, acct, wallet.Bytes(), recipient.Bytes(), amount, fee,
		st.Hash.Bytes(), st.Raw, "old").Scan(&oldID)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO credits (account_id, reference, amount, created_at) VALUES ($1, 'fund', $2, now())`, []any{acct, 5 * hold}},
		{`INSERT INTO nonces (sender, next) VALUES ($1, 1)`, []any{wallet.Bytes()}},
		{`INSERT INTO attempts (transaction_id, seq, hash, raw, gas_limit, cancel, created_at)
			VALUES ($1, 1, $2, $3, 21000, false, now())`, []any{oldID, st.Hash.Bytes(), st.Raw}},
		{`INSERT INTO idempotency (account_id, key, request_hash, transaction_id, created_at)
			VALUES ($1, 'old', $2, $3, now())`, []any{acct, old.RequestHash[:], oldID}},
		{`INSERT INTO events (type, transaction_id, account_id, status, created_at)
			VALUES ($1, $2, $3, 'PENDING', now())`, []any{consolidate.EventSubmitted, oldID, acct}},
	} {
		if _, err := c.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	// Version 2 has no room for a reservation.
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, insertTransaction, acct, wallet.Bytes(), recipient.Bytes(), amount, fee, nil, nil, nil)
	tx.Rollback(ctx)
	if err == nil || !strings.Contains(err.Error(), "23502") {
		t.Fatalf("version 2 stored a transfer without a hash: %v, want a not-null violation", err)
	}

	s := open(t, dsn, nil)
	var version int
	if err := c.QueryRow(ctx, `SELECT max(version) FROM schema_version`).Scan(&version); err != nil || version < 3 {
		t.Fatalf("schema version %d, %v after Open; want 3 or later", version, err)
	}
	got, err := s.Transaction(ctx, oldID)
	if err != nil || got.Hash != st.Hash || !bytes.Equal(got.Raw, st.Raw) || got.Nonce != 0 || got.Version != 1 {
		t.Fatalf("the transfer stored before the upgrade reads %+v, %v", got, err)
	}
	old.AccountID = acct
	again, created, err := s.Submit(ctx, old, func(uint64) (consolidate.SignedTx, error) {
		t.Error("a replayed key was signed again")
		return sign(0)
	})
	if err != nil || created || again.ID != oldID {
		t.Errorf("replay of key old after the upgrade: transfer %d, created %v, %v; want %d", again.ID, created, err, oldID)
	}

	p := transfer(acct, "new")
	p.RequestHash = sha256.Sum256([]byte("reserve new"))
	r, created, err := s.Submit(ctx, p, nil)
	if err != nil || !created || r.Nonce != 1 || r.Hash != (common.Hash{}) || r.Raw != nil {
		t.Fatalf("reserve after the upgrade: %+v, created %v, %v; want nonce 1 with no hash", r, created, err)
	}
	if as, err := s.Attempts(ctx, r.ID); err != nil || len(as) != 0 {
		t.Errorf("Attempts of the reservation: %v, %v; want none", as, err)
	}
	first, _ := sign(r.Nonce)
	if err := s.AddAttempt(ctx, r.ID, consolidate.Attempt{SignedTx: first}); err != nil {
		t.Fatalf("AddAttempt: %v", err)
	}
	signed, err := s.Transaction(ctx, r.ID)
	if err != nil || signed.Hash != first.Hash || !bytes.Equal(signed.Raw, first.Raw) || signed.Version != r.Version+1 {
		t.Errorf("the reservation after its first attempt: %+v, %v; want its hash and version %d", signed, err, r.Version+1)
	}
	if _, err := s.Settle(ctx, oldID, consolidate.Settlement{Outcome: consolidate.OutcomeSuccess}); err != nil {
		t.Errorf("Settle the transfer stored before the upgrade: %v", err)
	}
	storetest.CheckInvariants(t, s, acct)
	wantGapFree(t, c)
}
