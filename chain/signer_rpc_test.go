package chain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/go-consolidate/consolidate/chain"
)

// signService serves <namespace>_signTransaction as geth does, with a
// Signer (often a fakeSigner) holding the key.
type signService struct {
	signer  chain.Signer
	rawOnly bool // answer with the bytes alone, as Web3Signer does

	mu   sync.Mutex
	last json.RawMessage // the arguments of the last request
}

// signRequest is what the service reads of the arguments.
type signRequest struct {
	From                 common.Address   `json:"from"`
	To                   *common.Address  `json:"to"`
	Gas                  hexutil.Uint64   `json:"gas"`
	MaxFeePerGas         *hexutil.Big     `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big     `json:"maxPriorityFeePerGas"`
	Value                *hexutil.Big     `json:"value"`
	Nonce                hexutil.Uint64   `json:"nonce"`
	Data                 hexutil.Bytes    `json:"data"`
	Input                hexutil.Bytes    `json:"input"`
	ChainID              *hexutil.Big     `json:"chainId"`
	Type                 hexutil.Uint64   `json:"type"`
	AccessList           types.AccessList `json:"accessList"`
}

// codedError is a JSON-RPC error answer with a code of its choosing.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string  { return e.err.Error() }
func (e codedError) ErrorCode() int { return e.code }

func (s *signService) SignTransaction(ctx context.Context, args json.RawMessage) (any, error) {
	s.mu.Lock()
	s.last = args
	s.mu.Unlock()
	var a signRequest
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, err
	}
	switch {
	case a.From != s.signer.Address():
		return nil, fmt.Errorf("unknown account %s", a.From)
	case !bytes.Equal(a.Data, a.Input):
		return nil, errors.New(`both "data" and "input" are set and not equal`)
	case a.ChainID == nil || a.MaxFeePerGas == nil || a.MaxPriorityFeePerGas == nil || a.Value == nil:
		return nil, errors.New("missing field")
	}
	// A hung signer must not outlive the test server.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	signed, err := s.signer.SignTx(ctx, types.NewTx(&types.DynamicFeeTx{
		ChainID: a.ChainID.ToInt(), Nonce: uint64(a.Nonce), Gas: uint64(a.Gas),
		GasTipCap: a.MaxPriorityFeePerGas.ToInt(), GasFeeCap: a.MaxFeePerGas.ToInt(),
		To: a.To, Value: a.Value.ToInt(), Data: a.Data, AccessList: a.AccessList,
	}), a.ChainID.ToInt())
	switch {
	case errors.Is(err, chain.ErrSignerRefused):
		return nil, err // code -32000, as geth answers for a locked account
	case err != nil:
		return nil, codedError{-32603, err}
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if s.rawOnly {
		return hexutil.Bytes(raw), nil
	}
	return map[string]any{"raw": hexutil.Bytes(raw), "tx": signed}, nil
}

func (s *signService) lastRequest() json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// serveSigner serves svc over HTTP under namespace and returns its URL.
func serveSigner(t *testing.T, svc *signService, namespace string) string {
	t.Helper()
	srv := rpc.NewServer()
	if err := srv.RegisterName(namespace, svc); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Stop()
	})
	return ts.URL
}

// dialSigner returns an RPCSigner on url, closed when the test ends.
func dialSigner(t *testing.T, url string, from common.Address, opts *chain.RPCSignerOptions) *chain.RPCSigner {
	t.Helper()
	s, err := chain.DialRPCSigner(t.Context(), url, from, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// rpcOverFake serves f over JSON-RPC and returns an RPCSigner on it.
func rpcOverFake(t *testing.T, f *fakeSigner) *chain.RPCSigner {
	t.Helper()
	return dialSigner(t, serveSigner(t, &signService{signer: f}, "eth"), f.Address(), nil)
}

func TestRPCSigner(t *testing.T) {
	t.Parallel()
	t.Run("eth_signTransaction", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		testSignerContract(t, rpcOverFake(t, f), devChainID)
	})
	t.Run("raw bytes answer", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		url := serveSigner(t, &signService{signer: f, rawOnly: true}, "eth")
		testSignerContract(t, dialSigner(t, url, f.Address(), nil), devChainID)
	})
	t.Run("account_signTransaction", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		url := serveSigner(t, &signService{signer: f}, "account")
		opts := &chain.RPCSignerOptions{Method: "account_signTransaction"}
		testSignerContract(t, dialSigner(t, url, f.Address(), opts), devChainID)
	})
}

// Every field of the transaction goes on the wire, and the answer is the
// transaction a local key gives for the same request.
func TestRPCSignerRequest(t *testing.T) {
	t.Parallel()
	f, key := newFakeSigner(t)
	svc := &signService{signer: f}
	s := dialSigner(t, serveSigner(t, svc, "eth"), key.addr, nil)

	tx := transferIntent()
	tx.Data = []byte{0xa9, 0x05, 0x9c, 0xbb, 0x01}
	tx.AccessList = types.AccessList{{Address: common.HexToAddress("0xac"), StorageKeys: []common.Hash{{1}}}}
	signed, err := s.SignTx(t.Context(), types.NewTx(tx), devChainID)
	if err != nil {
		t.Fatal(err)
	}
	if want := signDynamic(t, tx, devChainID, key); signed.Hash() != want.Hash() {
		t.Fatalf("signed over RPC: %s, locally: %s", signed.Hash(), want.Hash())
	}

	var got signRequest
	var fields map[string]any
	if err := json.Unmarshal(svc.lastRequest(), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(svc.lastRequest(), &fields); err != nil {
		t.Fatal(err)
	}
	switch {
	case got.From != key.addr, *got.To != *tx.To, uint64(got.Nonce) != tx.Nonce, uint64(got.Gas) != tx.Gas,
		got.Value.ToInt().Cmp(tx.Value) != 0,
		got.MaxFeePerGas.ToInt().Cmp(tx.GasFeeCap) != 0, got.MaxPriorityFeePerGas.ToInt().Cmp(tx.GasTipCap) != 0,
		!bytes.Equal(got.Data, tx.Data), !bytes.Equal(got.Input, tx.Data),
		len(got.AccessList) != 1, got.AccessList[0].Address != tx.AccessList[0].Address,
		fields["chainId"] != "0x539", fields["type"] != "0x2":
		t.Fatalf("request %s does not carry the transaction %+v", svc.lastRequest(), tx)
	}
}

func TestRPCSignerArguments(t *testing.T) {
	t.Parallel()
	client := rpc.DialInProc(rpc.NewServer())
	t.Cleanup(client.Close)
	if _, err := chain.NewRPCSigner(nil, common.HexToAddress("0x01"), nil); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := chain.NewRPCSigner(client, common.Address{}, nil); err == nil {
		t.Error("zero address accepted")
	}
	s, err := chain.NewRPCSigner(client, common.HexToAddress("0x01"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // the caller's client: left open
	legacy := types.NewTx(&types.LegacyTx{Gas: 21000, GasPrice: big.NewInt(1), Value: big.NewInt(1)})
	for name, call := range map[string]func() error{
		"nil chain ID": func() error { _, err := s.SignTx(t.Context(), types.NewTx(transferIntent()), nil); return err },
		"nil tx":       func() error { _, err := s.SignTx(t.Context(), nil, devChainID); return err },
		"legacy tx":    func() error { _, err := s.SignTx(t.Context(), legacy, devChainID); return err },
	} {
		if err := call(); !errors.Is(err, chain.ErrSignerRefused) {
			t.Errorf("%s: %v, want ErrSignerRefused", name, err)
		}
	}
}

// answerWith serves every JSON-RPC request with status and body, where
// body's %s is the request's id.
func answerWith(t *testing.T, status int, body string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ ID json.RawMessage }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, body, req.ID)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// What the remote signer answers decides the error: a refusal is
// permanent, a failure to answer temporary, and an answer that is no
// transaction a mismatch.
func TestRPCSignerErrors(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	signed := signDynamic(t, transferIntent(), devChainID, key)
	txJSON, err := signed.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	result := func(r string) string { return `{"jsonrpc":"2.0","id":%s,"result":` + r + `}` }
	rpcErr := func(code int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%%s,"error":{"code":%d,"message":"no"}}`, code)
	}

	tests := []struct {
		name   string
		status int
		body   string
		want   error // nil: success
	}{
		{"tx alone", 200, result(`{"tx":` + string(txJSON) + `}`), nil},
		{"unknown account", 200, rpcErr(-32000), chain.ErrSignerRefused},
		{"method not found", 200, rpcErr(-32601), chain.ErrSignerRefused},
		{"invalid params", 200, rpcErr(-32602), chain.ErrSignerRefused},
		{"internal error", 200, rpcErr(-32603), chain.ErrSignerUnavailable},
		{"server timed out", 200, rpcErr(-32002), chain.ErrSignerUnavailable},
		{"rate limited", 200, rpcErr(-32005), chain.ErrSignerUnavailable},
		{"HTTP 503", 503, "busy", chain.ErrSignerUnavailable},
		{"HTTP 429", 429, "slow down", chain.ErrSignerUnavailable},
		{"HTTP 401", 401, "who are you", chain.ErrSignerRefused},
		{"null", 200, result(`null`), chain.ErrSignerMismatch},
		{"empty bytes", 200, result(`"0x"`), chain.ErrSignerMismatch},
		{"garbage bytes", 200, result(`"0x1234"`), chain.ErrSignerMismatch},
		{"empty object", 200, result(`{}`), chain.ErrSignerMismatch},
		{"number", 200, result(`42`), chain.ErrSignerMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := dialSigner(t, answerWith(t, tt.status, tt.body), key.addr, nil)
			got, err := s.SignTx(t.Context(), types.NewTx(transferIntent()), devChainID)
			if tt.want == nil {
				if err != nil || got.Hash() != signed.Hash() {
					t.Fatalf("SignTx: %v, %v; want %s", got, err, signed.Hash())
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("SignTx: %v, want %v", err, tt.want)
			}
		})
	}

	t.Run("nobody listening", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.NotFoundHandler())
		ts.Close()
		s := dialSigner(t, ts.URL, key.addr, nil)
		if _, err := s.SignTx(t.Context(), types.NewTx(transferIntent()), devChainID); !errors.Is(err, chain.ErrSignerUnavailable) {
			t.Fatalf("SignTx: %v, want ErrSignerUnavailable", err)
		}
	})
}

// A remote signer that is slow, hangs, fails for a while, refuses or lies,
// as the RPCSigner sees it.
func TestRPCSignerMisbehaves(t *testing.T) {
	t.Parallel()
	intent := types.NewTx(transferIntent())

	t.Run("slow within the deadline", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		f.delay = 100 * time.Millisecond
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := rpcOverFake(t, f).SignTx(ctx, intent, devChainID); err != nil {
			t.Fatalf("SignTx: %v", err)
		}
	})
	t.Run("hangs past the deadline", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		f.hang = true
		s := rpcOverFake(t, f)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.SignTx(ctx, intent, devChainID)
		if !errors.Is(err, chain.ErrSignerUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("SignTx: %v, want ErrSignerUnavailable and the deadline", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("SignTx returned %v after a 200ms deadline", d)
		}
	})
	t.Run("fails for a while", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		f.fail.Store(2)
		s := rpcOverFake(t, f)
		for range 2 {
			if _, err := s.SignTx(t.Context(), intent, devChainID); !errors.Is(err, chain.ErrSignerUnavailable) {
				t.Fatalf("SignTx: %v, want ErrSignerUnavailable", err)
			}
		}
		if _, err := s.SignTx(t.Context(), intent, devChainID); err != nil || f.calls.Load() != 3 {
			t.Fatalf("third SignTx: %v after %d calls", err, f.calls.Load())
		}
	})
	t.Run("refuses", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		f.refuse = true
		_, err := rpcOverFake(t, f).SignTx(t.Context(), intent, devChainID)
		if !errors.Is(err, chain.ErrSignerRefused) || errors.Is(err, chain.ErrSignerUnavailable) {
			t.Fatalf("SignTx: %v, want ErrSignerRefused only", err)
		}
	})
	t.Run("unknown account", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		url := serveSigner(t, &signService{signer: f}, "eth")
		_, err := dialSigner(t, url, newTestKey(t).addr, nil).SignTx(t.Context(), intent, devChainID)
		if !errors.Is(err, chain.ErrSignerRefused) {
			t.Fatalf("SignTx: %v, want ErrSignerRefused", err)
		}
	})
	t.Run("another recipient", func(t *testing.T) {
		t.Parallel()
		f, key := newFakeSigner(t)
		thief := common.HexToAddress("0x000000000000000000000000000000000000dead")
		f.lie = func(tx *types.DynamicFeeTx) { tx.To = &thief }
		signed, err := rpcOverFake(t, f).SignTx(t.Context(), intent, devChainID)
		if err != nil {
			t.Fatal(err)
		}
		var m *chain.SignatureMismatchError
		err = chain.CheckSigned(intent, signed, devChainID, key.addr)
		if !errors.Is(err, chain.ErrSignerMismatch) || !errors.As(err, &m) || m.Field != "to" || m.Got != thief.Hex() {
			t.Fatalf("CheckSigned: %v, want the recipient %s caught", err, thief)
		}
	})
	t.Run("another key", func(t *testing.T) {
		t.Parallel()
		f, _ := newFakeSigner(t)
		claimed := newTestKey(t).addr
		url := serveSigner(t, &signService{signer: impostor{f, claimed}}, "eth")
		signed, err := dialSigner(t, url, claimed, nil).SignTx(t.Context(), intent, devChainID)
		if err != nil {
			t.Fatal(err)
		}
		var m *chain.SignatureMismatchError
		if err := chain.CheckSigned(intent, signed, devChainID, claimed); !errors.As(err, &m) || m.Field != "from" {
			t.Fatalf("CheckSigned: %v, want the sender caught", err)
		}
	})
}

// impostor claims an address whose key it does not hold.
type impostor struct {
	chain.Signer
	addr common.Address
}

func (i impostor) Address() common.Address { return i.addr }
