package chain_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"io"
	"math/big"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
)

// gethNode is a geth --dev node for one test, reached over HTTP.
type gethNode struct {
	url string
	rpc *rpc.Client
	dev common.Address // the unlocked, funded developer account
}

// startGeth runs the geth binary named by CONSOLIDATE_GETH in dev mode,
// mining a block as soon as a transaction arrives. The test is skipped
// when the variable is unset, unless CONSOLIDATE_REQUIRE_GETH=1 (as in
// CI), which makes that a failure. The node stops when the test ends.
func startGeth(t *testing.T) *gethNode {
	t.Helper()
	bin := os.Getenv("CONSOLIDATE_GETH")
	if bin == "" {
		if os.Getenv("CONSOLIDATE_REQUIRE_GETH") == "1" {
			t.Fatal("CONSOLIDATE_REQUIRE_GETH=1 but CONSOLIDATE_GETH does not name a geth binary")
		}
		t.Skip("CONSOLIDATE_GETH is not set; set it to a geth binary to test against a real node")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("CONSOLIDATE_GETH: %v", err)
	}

	// Port 0 everywhere: the node picks free ports and logs the HTTP one,
	// so parallel runs cannot collide.
	cmd := exec.Command(bin,
		"--dev", "--dev.period", "0",
		"--datadir", t.TempDir(),
		"--http", "--http.addr", "127.0.0.1", "--http.port", "0",
		"--http.api", "eth,net,web3,debug,miner,txpool,dev",
		"--authrpc.port", "0", "--port", "0", "--nodiscover", "--maxpeers", "0",
		"--ipcdisable",
	)
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr // StderrPipe's writer: one stream for both
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	logs := &tailBuffer{max: 16 << 10}
	endpoint := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		started := regexp.MustCompile(`HTTP server started\s+endpoint=(\S+)`)
		s := bufio.NewScanner(out)
		for s.Scan() {
			logs.Write(append(s.Bytes(), '\n'))
			if m := started.FindSubmatch(s.Bytes()); m != nil {
				select {
				case endpoint <- string(m[1]):
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-drained:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-drained
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("geth output (last %d bytes):\n%s", logs.max, logs.String())
		}
	})

	var url string
	select {
	case ep := <-endpoint:
		url = "http://" + ep
	case <-drained:
		t.Fatal("geth exited before serving HTTP")
	case <-time.After(30 * time.Second):
		t.Fatal("geth did not serve HTTP within 30s")
	}
	client, err := rpc.DialContext(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	var accounts []common.Address
	if err := client.CallContext(t.Context(), &accounts, "eth_accounts"); err != nil || len(accounts) == 0 {
		t.Fatalf("eth_accounts: %v, %v", accounts, err)
	}
	return &gethNode{url: url, rpc: client, dev: accounts[0]}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.Clone(b.buf))
}

// fund sends wei from the developer account to a and waits until it is
// mined. Each call mines one block.
func (n *gethNode) fund(t *testing.T, a common.Address, wei *big.Int) {
	t.Helper()
	n.devSend(t, map[string]any{"to": a, "value": (*hexutil.Big)(wei)})
}

// dial connects a Chain signing with key to the node, closed when the
// test ends.
func (n *gethNode) dial(ctx context.Context, t *testing.T, key *ecdsa.PrivateKey, opts *chain.Options) *chain.Chain {
	t.Helper()
	c, err := chain.Dial(ctx, n.url, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newWallet makes a key whose address holds one ether.
func (n *gethNode) newWallet(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	n.fund(t, crypto.PubkeyToAddress(key.PublicKey), big.NewInt(1e18))
	return key
}

// waitFor polls cond until it holds, for at most 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitState polls Statuses (the batch path, over HTTP) until hash is in
// one of states, and returns its status.
func waitState(t *testing.T, c *chain.Chain, hash common.Hash, states ...consolidate.TxState) consolidate.ChainStatus {
	t.Helper()
	var last consolidate.ChainStatus
	var lastErr error
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.Statuses(t.Context(), []common.Hash{hash})
		if err == nil {
			for _, s := range states {
				if st[0].State == s {
					return st[0]
				}
			}
			last = st[0]
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: still %+v (last error %v), want %v", hash, last, lastErr, states)
	return last
}

func TestGethDev(t *testing.T) {
	t.Parallel()
	node := startGeth(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	key := node.newWallet(t)
	// Dev mode sometimes seals an empty block or two after one with
	// transactions, so depth is checked against bounds, not exact counts.
	const confirmations = 10
	c := node.dial(ctx, t, key, &chain.Options{Confirmations: confirmations})
	if id := c.ChainID(); id.Int64() != 1337 {
		t.Fatalf("dev chain ID %v, want 1337", id)
	}
	// untilFinal mines blocks (dev mode mines only for transactions) until
	// hash is final.
	untilFinal := func(t *testing.T, hash common.Hash) consolidate.ChainStatus {
		t.Helper()
		for range 2 * confirmations {
			st := waitState(t, c, hash, consolidate.TxMined, consolidate.TxFinal)
			if st.State == consolidate.TxFinal {
				return st
			}
			node.fund(t, randomAddress(t), big.NewInt(1))
		}
		t.Fatalf("%s not final after %d more blocks", hash, 2*confirmations)
		return consolidate.ChainStatus{}
	}

	t.Run("transfer settles", func(t *testing.T) {
		to := randomAddress(t)
		tx := send(t, c, to, big.NewInt(12345))
		st := waitState(t, c, tx.Hash, consolidate.TxMined, consolidate.TxFinal)
		if st.State != consolidate.TxMined || !st.Success || st.Confirmations >= confirmations || st.Fee.Sign() <= 0 {
			t.Fatalf("just mined: %+v, want mined and not final", st)
		}
		if n, err := c.FinalizedNonce(ctx); err != nil || n != 0 {
			t.Fatalf("finalized nonce %d, %v, want 0 before the transfer is final", n, err)
		}
		// Several hashes in one call: the batch path, over HTTP.
		both, err := c.Statuses(ctx, []common.Hash{tx.Hash, common.HexToHash("0x01")})
		if err != nil || both[0].BlockHash != st.BlockHash || both[1].State != consolidate.TxUnknown {
			t.Fatalf("Statuses: %+v, %v", both, err)
		}
		st = untilFinal(t, tx.Hash)
		if st.Confirmations < confirmations || !st.Success {
			t.Fatalf("final: %+v", st)
		}
		if n, err := c.FinalizedNonce(ctx); err != nil || n != 1 {
			t.Fatalf("finalized nonce %d, %v, want 1", n, err)
		}
	})

	t.Run("rewound and rebroadcast", func(t *testing.T) {
		to := randomAddress(t)
		tx := send(t, c, to, big.NewInt(777))
		st := waitState(t, c, tx.Hash, consolidate.TxMined)
		old := st.BlockHash

		// Remove the block, as a reorg would, and see what the node does
		// with the transaction.
		if err := node.rpc.CallContext(ctx, nil, "debug_setHead", hexutil.Uint64(st.BlockNumber-1)); err != nil {
			t.Fatalf("debug_setHead: %v", err)
		}
		var now *types.Header
		if err := node.rpc.CallContext(ctx, &now, "eth_getBlockByNumber", hexutil.Uint64(st.BlockNumber), false); err != nil {
			t.Fatal(err)
		}
		if now != nil && now.Hash() == old {
			t.Fatalf("block %d is still %s after debug_setHead", st.BlockNumber, old)
		}
		// setHead deletes the blocks above the new head, so geth's pool has
		// nothing to put back: the transaction is gone, not pending.
		gone := waitState(t, c, tx.Hash, consolidate.TxUnknown, consolidate.TxPending)
		if gone.State != consolidate.TxUnknown {
			t.Fatalf("after debug_setHead: %+v, want unknown", gone)
		}
		// The pool follows the rewind in the background; until it has, it
		// would refuse the nonce as used.
		waitFor(t, "the next nonce to be the rewound transfer's again", func() bool {
			n, err := c.Nonce(ctx)
			return err == nil && n == 1
		})

		// The stored bytes settle it: same hash, a new block.
		if err := c.Broadcast(ctx, tx.Raw); err != nil {
			t.Fatalf("rebroadcast: %v", err)
		}
		again := waitState(t, c, tx.Hash, consolidate.TxMined, consolidate.TxFinal)
		if again.BlockHash == old || !again.Success {
			t.Fatalf("mined again: %+v, old block %s", again, old)
		}
		untilFinal(t, tx.Hash)
		var got hexutil.Big
		if err := node.rpc.CallContext(ctx, &got, "eth_getBalance", to, "latest"); err != nil || got.ToInt().Int64() != 777 {
			t.Fatalf("recipient has %v, %v, want 777 once", got.ToInt(), err)
		}
	})
}
