package chaintest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
)

func head(t *testing.T, c *Chain) uint64 {
	t.Helper()
	n, err := c.Client().BlockNumber(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNewFundsWallets(t *testing.T) {
	t.Parallel()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	extra := common.HexToAddress("0x00000000000000000000000000000000000000ee")
	c := NewT(t, &Options{Key: key, Balance: big.NewInt(12345), Fund: []common.Address{extra}})
	ctx := t.Context()
	if c.Key().D.Cmp(key.D) != 0 || c.Sender() != crypto.PubkeyToAddress(key.PublicKey) {
		t.Fatalf("key or sender not the given one: %s", c.Sender())
	}
	for _, a := range []common.Address{c.Sender(), extra} {
		b, err := c.Client().BalanceAt(ctx, a, nil)
		if err != nil || b.Int64() != 12345 {
			t.Fatalf("balance of %s: %v, %v", a, b, err)
		}
	}
	id, err := c.Client().ChainID(ctx)
	if err != nil || id.Int64() != ChainID {
		t.Fatalf("chain ID %v, %v", id, err)
	}
}

func TestNewRejectsBrokenKey(t *testing.T) {
	t.Parallel()
	if _, err := New(&Options{Key: &ecdsa.PrivateKey{}}); err == nil {
		t.Fatal("New with an empty key succeeded")
	}
	if _, err := New(&Options{Balance: big.NewInt(-1)}); err == nil {
		t.Fatal("New with a negative balance succeeded")
	}
}

func TestEmptyWalletCanStillDeploy(t *testing.T) {
	t.Parallel()
	c := NewT(t, &Options{Balance: new(big.Int)})
	if _, err := c.DeployReverter(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	c := NewT(t, nil)
	b, err := c.Client().BalanceAt(t.Context(), c.Sender(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := new(big.Int).SetString("1000000000000000000000000", 10); b.Cmp(want) != 0 {
		t.Fatalf("default balance %v, want 10^24", b)
	}
	if other := NewT(t, nil); other.Sender() == c.Sender() {
		t.Fatal("two chains got the same generated key")
	}
}

func TestCommitAndMine(t *testing.T) {
	t.Parallel()
	c := NewT(t, nil)
	hash := c.Commit()
	h, err := c.Client().HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Number.Uint64() != 1 || h.Hash() != hash {
		t.Fatalf("after Commit: head %d %s, Commit said %s", h.Number, h.Hash(), hash)
	}
	c.Mine(4)
	c.Mine(0)
	if n := head(t, c); n != 5 {
		t.Fatalf("after Mine(4): head %d, want 5", n)
	}
}

func TestFork(t *testing.T) {
	t.Parallel()
	c := NewT(t, nil)
	ctx := t.Context()
	first := c.Commit()
	old := c.Commit()
	c.Commit()
	if err := c.Fork(first); err != nil {
		t.Fatal(err)
	}
	if n := head(t, c); n != 1 {
		t.Fatalf("after Fork: head %d, want 1", n)
	}
	c.Mine(3)
	h, err := c.Client().HeaderByNumber(ctx, big.NewInt(2))
	if err != nil {
		t.Fatal(err)
	}
	if h.Hash() == old || h.ParentHash != first {
		t.Fatalf("block 2 after the reorg: %s (old %s), parent %s", h.Hash(), old, h.ParentHash)
	}
	if err := c.Fork(common.HexToHash("0x01")); err == nil {
		t.Fatal("Fork to an unknown block succeeded")
	}
}

func TestDeployReverter(t *testing.T) {
	t.Parallel()
	c := NewT(t, nil)
	ctx := t.Context()
	addr, err := c.DeployReverter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, err := c.Client().CodeAt(ctx, addr, nil)
	if err != nil || !bytes.Equal(code, []byte{0x60, 0x00, 0x60, 0x00, 0xfd}) {
		t.Fatalf("code at %s: %x, %v", addr, code, err)
	}
	// The sending wallet's nonces are the caller's alone.
	if n, err := c.Client().PendingNonceAt(ctx, c.Sender()); err != nil || n != 0 {
		t.Fatalf("sender nonce %d, %v, want 0", n, err)
	}
	second, err := c.DeployReverter(ctx)
	if err != nil || second == addr {
		t.Fatalf("second deployment: %s, %v", second, err)
	}
}

func TestNewChainIsFinalAfterOneBlock(t *testing.T) {
	t.Parallel()
	c := NewT(t, nil)
	ctx := t.Context()
	ch, err := c.NewChain(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Sender() != c.Sender() || ch.ChainID().Int64() != ChainID {
		t.Fatalf("sender %s, chain ID %v", ch.Sender(), ch.ChainID())
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	q, err := ch.Quote(ctx, consolidate.Transfer{To: to, Amount: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ch.Sign(t.Context(), 0, consolidate.Transfer{To: to, Amount: big.NewInt(1)}, q)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Broadcast(ctx, tx.Raw); err != nil {
		t.Fatal(err)
	}
	c.Commit()
	st, err := ch.Status(ctx, tx.Hash)
	if err != nil || st.State != consolidate.TxFinal {
		t.Fatalf("after one block: %+v, %v", st, err)
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAutoMine(t *testing.T) {
	t.Parallel()
	c := NewT(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	c.AutoMine(ctx, time.Millisecond)
	waitFor(t, "three blocks", func() bool { return head(t, c) >= 3 })

	// Manual commits interleave safely with the miner.
	for range 5 {
		c.Commit()
	}
	cancel()
	c.Commit() // waits for a block the miner had in flight
	stopped := head(t, c)
	time.Sleep(50 * time.Millisecond)
	if n := head(t, c); n != stopped {
		t.Fatalf("mining went on after ctx was done: %d → %d", stopped, n)
	}
}

func TestAutoMineIncludesTransactions(t *testing.T) {
	t.Parallel()
	c := NewT(t, nil)
	c.AutoMine(t.Context(), 5*time.Millisecond)
	// DeployReverter commits too and tolerates the miner racing it.
	if _, err := c.DeployReverter(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.AutoMine(context.Background(), time.Millisecond)
	c.AutoMine(context.Background(), time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Everything after Close is harmless.
	if h := c.Commit(); h != (common.Hash{}) {
		t.Fatalf("Commit after Close returned %s", h)
	}
	c.Mine(2)
	c.Rollback()
	c.AutoMine(context.Background(), time.Millisecond)
	if err := c.Fork(common.Hash{}); !errors.Is(err, consolidate.ErrClosed) {
		t.Fatalf("Fork after Close: %v", err)
	}
	if _, err := c.Client().BlockNumber(context.Background()); err == nil {
		t.Fatal("client works after Close")
	}
	if _, err := c.DeployReverter(context.Background()); err == nil {
		t.Fatal("DeployReverter after Close succeeded")
	}
}

func TestServeIPC(t *testing.T) {
	t.Parallel()
	if NewT(t, nil).Endpoint() != "" {
		t.Fatal("an endpoint without ServeIPC")
	}
	c, err := New(&Options{ServeIPC: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ch, err := chain.Dial(ctx, c.Endpoint(), c.Key(), nil) // asks the chain ID over the socket
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	defer ch.Close()
	if ch.ChainID().Int64() != ChainID || ch.Sender() != c.Sender() {
		t.Fatalf("chain ID %v, sender %s", ch.ChainID(), ch.Sender())
	}
	c.Commit()
	if n, err := ch.FinalizedNonce(ctx); err != nil || n != 0 {
		t.Fatalf("finalized nonce over the socket: %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(c.Endpoint())); runtime.GOOS != "windows" && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket directory left behind: %v", err)
	}
	if _, err := ch.Nonce(ctx); err == nil {
		t.Fatal("the socket still answers after Close")
	}
}
