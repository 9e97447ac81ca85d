package postgres_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/jackc/pgx/v5"
)

// tally counts the results of a run by kind, and how its unknown
// outcomes were resolved.
type tally struct {
	ok, funds, unknown, failed int
	// Unknown outcomes whose retry found the transfer stored, or stored
	// it now.
	foundStored, storedNow int
}

// auditResults checks the database behind s and c against what every
// Submit of a run returned: each success is stored as returned, and a key
// made one transfer however many hosts submitted it; a failure stored
// nothing under its key; a refusal for funds is recorded under its key;
// an unknown outcome is resolved by a retry with its key, which returns
// the stored transfer or stores it now; and every stored transfer is
// one of these.
func auditResults(t *testing.T, s *postgres.Store, c *pgx.Conn, results []result) tally {
	t.Helper()
	ctx := t.Context()
	type akey struct {
		account int64
		key     string
	}
	var n tally
	ids := map[akey]int64{}   // the transfer each key made
	known := map[int64]bool{} // every transfer a Submit returned
	for _, r := range results {
		if r.Kind != "ok" {
			continue
		}
		n.ok++
		k := akey{r.Account, r.Key}
		if id, ok := ids[k]; ok && id != r.ID {
			t.Errorf("key %s of account %d made transfers %d and %d", r.Key, r.Account, id, r.ID)
		}
		ids[k] = r.ID
		if known[r.ID] {
			continue
		}
		known[r.ID] = true
		tx, err := s.Transaction(ctx, r.ID)
		if err != nil || tx.Hash.Hex() != r.Hash || tx.AccountID != r.Account || tx.Nonce != r.Nonce {
			t.Errorf("host %d: Submit %s returned transfer %d (%s, nonce %d); stored: %+v, %v", r.Host, r.Key, r.ID, r.Hash, r.Nonce, tx, err)
		}
	}
	// Unknown outcomes first: one may have stored a key that another
	// host's Submit of the same key failed on.
	for _, r := range results {
		k := akey{r.Account, r.Key}
		switch r.Kind {
		case "funds":
			n.funds++
			var recorded bool
			err := c.QueryRow(ctx, `SELECT true FROM idempotency WHERE account_id = $1 AND key = $2 AND error_code IS NOT NULL`,
				r.Account, r.Key).Scan(&recorded)
			if err != nil {
				t.Errorf("Submit %s was refused for funds, yet no refusal is recorded: %v", r.Key, err)
			}
		case "unknown":
			n.unknown++
			if _, ok := ids[k]; ok {
				continue
			}
			tx, created, err := s.Submit(ctx, transfer(r.Account, r.Key), sign)
			switch {
			case err == nil:
				ids[k], known[tx.ID] = tx.ID, true
				if created {
					n.storedNow++
				} else {
					n.foundStored++
				}
			case errors.Is(err, consolidate.ErrInsufficientFunds):
			default:
				t.Errorf("retry of Submit %s, whose outcome was unknown: %v", r.Key, err)
			}
		}
	}
	for _, r := range results {
		if r.Kind != "failed" {
			continue
		}
		n.failed++
		k := akey{r.Account, r.Key}
		if _, ok := ids[k]; ok {
			continue // another host's Submit of the same key stored it
		}
		var stored int
		err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM idempotency WHERE account_id = $1 AND key = $2)
			+ (SELECT count(*) FROM transactions WHERE account_id = $1 AND idempotency_key = $2)`, r.Account, r.Key).Scan(&stored)
		if err != nil || stored != 0 {
			t.Errorf("host %d: Submit %s failed (%s), yet %d rows of it are stored (%v)", r.Host, r.Key, r.Err, stored, err)
		}
	}
	rows, err := c.Query(ctx, `SELECT id FROM transactions`)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	var unreported []int64
	for _, id := range stored {
		if !known[id] {
			unreported = append(unreported, id)
		}
	}
	if len(unreported) > 0 || len(stored) != len(known) {
		t.Errorf("%d transfers stored, %d returned by a Submit; stored and never returned: %v", len(stored), len(known), unreported)
	}
	return n
}

// errorSample returns up to three distinct errors of results, for logs.
func errorSample(results []result) string {
	seen := map[string]bool{}
	var out []string
	for _, r := range results {
		if r.Err != "" && !seen[r.Err] && len(out) < 3 {
			seen[r.Err] = true
			out = append(out, r.Err)
		}
	}
	return strings.Join(out, "; ")
}

// wantSpent checks that account, funded with n holds, holds n transfers
// and nothing more to spend: it was spent exactly, never beyond.
func wantSpent(t *testing.T, s *postgres.Store, c *pgx.Conn, account int64, n int) {
	t.Helper()
	var spent int
	if err := c.QueryRow(t.Context(), `SELECT count(*) FROM transactions WHERE account_id = $1`, account).Scan(&spent); err != nil {
		t.Fatal(err)
	}
	a, err := s.Account(t.Context(), account)
	if err != nil || spent != n || a.Available.Sign() != 0 || a.Current.Cmp(big.NewInt(int64(n)*hold)) != 0 {
		t.Errorf("account %d: %d transfers, %+v, %v; want %d, available 0", account, spent, a, err, n)
	}
}
