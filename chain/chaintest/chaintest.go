// Package chaintest runs an in-process Ethereum chain for tests and
// examples: go-ethereum's simulated backend with a funded sending wallet,
// blocks mined on demand, reorgs, a contract that always reverts, and
// ERC-20 tokens (plain, false-returning and fee-taking).
//
// It starts a full go-ethereum node in memory, so it is for test binaries
// and examples only; production code has no reason to import it.
//
// The chain ID is 1337. Blocks are mined only by Commit, Mine, AutoMine,
// DeployReverter, DeployToken and MintToken. The node marks a block
// finalized every 32 blocks.
//
// Client reaches the node in-process, one call at a time. With
// Options.ServeIPC the node also serves JSON-RPC on a local socket, for
// code that should talk to it as to a remote node, batch calls included.
package chaintest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
)

// ChainID is the chain ID of every simulated chain.
const ChainID = 1337

// Options configures New. The zero value (or nil) means defaults.
type Options struct {
	// Key is the sending wallet's private key; Chain.Key returns a copy
	// rebuilt from its scalar. Defaults to a new random key.
	Key *ecdsa.PrivateKey
	// Balance is what the sending wallet and every address in Fund hold
	// at genesis, in wei. Defaults to 10^24 (one million ether).
	Balance *big.Int
	// Fund lists more addresses to fund with Balance at genesis. Defaults
	// to none.
	Fund []common.Address
	// ServeIPC makes the node also serve JSON-RPC on a local socket (a
	// Unix domain socket, or a named pipe on Windows) whose path Endpoint
	// returns, so a client can reach it the way it reaches a remote node:
	// chain.Dial on that path gives a Chain that batches its reads, which
	// Client cannot (it does not implement chain.RPCClient). Defaults to
	// off.
	ServeIPC bool
}

// Chain is a running in-process chain. Its methods are safe for concurrent
// use, and safe to call after Close: they then do nothing or return an
// error.
type Chain struct {
	// Backend is the simulated node. Mine through Chain's methods rather
	// than Backend.Commit or Backend.Fork: they serialize block production
	// with AutoMine and with Close.
	Backend *simulated.Backend

	client   simulated.Client // kept: Backend.Client returns nil after Close
	endpoint string           // IPC path, or ""
	ipcDir   string           // holds the socket; removed by Close
	key      *ecdsa.PrivateKey
	deployer *ecdsa.PrivateKey // pays for DeployReverter, so the sender's nonces stay the caller's

	mu     sync.Mutex // serializes block production and Close
	closed bool
	done   chan struct{} // closed by Close; stops AutoMine goroutines
	wg     sync.WaitGroup
}

// New starts a chain. Close it when done.
func New(opts *Options) (*Chain, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	key, err := sendingKey(o.Key)
	if err != nil {
		return nil, err
	}
	deployer, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("chaintest: generate key: %w", err)
	}
	plenty := new(big.Int).Exp(big.NewInt(10), big.NewInt(24), nil)
	balance := o.Balance
	if balance == nil {
		balance = plenty
	}
	if balance.Sign() < 0 || balance.BitLen() > 256 {
		return nil, fmt.Errorf("chaintest: balance %v out of range", balance)
	}

	alloc := types.GenesisAlloc{
		crypto.PubkeyToAddress(deployer.PublicKey): {Balance: plenty},
	}
	alloc[crypto.PubkeyToAddress(key.PublicKey)] = types.Account{Balance: new(big.Int).Set(balance)}
	for _, a := range o.Fund {
		alloc[a] = types.Account{Balance: new(big.Int).Set(balance)}
	}
	var endpoint, ipcDir string
	if o.ServeIPC {
		if endpoint, ipcDir, err = ipcEndpoint(); err != nil {
			return nil, err
		}
	}
	backend, err := newBackend(alloc, endpoint)
	if err != nil {
		if ipcDir != "" {
			os.RemoveAll(ipcDir)
		}
		return nil, err
	}
	return &Chain{
		Backend:  backend,
		client:   backend.Client(),
		endpoint: endpoint,
		ipcDir:   ipcDir,
		key:      key,
		deployer: deployer,
		done:     make(chan struct{}),
	}, nil
}

// ipcEndpoint picks a path no other chain uses for the node's socket. On
// Unix it is in a new temporary directory with a short name, as socket
// paths are limited to about 100 bytes.
func ipcEndpoint() (endpoint, dir string, err error) {
	if runtime.GOOS == "windows" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", fmt.Errorf("chaintest: pipe name: %w", err)
		}
		return fmt.Sprintf(`\\.\pipe\chaintest-%x`, b), "", nil
	}
	dir, err = os.MkdirTemp("", "chaintest")
	if err != nil {
		return "", "", fmt.Errorf("chaintest: socket directory: %w", err)
	}
	return filepath.Join(dir, "node.ipc"), dir, nil
}

// sendingKey returns a new key, or given rebuilt from its private scalar
// so that a key with a missing or mismatched public half cannot fund one
// address and sign for another.
func sendingKey(given *ecdsa.PrivateKey) (*ecdsa.PrivateKey, error) {
	if given == nil {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("chaintest: generate key: %w", err)
		}
		return k, nil
	}
	if given.D == nil || given.D.Sign() <= 0 || given.D.BitLen() > 256 {
		return nil, errors.New("chaintest: invalid Options.Key")
	}
	k, err := crypto.ToECDSA(math.PaddedBigBytes(given.D, 32))
	if err != nil {
		return nil, fmt.Errorf("chaintest: invalid Options.Key: %w", err)
	}
	return k, nil
}

// newBackend turns the panics NewBackend uses for startup failures into an
// error. A non-empty ipc is where the node serves JSON-RPC.
func newBackend(alloc types.GenesisAlloc, ipc string) (b *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chaintest: start simulated backend: %v", r)
		}
	}()
	return simulated.NewBackend(alloc, func(nc *node.Config, _ *ethconfig.Config) {
		nc.IPCPath = ipc
	}), nil
}

// NewT starts a chain for a test and closes it when the test ends. It
// fails the test if the chain cannot start.
func NewT(t testing.TB, opts *Options) *Chain {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("chaintest: close: %v", err)
		}
	})
	return c
}

// Close stops AutoMine goroutines and the node. Calling it again does
// nothing.
func (c *Chain) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	err := c.Backend.Close()
	if c.ipcDir != "" {
		err = errors.Join(err, os.RemoveAll(c.ipcDir))
	}
	c.mu.Unlock()
	// Outside the lock: a miner goroutine may be waiting for it, and sees
	// closed as soon as it gets it.
	c.wg.Wait()
	return err
}

// Client returns a client of the node. After Close its calls fail.
func (c *Chain) Client() simulated.Client { return c.client }

// Endpoint returns the path of the node's JSON-RPC socket, or "" unless
// Options.ServeIPC is set. Clients connected to it stop working at Close;
// close them too.
func (c *Chain) Endpoint() string { return c.endpoint }

// Key returns the sending wallet's key.
func (c *Chain) Key() *ecdsa.PrivateKey { return c.key }

// Sender returns the sending wallet's address.
func (c *Chain) Sender() common.Address { return crypto.PubkeyToAddress(c.key.PublicKey) }

// NewChain returns a chain.Chain that signs with Key and talks to this
// node. Unless opts says otherwise, Confirmations is 1 (a transaction is
// final as soon as it is mined, so one Commit settles it), where
// chain.Options defaults to 12 for a real node, and ChainID is 1337 (no
// need to ask the node).
//
// The Service's default schedule is also a real chain's: a transfer not
// final at its first check, right after Submit, is checked again 100 s
// later. Give a Service on this chain a Config.Backoff in milliseconds,
// as examples/quickstart does.
func (c *Chain) NewChain(opts *chain.Options) (*chain.Chain, error) {
	var o chain.Options
	if opts != nil {
		o = *opts
	}
	if o.Confirmations == 0 {
		o.Confirmations = 1
	}
	if o.ChainID == nil {
		o.ChainID = big.NewInt(ChainID)
	}
	return chain.New(context.Background(), c.Client(), c.key, &o)
}

// Commit mines one block with the pending transactions and returns its
// hash. After Close it does nothing and returns the zero hash.
func (c *Chain) Commit() common.Hash { return c.commit(context.Background()) }

// commit mines a block unless the chain is closed or ctx is done. Checking
// ctx under the lock means that once a cancelled AutoMine's block in
// flight is sealed, no other block of it follows.
func (c *Chain) commit(ctx context.Context) common.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || ctx.Err() != nil {
		return common.Hash{}
	}
	h := c.Backend.Commit()
	c.waitIndexed(ctx)
	return h
}

// waitIndexed waits, for up to thirty seconds (a loaded machine), until
// the node's transaction indexer has caught up with the head. Until its
// first pass over a new chain is done, the node answers every lookup of a
// transaction it cannot find with "transaction indexing is in progress".
// A real node does the same and callers retry; in tests, a block once
// mined should be readable. It asks what callers ask, a receipt lookup:
// the node's sync progress can read done a moment before lookups stop
// saying so.
//
// The node's indexer can also miss a head for good: it ignores a new head
// that arrives while a pass is running and does not look again when the
// pass ends. The backend makes the genesis block the head when it starts,
// so a Commit made at once can be missed, and no block follows to wake the
// indexer. A lookup still refused after a second announces the same head
// again (making it canonical anew changes nothing else), which starts the
// pass that was missed.
func (c *Chain) waitIndexed(ctx context.Context) {
	start := time.Now()
	deadline, nudge := start.Add(30*time.Second), start.Add(time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		_, err := c.client.TransactionReceipt(ctx, common.Hash{})
		if err == nil || !strings.Contains(err.Error(), "indexing is in progress") {
			return
		}
		if time.Now().After(nudge) {
			if h, err := c.client.HeaderByNumber(ctx, nil); err == nil {
				// Fails while the mempool holds transactions; then only
				// waiting is left.
				_ = c.Backend.Fork(h.Hash())
			}
			nudge = time.Now().Add(time.Second)
		}
		time.Sleep(time.Millisecond)
	}
}

// Mine mines n blocks.
func (c *Chain) Mine(n int) {
	for range n {
		c.Commit()
	}
}

// Rollback drops every transaction waiting in the node's mempool.
func (c *Chain) Rollback() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.Backend.Rollback()
	}
}

// Fork makes the block parent the head of the chain, as a reorg does: the
// blocks after it leave the canonical chain and their transactions return
// to the mempool. The next Commit builds on parent. It fails while the
// mempool is not empty; Rollback empties it.
func (c *Chain) Fork(parent common.Hash) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("chaintest: fork: %w", consolidate.ErrClosed)
	}
	if err := c.Backend.Fork(parent); err != nil {
		return fmt.Errorf("chaintest: fork at %s: %w", parent, err)
	}
	// The node's transaction pool moves to the new head on its own
	// goroutine, and until it has, it judges nonces by the old branch: a
	// transaction sent right after the fork at a nonce the old branch had
	// used is refused as "nonce too low". Fork begins by waiting for the
	// pool to catch up with the head, then refuses to go on if the pool
	// holds transactions (those of the old branch put back) or sets the
	// head it already has: calling it again is that wait, whatever it
	// returns.
	_ = c.Backend.Fork(parent)
	return nil
}

// AutoMine mines a block every interval (at least a millisecond) until ctx
// is done or the chain is closed. It returns at once; mining runs in a
// goroutine that Close waits for. A block being mined when ctx is
// cancelled is finished; none follows it, so the next Commit's block is
// the first after AutoMine stopped.
func (c *Chain) AutoMine(ctx context.Context, every time.Duration) {
	every = max(every, time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.done:
				return
			case <-t.C:
				c.commit(ctx)
			}
		}
	}()
}
