package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/go-consolidate/consolidate/store/postgres"
	"github.com/go-consolidate/consolidate/store/postgres/pgtest"
)

func TestPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t, nil).CreateDatabase(t)

	// migrate creates the schema in the empty database.
	m := &fixture{t: t, args: []string{"-postgres", dsn}}
	if out := m.cliOK("migrate"); !strings.Contains(out, "postgres ledger") {
		t.Fatalf("migrate said %q", out)
	}
	st, err := postgres.Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOptions{store: st, args: []string{"-postgres", dsn}})
	acct := f.funded(1e18)
	tx := f.submit(acct.ID, 1000)
	done := f.settle(f.submit(acct.ID, 2000))

	a := cliJSON[accountView](f, "account", strconv.FormatInt(acct.ID, 10))
	fresh, err := f.svc.Account(t.Context(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Available != fresh.Available.String() || a.Current != fresh.Current.String() || a.Held == "0" {
		t.Fatalf("account -json = %+v, want available %v, current %v and something held", a, fresh.Available, fresh.Current)
	}
	if got := ids(cliJSON[listing](f, "list")); !equal(got, []int64{done.ID, tx.ID}) {
		t.Fatalf("list = %v, want [%d %d]", got, done.ID, tx.ID)
	}
	if got := ids(cliJSON[listing](f, "list", "-status", "PENDING")); !equal(got, []int64{tx.ID}) {
		t.Fatalf("list -status PENDING = %v, want [%d]", got, tx.ID)
	}
	if v := cliJSON[transferView](f, "transfer", "-hash", done.Hash.Hex()); v.ID != done.ID || v.Status != string(done.Status) {
		t.Fatalf("transfer -hash = %+v, want transfer %d, %s", v, done.ID, done.Status)
	}
	s := cliJSON[statsView](f, "stats")
	if s.Pending != 1 || s.Parked != 0 || len(s.Wallets) != 1 || s.Wallets[0].NextNonce != 2 || s.Wallets[0].LowestOpen != tx.Nonce {
		t.Fatalf("stats -json = %+v, want 1 pending and the wallet at nonce 2", s)
	}
	// The DSN from the environment, as operators set it.
	f.args = nil
	f.env[envPostgres] = dsn
	if r := f.cli("account", "999"); r.code != exitError || !strings.Contains(r.stderr, "account 999 not found") {
		t.Fatalf("account 999 via %s: exit %d, stderr %q", envPostgres, r.code, r.stderr)
	}
}
