package main

import (
	"os"
	"path/filepath"
	"testing"
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
		{"-duration", "0"}, {"-workers", "0"}, {"-role", "both"},
		{"-reorg-every", "1s", "-confirmations", "1"}, {"extra"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}
