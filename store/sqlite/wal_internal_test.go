package sqlite

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
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

// TestCheckpointsRunInTheBackground writes far fewer frames than the
// committer's own checkpoint waits for, then checks that the database
// file took them anyway: only the background checkpointer copies the log
// back that early.
func TestCheckpointsRunInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	s, _ := openWithAccount(t, path, nil)
	ctx := t.Context()
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// In WAL mode the database file grows only when a checkpoint copies
	// pages into it; so far everything is in the log.
	before := size()
	// A few frames each, about 1500 in all: well under walBackstopFrames.
	for range 500 {
		if _, err := s.CreateAccount(ctx, consolidate.NewAccount{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after 500 accounts: no checkpoint ran", size())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWALBoundedUnderAContinuousWriter keeps the committer busy with
// concurrent writers and readers and checks that the write-ahead log
// never grows past the committer's own checkpoint and a batch: the
// background checkpoints alone could not let it start over.
func TestWALBoundedUnderAContinuousWriter(t *testing.T) {
	// A lower backstop, so that a slow machine (or -race) writes several
	// times as many frames in a few seconds. Tests that run in parallel
	// start only after this one has put it back.
	defer func(n int) { walBackstopFrames = n }(walBackstopFrames)
	walBackstopFrames = 1000
	path := filepath.Join(t.TempDir(), "busy.db")
	s, a := openWithAccount(t, path, nil)
	ctx := t.Context()
	const writers = 32
	// A batch of MaxBatch credits dirties far fewer pages than 2000.
	bound := int64(walBackstopFrames+2000) * (4096 + 24)
	var (
		wg   sync.WaitGroup
		stop atomic.Bool
		peak atomic.Int64
		n    atomic.Int64
	)
	for g := range writers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if _, err := s.Credit(ctx, a.ID, big.NewInt(1), fmt.Sprintf("w%d-%d", g, i)); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Go(func() {
		for !stop.Load() {
			if _, err := s.Account(ctx, a.ID); err != nil {
				t.Error(err)
				return
			}
		}
	})
	// Each write is a frame or more: enough for several backstops.
	deadline := time.Now().Add(60 * time.Second)
	for n.Load() < int64(6*walBackstopFrames) && time.Now().Before(deadline) && !t.Failed() {
		if fi, err := os.Stat(path + "-wal"); err == nil {
			peak.Store(max(peak.Load(), fi.Size()))
		}
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if n.Load() < int64(3*walBackstopFrames) {
		t.Fatalf("only %d writes in 60 s", n.Load())
	}
	if peak.Load() > bound {
		t.Fatalf("write-ahead log reached %d bytes after %d writes; bound %d", peak.Load(), n.Load(), bound)
	}
	t.Logf("%d writes, log peaked at %d bytes (bound %d)", n.Load(), peak.Load(), bound)
}
