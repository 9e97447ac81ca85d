package main

import (
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestMigrateCreatesTheLedger(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new.db")
	// Only migrate creates a ledger: a mistyped path is an error.
	if r := runCLI(t, nil, "-db", path, "stats"); r.code != exitError || !strings.Contains(r.stderr, "migrate") {
		t.Fatalf("stats on a missing file: exit %d, stderr %q; want 1 and a hint to migrate", r.code, r.stderr)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("stats created the ledger file")
	}
	f := &fixture{t: t, args: []string{"-db", path}}
	out := cliJSON[struct {
		Store         string `json:"store"`
		Where         string `json:"where"`
		SchemaVersion int    `json:"schema_version"`
	}](f, "migrate")
	if out.Store != "sqlite" || out.Where != path || out.SchemaVersion < 4 {
		t.Fatalf("migrate -json = %+v, want sqlite at %s, version >= 4", out, path)
	}
	// Again: nothing to do, same version.
	if text := f.cliOK("migrate"); !strings.Contains(text, "schema version "+strconv.Itoa(out.SchemaVersion)) {
		t.Fatalf("second migrate said %q", text)
	}
	if s := cliJSON[statsView](f, "stats"); s.Pending != 0 || len(s.Wallets) != 0 {
		t.Fatalf("stats of a new ledger = %+v", s)
	}
}

func TestAccountTransferListStats(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	acct := f.funded(1e18)
	tx := f.submit(acct.ID, 1000)
	held := new(big.Int).Add(tx.Amount, tx.FeeTotal)

	a := cliJSON[accountView](f, "account", strconv.FormatInt(acct.ID, 10))
	wantAvail := new(big.Int).Sub(big.NewInt(1e18), held)
	if a.ID != acct.ID || a.Current != "1000000000000000000" || a.Available != wantAvail.String() || a.Held != held.String() {
		t.Fatalf("account -json = %+v, want current 1e18, available %v, held %v", a, wantAvail, held)
	}
	if text := f.cliOK("account", strconv.FormatInt(acct.ID, 10)); !strings.Contains(text, wantAvail.String()+" wei") {
		t.Fatalf("account table lacks the exact available balance:\n%s", text)
	}

	v := cliJSON[transferView](f, "transfer", strconv.FormatInt(tx.ID, 10))
	if v.ID != tx.ID || v.Status != "PENDING" || v.Parked == nil || *v.Parked || v.Amount != "1000" ||
		v.FeeTotal != tx.FeeTotal.String() || v.Hash != tx.Hash.Hex() || v.From != f.sim.Sender().Hex() || v.To != payee.Hex() {
		t.Fatalf("transfer -json = %+v, want the submitted transfer, PENDING and not parked", v)
	}
	if len(v.Attempts) != 1 || v.Attempts[0].Hash != tx.Hash.Hex() || v.Attempts[0].Cancel {
		t.Fatalf("attempts = %+v, want the original only", v.Attempts)
	}
	byHash := cliJSON[transferView](f, "transfer", "-hash", tx.Hash.Hex())
	if byHash.ID != tx.ID {
		t.Fatalf("transfer -hash found %d, want %d", byHash.ID, tx.ID)
	}
	if text := f.cliOK("transfer", strconv.FormatInt(tx.ID, 10)); !strings.Contains(text, "original") || !strings.Contains(text, tx.Hash.Hex()) {
		t.Fatalf("transfer table:\n%s", text)
	}

	s := cliJSON[statsView](f, "stats")
	if s.Pending != 1 || s.Parked != 0 || s.OldestPending == "" || s.Queue != nil {
		t.Fatalf("stats -json = %+v, want 1 pending, none parked, no queue view", s)
	}
	if len(s.Wallets) != 1 || s.Wallets[0].Sender != f.sim.Sender().Hex() || s.Wallets[0].NextNonce != tx.Nonce+1 || s.Wallets[0].Open != 1 {
		t.Fatalf("stats wallets = %+v, want the sender with next nonce %d and one open", s.Wallets, tx.Nonce+1)
	}
	if text := f.cliOK("stats"); !strings.Contains(text, "pending") || !strings.Contains(text, f.sim.Sender().Hex()) {
		t.Fatalf("stats table:\n%s", text)
	}

	done := f.settle(tx)
	if got := cliJSON[transferView](f, "transfer", strconv.FormatInt(tx.ID, 10)); got.Status != string(done.Status) || got.Parked != nil || got.BlockNumber == 0 || got.FeeBlockchain == "" {
		t.Fatalf("settled transfer -json = %+v, want %s with its block and chain fee", got, done.Status)
	}
	a = cliJSON[accountView](f, "account", strconv.FormatInt(acct.ID, 10))
	if a.Held != "0" || a.Available != a.Current {
		t.Fatalf("account after settling = %+v, want nothing held", a)
	}

	for _, c := range []struct {
		args []string
		want []int64
	}{
		{[]string{"list"}, []int64{tx.ID}},
		{[]string{"list", "-status", "successful"}, []int64{tx.ID}},
		{[]string{"list", "-status", "PENDING"}, nil},
		{[]string{"list", "-parked"}, nil},
		{[]string{"list", "-older-than", "1h"}, nil},
		{[]string{"list", "-older-than", "1ns"}, []int64{tx.ID}},
	} {
		if got := ids(cliJSON[listing](f, c.args...)); !equal(got, c.want) {
			t.Errorf("%v -json = %v, want %v", c.args, got, c.want)
		}
	}
	if text := f.cliOK("list", "-status", "FAILED"); !strings.Contains(text, "no transfers") {
		t.Errorf("empty list said %q", text)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	acct := f.funded(1e18)
	var want []int64
	for range 5 {
		want = append([]int64{f.submit(acct.ID, 1).ID}, want...) // newest first
	}
	for _, extra := range [][]string{nil, {"-older-than", "1ns"}} {
		var got []int64
		cursor := int64(0)
		for range 10 {
			args := append([]string{"list", "-limit", "2", "-cursor", strconv.FormatInt(cursor, 10)}, extra...)
			page := cliJSON[listing](f, args...)
			got = append(got, ids(page)...)
			if cursor = page.NextCursor; cursor == 0 {
				break
			}
		}
		if !equal(got, want) {
			t.Errorf("pages of 2 %v = %v, want %v", extra, got, want)
		}
	}
	oldest := cliJSON[listing](f, "list", "-oldest", "-limit", "1")
	if ids(oldest)[0] != want[len(want)-1] || oldest.NextCursor != want[len(want)-1] {
		t.Errorf("list -oldest -limit 1 = %+v, want the first transfer", oldest)
	}
	r := f.cli("list", "-limit", "2")
	if !strings.Contains(r.stderr, "-cursor "+strconv.FormatInt(want[1], 10)) {
		t.Errorf("a full page's table does not say how to continue; stderr %q", r.stderr)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	db := f.path
	for _, args := range [][]string{
		{},
		{"-db", db},
		{"-db", db, "frobnicate"},
		{"-db", db, "-bogus", "stats"},
		{"-db", db, "stats", "-bogus"},
		{"-db", db, "stats", "extra"},
		{"-db", db, "account"},
		{"-db", db, "account", "abc"},
		{"-db", db, "account", "0"},
		{"-db", db, "account", "-5"},
		{"-db", db, "account", "1", "2"},
		{"-db", db, "account", "99999999999999999999999"},
		{"-db", db, "transfer"},
		{"-db", db, "transfer", "1", "-hash", "0x" + strings.Repeat("ab", 32)},
		{"-db", db, "transfer", "-hash", "0x1234"},
		{"-db", db, "transfer", "-hash", "0x" + strings.Repeat("zz", 32)},
		{"-db", db, "list", "-limit", "0"},
		{"-db", db, "list", "-limit", "1001"},
		{"-db", db, "list", "-limit", "x"},
		{"-db", db, "list", "-cursor", "-1"},
		{"-db", db, "list", "-status", "LOST"},
		{"-db", db, "list", "-parked", "-status", "FAILED"},
		{"-db", db, "list", "-older-than", "-1h"},
		{"-db", db, "list", "-older-than", "soon"},
		{"-db", db, "dead-letters", "-limit", "-3"},
		{"-db", db, "requeue", "1"},
		{"-db", db, "requeue", "1", "-ledger-only", "-redis", "redis://127.0.0.1:1"},
		{"-db", db, "cancel", "1"},
		{"-db", db, "cancel", "1", "-rpc", "http://127.0.0.1:1"},
		{"-db", db, "-timeout", "0", "stats"},
		{"-db", db, "-postgres", "postgres://localhost/x", "stats"},
		{"stats"},
	} {
		r := runCLI(t, nil, args...)
		if r.code != exitUsage {
			t.Errorf("consolidate %q: exit %d, want %d; stderr %q", args, r.code, exitUsage, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("consolidate %q printed to stdout: %q", args, r.stdout)
		}
		if r.stderr == "" {
			t.Errorf("consolidate %q said nothing on stderr", args)
		}
	}
	for _, args := range [][]string{{"-h"}, {"help"}, {"-db", db, "list", "-h"}} {
		if r := runCLI(t, nil, args...); r.code != exitOK || !strings.Contains(r.stderr, "Usage") {
			t.Errorf("consolidate %q: exit %d, stderr %q; want 0 and the usage", args, r.code, r.stderr)
		}
	}
}

func TestNotFoundExits1(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for _, args := range [][]string{
		{"account", "42"},
		{"transfer", "42"},
		{"transfer", "-hash", "0x" + strings.Repeat("ab", 32)},
		{"requeue", "42", "-ledger-only"},
	} {
		r := f.cli(args...)
		if r.code != exitError || !strings.Contains(r.stderr, "not found") || r.stdout != "" {
			t.Errorf("consolidate %q: exit %d, stdout %q, stderr %q; want 1 and 'not found'", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestLedgerFromTheEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	acct := f.funded(7)
	f.args = nil
	f.env[envDB] = f.path
	if a := cliJSON[accountView](f, "account", strconv.FormatInt(acct.ID, 10)); a.Current != "7" {
		t.Fatalf("account via %s = %+v", envDB, a)
	}
	// A flag wins over the environment, and two ledgers are refused.
	f.env[envPostgres] = "postgres://127.0.0.1:1/none"
	if r := f.cli("stats"); r.code != exitUsage {
		t.Fatalf("both %s and %s: exit %d, want %d", envDB, envPostgres, r.code, exitUsage)
	}
	if r := f.cli("-db", f.path, "stats"); r.code != exitOK {
		t.Fatalf("-db with %s set: exit %d, stderr %s", envPostgres, r.code, r.stderr)
	}
}

func ids(l listing) []int64 {
	var out []int64
	for _, tx := range l.Transfers {
		out = append(out, tx.ID)
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
