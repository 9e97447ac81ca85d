package chain_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
)

// oneByOne hides a client's JSON-RPC connection (its RPCClient method),
// so a Chain on it asks one call at a time.
type oneByOne struct{ chain.Client }

// path is a Chain on a node, named after how it asks.
type path struct {
	name string
	c    *chain.Chain
}

// bothPaths starts a chain that serves JSON-RPC and returns it with two
// Chains on it, with opts as NewChain takes them: one dialed over the
// socket, which batches, and one on the in-process client, which asks one
// call at a time.
func bothPaths(t *testing.T, opts *chain.Options) (*chaintest.Chain, []path) {
	t.Helper()
	sim := chaintest.NewT(t, &chaintest.Options{ServeIPC: true})
	calls, err := sim.NewChain(opts)
	if err != nil {
		t.Fatal(err)
	}
	o := chain.Options{Confirmations: 1}
	if opts != nil {
		o = *opts
	}
	batch, err := chain.Dial(t.Context(), sim.Endpoint(), sim.Key(), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(batch.Close)
	return sim, []path{{"batch", batch}, {"one by one", calls}}
}

// statuses calls Statuses, retrying while the node is still building its
// transaction index, which it may be right after its first blocks.
func statuses(t *testing.T, c *chain.Chain, hashes ...common.Hash) []consolidate.ChainStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.Statuses(t.Context(), hashes)
		if err == nil {
			if len(st) != len(hashes) {
				t.Fatalf("%d statuses for %d hashes", len(st), len(hashes))
			}
			return st
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sameStatus(a, b consolidate.ChainStatus) bool {
	fees := (a.Fee == nil) == (b.Fee == nil) && (a.Fee == nil || a.Fee.Cmp(b.Fee) == 0)
	a.Fee, b.Fee = nil, nil
	return reflect.DeepEqual(a, b) && fees
}

func TestStatusesMatchStatus(t *testing.T) {
	t.Parallel()
	sim, paths := bothPaths(t, &chain.Options{Confirmations: 3})
	c := paths[1].c
	ctx := t.Context()
	reverter, err := sim.DeployReverter(ctx) // block 1
	if err != nil {
		t.Fatal(err)
	}
	final := send(t, c, randomAddress(t), big.NewInt(1))
	reverted := send(t, c, reverter, big.NewInt(2))
	sim.Mine(3) // blocks 2-4: both three deep
	mined := send(t, c, randomAddress(t), big.NewInt(3))
	sim.Commit() // block 5
	pending := send(t, c, randomAddress(t), big.NewInt(4))
	to := randomAddress(t)
	q, err := c.Quote(ctx, consolidate.Transfer{To: to, Amount: big.NewInt(5)})
	if err != nil {
		t.Fatal(err)
	}
	unsent, err := c.Sign(t.Context(), 4, consolidate.Transfer{To: to, Amount: big.NewInt(5)}, q)
	if err != nil {
		t.Fatal(err)
	}

	hashes := []common.Hash{final.Hash, unsent.Hash, mined.Hash, pending.Hash, reverted.Hash, final.Hash, common.HexToHash("0x01")}
	want := []struct {
		state   consolidate.TxState
		success bool
		block   uint64
	}{
		{consolidate.TxFinal, true, 2},
		{consolidate.TxUnknown, false, 0},
		{consolidate.TxMined, true, 5},
		{consolidate.TxPending, false, 0},
		{consolidate.TxFinal, false, 2},
		{consolidate.TxFinal, true, 2},
		{consolidate.TxUnknown, false, 0},
	}
	var first []consolidate.ChainStatus
	for _, p := range paths {
		got := statuses(t, p.c, hashes...)
		for i, st := range got {
			w := want[i]
			if st.State != w.state || st.Success != w.success || st.BlockNumber != w.block {
				t.Errorf("%s: %s: %+v, want %v in block %d (success %v)", p.name, hashes[i], st, w.state, w.block, w.success)
			}
			if one := status(t, p.c, hashes[i]); !sameStatus(one, st) {
				t.Errorf("%s: %s: Status %+v, Statuses %+v", p.name, hashes[i], one, st)
			}
			if first != nil && !sameStatus(first[i], st) {
				t.Errorf("%s: %s: %+v, the other path says %+v", p.name, hashes[i], st, first[i])
			}
		}
		first = got
	}
	if st := first[2]; st.Confirmations != 1 || st.Fee.Cmp(chargedFee(t, sim, mined.Hash)) != 0 {
		t.Errorf("mined: %+v, want one confirmation and the receipt's fee", st)
	}

	for _, p := range paths {
		if st, err := p.c.Statuses(ctx, nil); err != nil || len(st) != 0 {
			t.Errorf("%s: no hashes: %v, %v", p.name, st, err)
		}
	}
}

func TestStatusesManyHashes(t *testing.T) {
	t.Parallel()
	// More hashes than fit in one batch.
	sim, paths := bothPaths(t, nil)
	c := paths[0].c
	var hashes []common.Hash
	for range 3 {
		hashes = append(hashes, send(t, c, randomAddress(t), big.NewInt(1)).Hash)
	}
	sim.Commit()
	for i := range 250 {
		hashes = append(hashes, common.BigToHash(big.NewInt(int64(i+1))))
	}
	for _, p := range paths {
		st := statuses(t, p.c, hashes...)
		for i, s := range st {
			want := consolidate.TxUnknown
			if i < 3 {
				want = consolidate.TxFinal
			}
			if s.State != want {
				t.Fatalf("%s: hash %d: %v, want %v", p.name, i, s.State, want)
			}
		}
	}
}

// proxy serves the part of the eth namespace a Chain reads over HTTP,
// forwarding each call to a node and letting a test change the answers.
// It counts the HTTP requests, that is the round trips, it serves.
type proxy struct {
	up       *rpc.Client
	edit     func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error)
	requests atomic.Int64
}

func (p *proxy) call(ctx context.Context, method string, args ...any) (json.RawMessage, error) {
	var res json.RawMessage
	err := p.up.CallContext(ctx, &res, method, args...)
	if p.edit != nil {
		var arg any
		if len(args) > 0 {
			arg = args[0]
		}
		return p.edit(method, arg, res, err)
	}
	return res, err
}

func (p *proxy) BlockNumber(ctx context.Context) (json.RawMessage, error) {
	return p.call(ctx, "eth_blockNumber")
}

func (p *proxy) GetBlockByNumber(ctx context.Context, n rpc.BlockNumber, full bool) (json.RawMessage, error) {
	return p.call(ctx, "eth_getBlockByNumber", n, full)
}

func (p *proxy) GetTransactionReceipt(ctx context.Context, h common.Hash) (json.RawMessage, error) {
	return p.call(ctx, "eth_getTransactionReceipt", h)
}

func (p *proxy) GetTransactionByHash(ctx context.Context, h common.Hash) (json.RawMessage, error) {
	return p.call(ctx, "eth_getTransactionByHash", h)
}

func (p *proxy) GetTransactionCount(ctx context.Context, a common.Address, b rpc.BlockNumberOrHash) (json.RawMessage, error) {
	return p.call(ctx, "eth_getTransactionCount", a, b)
}

// serve starts p on a loopback HTTP server and returns Chains on it: one
// that batches and one that asks one call at a time.
func (p *proxy) serve(t *testing.T, sim *chaintest.Chain, opts chain.Options) []path {
	t.Helper()
	up, err := rpc.DialContext(t.Context(), sim.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	p.up = up
	srv := rpc.NewServer()
	if err := srv.RegisterName("eth", p); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(srv.Stop)
	client, err := ethclient.DialContext(t.Context(), hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	opts.ChainID = big.NewInt(chaintest.ChainID)
	var paths []path
	for _, p := range []path{{"batch", nil}, {"one by one", nil}} {
		var cl chain.Client = client
		if p.name == "one by one" {
			cl = oneByOne{client}
		}
		if p.c, err = chain.New(t.Context(), cl, sim.Key(), &opts); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func TestStatusesRoundTrips(t *testing.T) {
	t.Parallel()
	sim := chaintest.NewT(t, &chaintest.Options{ServeIPC: true})
	plain, err := sim.NewChain(nil)
	if err != nil {
		t.Fatal(err)
	}
	var stale atomic.Bool
	var mined common.Hash
	p := &proxy{edit: func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
		if method == "eth_getTransactionReceipt" && arg == mined && stale.Load() {
			return patch(t, res, func(m map[string]any) { m["blockHash"] = common.HexToHash("0x01") }), err
		}
		return res, err
	}}
	paths := p.serve(t, sim, chain.Options{Confirmations: 1})
	hashes := []common.Hash{send(t, plain, randomAddress(t), big.NewInt(1)).Hash}
	mined = hashes[0]
	hashes = append(hashes, send(t, plain, randomAddress(t), big.NewInt(1)).Hash)
	sim.Commit()
	hashes = append(hashes, send(t, plain, randomAddress(t), big.NewInt(1)).Hash, common.HexToHash("0x01"))
	batch, calls := paths[0].c, paths[1].c

	trips := func(f func() error) int64 {
		t.Helper()
		before := p.requests.Load()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		return p.requests.Load() - before
	}
	statuses(t, batch, hashes...) // wait for the index
	if n := trips(func() error { _, err := batch.Statuses(t.Context(), hashes); return err }); n != 2 {
		t.Errorf("batched Statuses of %d hashes: %d round trips, want 2", len(hashes), n)
	}
	if n := trips(func() error { _, err := calls.Statuses(t.Context(), hashes); return err }); n <= 2 {
		t.Errorf("Statuses one call at a time: %d round trips", n)
	}
	if n := trips(func() error { _, err := batch.FinalizedNonce(t.Context()); return err }); n != 2 {
		t.Errorf("batched FinalizedNonce: %d round trips, want 2", n)
	}
	// A receipt from a block that is not canonical costs a third trip, to
	// look the transaction up. The node has it mined, so this is an error.
	stale.Store(true)
	before := p.requests.Load()
	if _, err := batch.Statuses(t.Context(), hashes); err == nil {
		t.Error("stale receipt of a mined transaction: no error")
	}
	if n := p.requests.Load() - before; n != 3 {
		t.Errorf("stale receipt: %d round trips, want 3", n)
	}
}

// patch edits a JSON object.
func patch(t *testing.T, raw json.RawMessage, f func(map[string]any)) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Error(err)
		return raw
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Error(err)
	}
	return out
}

// TestStatusesSkewedNode feeds both ways of asking the same odd answers
// over JSON-RPC and checks they conclude the same.
func TestStatusesSkewedNode(t *testing.T) {
	t.Parallel()
	indexingErr := errors.New("transaction indexing is in progress")
	for _, tc := range []struct {
		name string
		// edit changes the node's answers; mined, pending and unknown are
		// the hashes of a transaction mined in block 1, one in the mempool
		// and one the node never saw.
		edit func(t *testing.T, up *rpc.Client, mined, pending, unknown common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error)
		// ask picks the hashes to ask about by index into mined, pending,
		// unknown; nil for all three.
		ask []int
		// want is the state of each hash asked about; nil for an error.
		want []consolidate.TxState
	}{
		{
			name: "as is",
			want: []consolidate.TxState{consolidate.TxMined, consolidate.TxPending, consolidate.TxUnknown},
		},
		{
			name: "receipt without effectiveGasPrice",
			edit: func(t *testing.T, _ *rpc.Client, mined, _, _ common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error) {
				return func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
					if method == "eth_getTransactionReceipt" && arg == mined {
						res = patch(t, res, func(m map[string]any) { delete(m, "effectiveGasPrice") })
					}
					return res, err
				}
			},
			want: []consolidate.TxState{consolidate.TxMined, consolidate.TxPending, consolidate.TxUnknown},
		},
		{
			name: "no finalized block",
			edit: func(*testing.T, *rpc.Client, common.Hash, common.Hash, common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error) {
				return func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
					if method == "eth_getBlockByNumber" && arg == rpc.FinalizedBlockNumber {
						return nil, errors.New("finalized block not found")
					}
					return res, err
				}
			},
			want: []consolidate.TxState{consolidate.TxMined, consolidate.TxPending, consolidate.TxUnknown},
		},
		{
			// A receipt from block 1 of another branch, for a transaction
			// that is back in the mempool.
			name: "stale receipt of a pending transaction",
			edit: func(t *testing.T, up *rpc.Client, mined, pending, _ common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error) {
				return func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
					if method == "eth_getTransactionReceipt" && arg == pending {
						var other json.RawMessage
						if err := up.Call(&other, method, mined); err != nil {
							return nil, err
						}
						return patch(t, other, func(m map[string]any) {
							m["transactionHash"] = pending
							m["blockHash"] = common.HexToHash("0x02")
						}), nil
					}
					return res, err
				}
			},
			want: []consolidate.TxState{consolidate.TxMined, consolidate.TxPending, consolidate.TxUnknown},
		},
		{
			name: "stale receipt of a mined transaction",
			edit: func(t *testing.T, _ *rpc.Client, mined, _, _ common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error) {
				return func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
					if method == "eth_getTransactionReceipt" && arg == mined {
						res = patch(t, res, func(m map[string]any) { m["blockHash"] = common.HexToHash("0x01") })
					}
					return res, err
				}
			},
		},
		{
			name: "chain rewound below the receipt",
			edit: func(t *testing.T, _ *rpc.Client, _, _, _ common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error) {
				return func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
					if method == "eth_getBlockByNumber" && arg == rpc.BlockNumber(1) {
						return json.RawMessage("null"), nil
					}
					return res, err
				}
			},
		},
		{
			// Pending transactions are still found in the mempool; the
			// others cannot be told apart yet.
			name: "indexing in progress",
			edit: func(t *testing.T, _ *rpc.Client, _, pending, _ common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error) {
				return func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
					switch {
					case method == "eth_getTransactionReceipt",
						method == "eth_getTransactionByHash" && arg != pending:
						return nil, indexingErr
					}
					return res, err
				}
			},
		},
		{
			name: "indexing in progress, pending transaction",
			edit: func(t *testing.T, _ *rpc.Client, _, _, _ common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error) {
				return func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
					if method == "eth_getTransactionReceipt" {
						return nil, indexingErr
					}
					return res, err
				}
			},
			ask:  []int{1},
			want: []consolidate.TxState{consolidate.TxPending},
		},
		{
			name: "receipt lookup fails",
			edit: func(t *testing.T, _ *rpc.Client, _, _, unknown common.Hash) func(string, any, json.RawMessage, error) (json.RawMessage, error) {
				return func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
					if method == "eth_getTransactionReceipt" && arg == unknown {
						return nil, errors.New("internal error")
					}
					return res, err
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := chaintest.NewT(t, &chaintest.Options{ServeIPC: true})
			plain, err := sim.NewChain(nil)
			if err != nil {
				t.Fatal(err)
			}
			mined := send(t, plain, randomAddress(t), big.NewInt(1)).Hash
			sim.Commit()
			unknown := common.HexToHash("0x03")
			statuses(t, plain, mined, unknown) // wait for the index
			pending := send(t, plain, randomAddress(t), big.NewInt(1)).Hash
			var edit atomic.Pointer[func(string, any, json.RawMessage, error) (json.RawMessage, error)]
			p := &proxy{edit: func(method string, arg any, res json.RawMessage, err error) (json.RawMessage, error) {
				if f := edit.Load(); f != nil {
					return (*f)(method, arg, res, err)
				}
				return res, err
			}}
			paths := p.serve(t, sim, chain.Options{Confirmations: 2})
			if tc.edit != nil {
				f := tc.edit(t, p.up, mined, pending, unknown)
				edit.Store(&f)
			}
			hashes := []common.Hash{mined, pending, unknown}
			if tc.ask != nil {
				var picked []common.Hash
				for _, i := range tc.ask {
					picked = append(picked, hashes[i])
				}
				hashes = picked
			}
			for _, path := range paths {
				st, err := path.c.Statuses(t.Context(), hashes)
				if tc.want == nil {
					if err == nil {
						t.Errorf("%s: %+v, want an error", path.name, st)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", path.name, err)
				}
				for i, s := range st {
					if s.State != tc.want[i] {
						t.Errorf("%s: hash %d: %v, want %v", path.name, i, s.State, tc.want[i])
					}
				}
				if fee := chargedFee(t, sim, mined); hashes[0] == mined && st[0].Fee.Cmp(fee) != 0 {
					t.Errorf("%s: fee %v, want %v", path.name, st[0].Fee, fee)
				}
			}
		})
	}
}

func TestFinalizedNonce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		confirmations uint64
		// blocks[i] is the block after which the nonce becomes i+1
		blocks int
	}{
		{"three confirmations", 3, 3},
		{"finalized block only", ^uint64(0), 32}, // the simulated node finalizes every 32 blocks
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, paths := bothPaths(t, &chain.Options{Confirmations: tc.confirmations})
			check := func(when string, want uint64) {
				t.Helper()
				for _, p := range paths {
					n, err := p.c.FinalizedNonce(t.Context())
					if err != nil || n != want {
						t.Fatalf("%s: %s: finalized nonce %d, %v, want %d", p.name, when, n, err, want)
					}
				}
			}
			check("genesis", 0)
			tx := send(t, paths[0].c, randomAddress(t), big.NewInt(1))
			check("pending", 0)
			sim.Mine(tc.blocks - 1)
			check(fmt.Sprintf("%d blocks", tc.blocks-1), 0)
			if st := status(t, paths[0].c, tx.Hash); st.State != consolidate.TxMined {
				t.Fatalf("not final yet, but %v", st.State)
			}
			sim.Commit()
			check(fmt.Sprintf("%d blocks", tc.blocks), 1)
			if st := status(t, paths[0].c, tx.Hash); st.State != consolidate.TxFinal {
				t.Fatalf("final nonce moved, but the transaction is %v", st.State)
			}
			if n, err := paths[0].c.Nonce(t.Context()); err != nil || n != 1 {
				t.Fatalf("pending nonce %d, %v", n, err)
			}
		})
	}
}
