package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/httpapi"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// server is the API over a Service on a SQLite file and an in-process chain.
type server struct {
	t   testing.TB
	sim *chaintest.Chain
	svc *consolidate.Service
	url string
	// token is the ERC-20 deployed and configured with serverOptions.token.
	token common.Address
}

type serverOptions struct {
	cfg   consolidate.Config
	chain func(consolidate.Chain) consolidate.Chain // wraps the chain, if set
	http  *httpapi.Options                          // nil: operator routes on
	op    *httpapi.OperatorOptions                  // nil: token testToken
	// token deploys an ERC-20 (USDC, 6 decimals) held by the wallet and
	// configures it with a fee of 7.
	token bool
}

// testToken is the operator token of the test servers; every request the
// helpers send carries it, and the user routes ignore it.
const testToken = "test-operator-token-0123456789"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newServer(t testing.TB, o *serverOptions) *server {
	t.Helper()
	if o == nil {
		o = &serverOptions{}
	}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sim := chaintest.NewT(t, nil)
	ch, err := sim.NewChain(&chain.Options{Confirmations: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	cfg.Logger = quiet()
	var token common.Address
	if o.token {
		if token, err = sim.DeployToken(t.Context(), chaintest.PlainToken, "USDC", 6, big.NewInt(1e12)); err != nil {
			t.Fatal(err)
		}
		cfg.Tokens = append(cfg.Tokens, consolidate.Token{Address: token, Fee: big.NewInt(7)})
	}
	var c consolidate.Chain = ch
	if o.chain != nil {
		c = o.chain(ch)
	}
	svc, err := consolidate.New(store, c, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	hopts := o.http
	if hopts == nil {
		oo := o.op
		if oo == nil {
			oo = &httpapi.OperatorOptions{Token: testToken}
		}
		oo.Logger = quiet()
		op, err := httpapi.NewOperator(svc, oo)
		if err != nil {
			t.Fatal(err)
		}
		hopts = &httpapi.Options{Operator: op}
	}
	hopts.Logger = quiet()
	h, err := httpapi.New(svc, hopts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &server{t: t, sim: sim, svc: svc, url: ts.URL, token: token}
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// code is the error code of an error answer, or "".
func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// assetFields is a decoded asset.
type assetFields struct {
	symbol   string
	decimals int
	token    *string
}

// asset reads the answer's asset object.
func (r reply) asset() assetFields {
	m, _ := r.body["asset"].(map[string]any)
	var a assetFields
	a.symbol, _ = m["symbol"].(string)
	d, _ := m["decimals"].(float64)
	a.decimals = int(d)
	if s, ok := m["token_address"].(string); ok {
		a.token = &s
	}
	return a
}

func (r reply) str(field string) string {
	s, _ := r.body[field].(string)
	return s
}

// do sends a request with a JSON body (none if body is "").
func (s *server) do(method, path, body string) reply {
	s.t.Helper()
	return s.doType(method, path, body, "application/json")
}

func (s *server) doType(method, path, body, contentType string) reply {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	return s.send(req)
}

func (s *server) send(req *http.Request) reply {
	s.t.Helper()
	r, err := roundTrip(req)
	if err != nil {
		s.t.Fatal(err)
	}
	s.check(req, r)
	return r
}

// roundTrip sends req and reads the answer; safe off the test goroutine.
func roundTrip(req *http.Request) (reply, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r, nil
}

// check fails the test unless r is a JSON object and, for an error, has a
// code and a message.
func (s *server) check(req *http.Request, r reply) {
	s.t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		s.t.Fatalf("%s %s: Content-Type %q, body %q", req.Method, req.URL.Path, ct, r.raw)
	}
	if r.body == nil {
		s.t.Fatalf("%s %s: body %q is not a JSON object", req.Method, req.URL.Path, r.raw)
	}
	if r.status >= 400 {
		if e, ok := r.body["error"].(map[string]any); !ok || e["code"] == "" || e["message"] == "" {
			s.t.Fatalf("%s %s: error body %q lacks code and message", req.Method, req.URL.Path, r.raw)
		}
	}
}

// want fails the test unless r has the status and, for errors, the code.
func (r reply) want(t testing.TB, status int, code string) reply {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.code(), status, code, r.raw)
	}
	return r
}

// account creates an account with a first deposit and returns its id.
func (s *server) account(deposit string) int64 {
	s.t.Helper()
	r := s.do("POST", "/accounts", `{"deposit_in_wei": "`+deposit+`"}`).want(s.t, http.StatusCreated, "")
	return int64(r.body["id"].(float64))
}

func (s *server) balances(id int64) (available, current string) {
	s.t.Helper()
	r := s.do("GET", "/accounts/"+itoa(id), "").want(s.t, http.StatusOK, "")
	return r.str("available_balance_in_wei"), r.str("current_balance_in_wei")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const (
	alice = "0x1111111111111111111111111111111111111111"
	bob   = "0x2222222222222222222222222222222222222222"
	ether = "1000000000000000000"
)

func transfer(account int64, to, amount string) string {
	return `{"user_account_id": ` + itoa(account) + `, "to_public_address": "` + to + `", "transaction_amount_in_wei": ` + amount + `}`
}

// doKey is do with an Idempotency-Key header.
func (s *server) doKey(method, path, body, key string) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Idempotency-Key", key)
	return s.send(req)
}

// count lists an account's transactions and returns how many there are.
func (s *server) count(account int64) int {
	s.t.Helper()
	r := s.do("GET", "/accounts/"+itoa(account)+"/transactions", "").want(s.t, http.StatusOK, "")
	return len(r.body["transactions"].([]any))
}
