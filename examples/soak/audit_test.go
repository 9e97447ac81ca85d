package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestReadLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		// A kill cut the last line short: it is not an accepted transfer.
		"accepted-s0-a-0.log": "1 2 0x00000000000000000000000000000000c0ffee00 1000\n- locked\n= 1\n3 2 0x0000000",
		"accepted-s1-b-0.log": "- insufficient\n2 5 0x00000000000000000000000000000000C0FFEE01 7 replayed-as-new\n",
		"other.log":           "not read\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &report{}
	got, notes, err := readLogs(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || r.locked != 1 || r.insufficient != 1 || r.replays != 1 {
		t.Fatalf("got %d transfers, %d locked, %d insufficient, %d replays; want 2, 1, 1, 1", len(got), r.locked, r.insufficient, r.replays)
	}
	if len(notes) != 1 || notes[0] != "transfer 2: replayed-as-new" {
		t.Errorf("notes %q", notes)
	}
	for _, a := range got {
		if a.id == 1 && (a.account != 2 || a.amount.Int64() != 1000) {
			t.Errorf("transfer 1: %+v", a)
		}
	}
}

func TestParseLine(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "1 2 3", "x 2 0x00000000000000000000000000000000c0ffee00 1", "1 2 nothex 1", "1 2 0x00000000000000000000000000000000c0ffee00 -", "1 2 0x00000000000000000000000000000000c0ffee00 1 a b"} {
		if _, _, err := parseLine(bad); err == nil {
			t.Errorf("parseLine(%q) accepted", bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	if _, err := parseFlags(nil); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, args := range [][]string{
		{"-duration", "0"}, {"-workers", "0"}, {"-role", "both"}, {"-accounts", "1"}, {"-min-accepted", "-1"},
		{"-reorg-every", "1s", "-confirmations", "1"}, {"extra"}, {"-wallets", "0"}, {"-signer", "remote"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	// busy is a run that did real work and left a clean ledger.
	busy := func() *report {
		return &report{
			drained: true, accepted: 900, minAccepted: 200, successful: 800, reverted: 90, voided: 10,
			kills: 50, insufficient: 300, children: 5, started: 5, tokenTransfers: 300, tokenSettled: 250,
		}
	}
	for _, c := range []struct {
		name   string
		change func(*report)
		want   string // in the one shortfall, or "" for a pass
	}{
		{"busy", func(*report) {}, ""},
		{"at the floor", func(r *report) { r.accepted = 200 }, ""},
		{"only reverts settled", func(r *report) { r.successful, r.voided = 0, 0 }, ""},
		{"below the floor", func(r *report) { r.accepted = 199 }, "fewer than -min-accepted 200"},
		{"nothing accepted", func(r *report) { r.accepted, r.successful, r.reverted, r.voided, r.minAccepted = 0, 0, 0, 0, 0 }, "no transfer settled"},
		{"none settled", func(r *report) { r.successful, r.reverted, r.voided = 0, 0, 0 }, "no transfer settled"},
		{"no kill", func(r *report) { r.kills = 0 }, "no SIGKILL"},
		{"no account ran dry", func(r *report) { r.insufficient = 0 }, "insufficient funds"},
		{"a child never started", func(r *report) { r.started = 4 }, "1 of 5 children never started"},
		{"every wallet sent", func(r *report) { r.perWallet = map[common.Address]int{{1}: 300, {2}: 600} }, ""},
		{"no token transfer", func(r *report) { r.tokenTransfers, r.tokenSettled = 0, 0 }, "no token transfer"},
		{"a wallet sent nothing", func(r *report) { r.perWallet = map[common.Address]int{{1}: 900, {2}: 0} }, "carried no transfer"},
		{"one wallet", func(r *report) { r.perWallet = map[common.Address]int{{1}: 900} }, ""},
		{"flaky signer at work", func(r *report) { r.flakySigner, r.signedLater, r.rejected = true, 900, 20 }, ""},
		{"flaky signer never lied", func(r *report) { r.flakySigner, r.signedLater = true, 900 }, "never had a signature refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := busy()
			c.change(r)
			short := r.shortfalls()
			if c.want == "" {
				if len(short) != 0 || !r.ok() {
					t.Fatalf("shortfalls %q, ok %v; want a pass", short, r.ok())
				}
				return
			}
			if len(short) != 1 || !strings.Contains(short[0], c.want) {
				t.Fatalf("shortfalls %q, want one with %q", short, c.want)
			}
			if r.ok() {
				t.Fatal("the verdict passed a run that did too little")
			}
		})
	}
	idle := &report{drained: true, minAccepted: 200, children: 5}
	if n := len(idle.shortfalls()); n != 6 || idle.ok() {
		t.Fatalf("a run that did nothing: %d shortfalls %q, ok %v; want all 6 and a fail", n, idle.shortfalls(), idle.ok())
	}
}

func TestTopUpTarget(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, accounts := range []int{2, 3, 16, 17} {
		seen := map[int64]bool{}
		for range 1000 {
			id := topUpTarget(rng, accounts)
			if id < 1 || id > int64(accounts) || id%2 != 0 {
				t.Fatalf("%d accounts: top-up to account %d, want an even ID from 1 to %d", accounts, id, accounts)
			}
			seen[id] = true
		}
		if len(seen) != accounts/2 {
			t.Errorf("%d accounts: top-ups reached %d accounts, want all %d even ones", accounts, len(seen), accounts/2)
		}
	}
}
