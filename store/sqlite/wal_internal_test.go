package sqlite

import (
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWALShrinksAfterALongReader holds a read snapshot open while writes
// pile up in the write-ahead log, then lets it go and checks that the log
// file is cut back to Options.WALSizeLimit instead of keeping its peak
// size for good.
func TestWALShrinksAfterALongReader(t *testing.T) {
	const limit = 1 << 20
	path := filepath.Join(t.TempDir(), "wal.db")
	s, a := openWithAccount(t, path, &Options{WALSizeLimit: limit})
	ctx := t.Context()
	walSize := func() int64 {
		t.Helper()
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	credits := 0
	credit := func() {
		t.Helper()
		credits++
		if _, err := s.Credit(ctx, a.ID, big.NewInt(1), "ref-"+strconv.Itoa(credits)); err != nil {
			t.Fatal(err)
		}
	}

	// A reader pinned to a snapshot: no checkpoint can pass it, so the
	// log cannot start over while it lives.
	reader, err := s.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	for walSize() < 4*limit {
		credit()
	}
	peak := walSize()
	if _, err := reader.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}

	// With the reader gone, the next automatic checkpoint completes and a
	// later write starts the log over, truncating the file to the limit.
	for i := 0; walSize() > limit; i++ {
		if i == 10_000 {
			t.Fatalf("write-ahead log still %d bytes after %d more writes (peak %d, limit %d)", walSize(), i, peak, limit)
		}
		credit()
	}
	got, err := s.Account(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Current.Cmp(big.NewInt(int64(credits))) != 0 {
		t.Fatalf("current balance %v after %d credits of 1", got.Current, credits)
	}
	t.Logf("peak %d bytes with the reader, %d after it", peak, walSize())
}
