package consolidate_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// pendingChain signs for real-looking hashes and says every transaction is
// still in the mempool, recording when it was asked.
type pendingChain struct {
	mu    sync.Mutex
	asked []time.Time
}

func (c *pendingChain) Sender() common.Address                  { return common.HexToAddress("0xfeed") }
func (c *pendingChain) Nonce(context.Context) (uint64, error)   { return 0, nil }
func (c *pendingChain) Broadcast(context.Context, []byte) error { return nil }
func (c *pendingChain) Quote(context.Context, consolidate.Transfer) (consolidate.Quote, error) {
	return consolidate.Quote{GasLimit: 21000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2)}, nil
}

func (c *pendingChain) SignsOffline() bool { return true }

func (c *pendingChain) Sign(_ context.Context, nonce uint64, t consolidate.Transfer, q consolidate.Quote) (consolidate.SignedTx, error) {
	raw := binary.BigEndian.AppendUint64(t.To.Bytes(), nonce)
	return consolidate.SignedTx{Hash: sha256.Sum256(raw), Raw: raw}, nil
}

func (c *pendingChain) SignCancel(ctx context.Context, nonce uint64, q consolidate.Quote) (consolidate.SignedTx, error) {
	return c.Sign(ctx, nonce, consolidate.Transfer{To: c.Sender(), Amount: big.NewInt(0)}, q)
}

func (c *pendingChain) Bump(_ context.Context, q consolidate.Quote) (consolidate.Quote, error) {
	return q, nil
}

func (c *pendingChain) FinalizedNonce(context.Context) (uint64, error) { return 0, nil }

func (c *pendingChain) Statuses(_ context.Context, hashes []common.Hash) ([]consolidate.ChainStatus, error) {
	c.mu.Lock()
	c.asked = append(c.asked, time.Now())
	c.mu.Unlock()
	sts := make([]consolidate.ChainStatus, len(hashes))
	for i := range sts {
		sts[i].State = consolidate.TxPending
	}
	return sts, nil
}

// TestBackoffScheduleWithSeedDefaults runs the worker on a fake clock with
// the default schedule: a first check at once, then 100, 200, 400, 800,
// 1600, 1600 … seconds apart, 32 checks in all, then dead letters with the
// transaction still PENDING and parked: checked again every hour.
func TestBackoffScheduleWithSeedDefaults(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		store, err := sqlite.Open(filepath.Join(dir, "ledger.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		ch := &pendingChain{}
		queue := consolidate.NewMemoryQueue()
		svc, err := consolidate.New(store, ch, &consolidate.Config{
			Queue:         queue,
			Logger:        quietLogger(),
			PollInterval:  time.Second,
			SweepInterval: time.Hour,
			StuckAfter:    time.Hour * 1000,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		acct, err := svc.CreateAccount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Credit(ctx, acct.ID, big.NewInt(1e18), "deposit"); err != nil {
			t.Fatal(err)
		}
		tx, err := svc.Submit(ctx, consolidate.SubmitRequest{AccountID: acct.ID, To: alice, Amount: big.NewInt(1)})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			svc.Run(ctx)
		}()
		// 32 checks take 100+200+400+800 + 27×1600 s ≈ 12.4 hours.
		time.Sleep(13 * time.Hour)
		cancel()
		<-done

		ch.mu.Lock()
		asked := ch.asked
		ch.mu.Unlock()
		if len(asked) != 32 {
			t.Fatalf("%d checks, want 32", len(asked))
		}
		want := []time.Duration{0, 100, 200, 400, 800, 1600, 1600}
		prev := start
		for i, at := range asked {
			gap := at.Sub(prev)
			w := 1600 * time.Second
			if i < len(want) {
				w = want[i] * time.Second
			}
			// The worker polls once a second, so a check may come up to
			// one poll late.
			if gap < w || gap > w+time.Second {
				t.Errorf("check %d came %v after the previous, want %v", i+1, gap, w)
			}
			prev = at
		}
		got, err := svc.Get(context.Background(), tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Parked: checked again an hour after its last check.
		slow := asked[len(asked)-1].Add(time.Hour)
		if got.Status != consolidate.StatusPending || got.NextCheckAt.Before(slow) || got.NextCheckAt.After(slow.Add(time.Second)) {
			t.Fatalf("after the budget: %s, next check %v; want PENDING, parked until %v", got.Status, got.NextCheckAt, slow)
		}
		dead, err := queue.DeadLetters(context.Background(), "reconcile", 10)
		if err != nil || len(dead) != 1 || dead[0].Attempt != 32 {
			t.Fatalf("dead letters %+v, %v; want the task after 32 attempts", dead, err)
		}
		evs, err := store.Events(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Type != consolidate.EventDeadLettered || last.TransactionID != tx.ID {
			t.Fatalf("last event %+v, want %s", last, consolidate.EventDeadLettered)
		}
	})
}
