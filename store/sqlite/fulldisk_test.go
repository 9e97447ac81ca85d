package sqlite_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
	"github.com/go-consolidate/consolidate/store/storetest"
)

// TestFullDisk puts the ledger on a small tmpfs, fills it, and checks that
// writes fail whole and the same Store works again once space is freed.
func TestFullDisk(t *testing.T) {
	dir := smallFilesystem(t, "4m")
	s := open(t, filepath.Join(dir, "ledger.db"))
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()

	a, err := s.CreateAccount(ctx, consolidate.NewAccount{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credit(ctx, a.ID, big.NewInt(1_000_000), "fund"); err != nil {
		t.Fatal(err)
	}
	var pending []consolidate.Transaction
	for i := range 2 {
		tx, _, err := s.Submit(ctx, fullDiskTransfer(a.ID, i), fullDiskSign)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, tx)
	}
	before := ledgerState(t, s, a.ID)

	// Empty the log first. A log whose frames are all copied back is
	// started over by the next write, which then reuses the file's pages
	// and needs no new space; the background checkpoint does that copy
	// when it gets to it, so without this the next Submit may not fail.
	truncateLog(t, filepath.Join(dir, "ledger.db"))
	filler := fill(t, dir)
	_, _, err = s.Submit(ctx, fullDiskTransfer(a.ID, 2), fullDiskSign)
	wantFull(t, "Submit", err)
	_, err = s.Settle(ctx, pending[0].ID, success(pending[0]))
	wantFull(t, "Settle", err)
	_, err = s.Credit(ctx, a.ID, big.NewInt(5), "late")
	wantFull(t, "Credit", err)
	// Writes that arrive together are committed as one batch, which takes
	// another path on failure: each is run again alone.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, _, errs[i] = s.Submit(ctx, fullDiskTransfer(a.ID, 10+i), fullDiskSign) })
	}
	wg.Go(func() { _, err = s.Settle(ctx, pending[1].ID, success(pending[1])) })
	wg.Wait()
	wantFull(t, "Settle in a batch", err)
	for i, err := range errs {
		wantFull(t, "Submit "+itoa(int64(i))+" in a batch", err)
	}
	if after := ledgerState(t, s, a.ID); after != before {
		t.Fatalf("failed writes changed the ledger:\nbefore %s\nafter  %s", before, after)
	}
	storetest.CheckInvariants(t, s, a.ID)

	// Space comes back: the same Store, not reopened, takes writes again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	tx, created, err := s.Submit(ctx, fullDiskTransfer(a.ID, 2), fullDiskSign)
	if err != nil || !created {
		t.Fatalf("Submit once space is free: created %v, %v", created, err)
	}
	if tx.Nonce != pending[1].Nonce+1 {
		t.Errorf("nonce %d after the failed Submit, want %d: a failed write took a nonce", tx.Nonce, pending[1].Nonce+1)
	}
	settled, err := s.Settle(ctx, pending[0].ID, success(pending[0]))
	if err != nil || settled.Status != consolidate.StatusSuccessful {
		t.Fatalf("Settle once space is free: %s, %v", settled.Status, err)
	}
	if _, err := s.Credit(ctx, a.ID, big.NewInt(5), "late"); err != nil {
		t.Fatalf("Credit once space is free: %v", err)
	}
	got, err := s.Account(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	// 1 000 000 credited, three transfers of 100 + 10 held, one of them
	// settled, then 5 more.
	if got.Available.Int64() != 1_000_000-3*110+5 || got.Current.Int64() != 1_000_000-110+5 {
		t.Fatalf("balances available %s current %s, want %d and %d", got.Available, got.Current, 1_000_000-3*110+5, 1_000_000-110+5)
	}
	storetest.CheckInvariants(t, s, a.ID)
}

// smallFilesystem mounts a tmpfs of the given size on a new directory and
// unmounts it when the test ends. Mounting needs root: without it the test
// is skipped, but as root a failed mount fails the test.
func smallFilesystem(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// truncateLog copies the whole write-ahead log of the database at path
// back into it and cuts the log file to nothing, through a connection of
// its own.
func truncateLog(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The store's background checkpoint may hold the checkpoint lock for
	// a moment, which makes this one report busy: try again.
	var busy, frames, copied int
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := db.QueryRowContext(t.Context(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint of %s: still busy after 5 s, %d of %d frames copied", path, copied, frames)
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 0 {
		t.Fatalf("the log of %s is %d bytes after a truncating checkpoint", path, st.Size())
	}
}

// fill writes a file in dir until the filesystem has no page left, and
// returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for {
		if _, err := f.Write(page); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v, want ENOSPC", dir, err)
			}
			return path
		}
	}
}

// wantFull fails the test unless err is SQLite's report of a full disk,
// and not an answer about the request itself.
func wantFull(t *testing.T, op string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s on a full disk succeeded", op)
	}
	if !strings.Contains(err.Error(), "full") {
		t.Fatalf("%s on a full disk: %v, want SQLite's disk full error", op, err)
	}
	for _, sentinel := range []error{consolidate.ErrInsufficientFunds, consolidate.ErrIdempotencyConflict, consolidate.ErrNotPending, consolidate.ErrNotFound} {
		if errors.Is(err, sentinel) {
			t.Fatalf("%s on a full disk: %v, which claims %v", op, err, sentinel)
		}
	}
}

// ledgerState describes everything a write could touch for the account:
// balances, transactions with their status and version, attempts, and
// unsent events.
func ledgerState(t *testing.T, s *sqlite.Store, account int64) string {
	t.Helper()
	ctx := t.Context()
	a, err := s.Account(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("available " + a.Available.String() + " current " + a.Current.String() + ";")
	txs, err := s.Transactions(ctx, account, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		as, err := s.Attempts(ctx, tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(" tx " + itoa(tx.ID) + " " + string(tx.Status) + " v" + itoa(tx.Version) + " nonce " + itoa(int64(tx.Nonce)) + " attempts " + itoa(int64(len(as))) + ";")
	}
	evs, err := s.Events(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(" events")
	for _, e := range evs {
		b.WriteString(" " + itoa(e.ID) + ":" + e.Type)
	}
	return b.String()
}

func itoa(n int64) string { return big.NewInt(n).String() }

var fullDiskSender = common.HexToAddress("0x00000000000000000000000000000000000000aa")

// fullDiskTransfer is transfer number i of 100 wei and a fee of 10.
func fullDiskTransfer(account int64, i int) consolidate.SubmitParams {
	now := time.Unix(1_700_000_000, 0)
	return consolidate.SubmitParams{
		AccountID:      account,
		From:           fullDiskSender,
		To:             common.HexToAddress("0x00000000000000000000000000000000000000bb"),
		Amount:         big.NewInt(100),
		FeeTotal:       big.NewInt(10),
		IdempotencyKey: "transfer-" + itoa(int64(i)),
		RequestHash:    sha256.Sum256([]byte{byte(i)}),
		Quote:          consolidate.Quote{GasLimit: 21_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2)},
		NextCheckAt:    now.Add(time.Minute),
		Now:            now,
	}
}

// fullDiskSign signs with a hash that depends on the nonce only.
func fullDiskSign(nonce uint64) (consolidate.SignedTx, error) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], nonce)
	return consolidate.SignedTx{Hash: sha256.Sum256(b[:]), Raw: append([]byte{0x02}, b[:]...)}, nil
}

// success settles tx as mined with status 1.
func success(tx consolidate.Transaction) consolidate.Settlement {
	return consolidate.Settlement{
		Outcome: consolidate.OutcomeSuccess, Hash: tx.Hash, FeeBlockchain: big.NewInt(7),
		BlockNumber: 1, BlockHash: common.HexToHash("0x01"),
	}
}
