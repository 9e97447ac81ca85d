package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-consolidate/consolidate/httpapi"
)

func TestAccount(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	r := s.do("GET", "/accounts/"+itoa(acct), "").want(t, 200, "")
	if len(r.body) != 4 || r.str("available_balance_in_wei") != ether || r.str("current_balance_in_wei") != ether || int64(r.body["id"].(float64)) != acct {
		t.Fatalf("GET /accounts/%d: %s", acct, r.raw)
	}
	if a := r.asset(); a.symbol != "ETH" || a.decimals != 18 || a.token != nil {
		t.Fatalf("asset of an ether account: %s", r.raw)
	}
	for _, path := range []string{"/accounts/999", "/accounts/0", "/accounts/x", "/accounts/99999999999999999999"} {
		s.do("GET", path, "").want(t, 404, "not_found")
	}
}

func TestCreateAccount(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	r := s.do("POST", "/accounts", `{}`).want(t, 201, "")
	if r.str("available_balance_in_wei") != "0" || r.str("current_balance_in_wei") != "0" {
		t.Fatalf("empty account: %s", r.raw)
	}
	if r.header.Get("Location") != "/accounts/"+itoa(int64(r.body["id"].(float64))) {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	s.do("POST", "/accounts", `{"deposit_in_wei": "0"}`).want(t, 201, "")
	r = s.do("POST", "/accounts", `{"deposit_in_wei": 5000}`).want(t, 201, "")
	if r.str("available_balance_in_wei") != "5000" {
		t.Fatalf("deposit as number: %s", r.raw)
	}
	s.do("POST", "/accounts", `{"deposit_in_wei": "-1"}`).want(t, 422, "invalid_amount")
	s.do("POST", "/accounts", `{"deposit_in_wei": 1e3}`).want(t, 422, "invalid_amount")
	s.do("POST", "/accounts", `{"deposit": "1"}`).want(t, 400, "unknown_field")
	s.do("POST", "/accounts", ``).want(t, 400, "malformed_json")
}

func TestDeposits(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account("0")
	path := "/accounts/" + itoa(acct) + "/deposits"
	r := s.do("POST", path, `{"amount_in_wei": "700", "reference": "wire-1"}`).want(t, 200, "")
	if r.str("available_balance_in_wei") != "700" || r.str("current_balance_in_wei") != "700" {
		t.Fatalf("after one deposit: %s", r.raw)
	}
	// The same reference again is the same deposit: nothing changes.
	r = s.do("POST", path, `{"amount_in_wei": "700", "reference": "wire-1"}`).want(t, 200, "")
	if r.str("available_balance_in_wei") != "700" {
		t.Fatalf("a repeated deposit was credited twice: %s", r.raw)
	}
	s.do("POST", path, `{"amount_in_wei": "800", "reference": "wire-1"}`).want(t, 422, "idempotency_conflict")
	s.do("POST", path, `{"amount_in_wei": "1", "reference": "wire-2"}`).want(t, 200, "")
	if avail, cur := s.balances(acct); avail != "701" || cur != "701" {
		t.Fatalf("balances %s %s, want 701", avail, cur)
	}

	s.do("POST", path, `{"amount_in_wei": "1"}`).want(t, 422, "invalid_field")
	s.do("POST", path, `{"amount_in_wei": "1", "reference": ""}`).want(t, 422, "invalid_field")
	s.do("POST", path, `{"amount_in_wei": "1", "reference": "has space"}`).want(t, 422, "invalid_reference")
	s.do("POST", path, `{"amount_in_wei": "0", "reference": "zero"}`).want(t, 422, "invalid_amount")
	s.do("POST", path, `{"reference": "none"}`).want(t, 422, "invalid_field")
	s.do("POST", path, `{"amount_in_wei": "1", "reference": "x", "note": "hi"}`).want(t, 400, "unknown_field")
	s.do("POST", "/accounts/999/deposits", `{"amount_in_wei": "1", "reference": "x"}`).want(t, 404, "not_found")
	s.do("POST", "/accounts/abc/deposits", `{"amount_in_wei": "1", "reference": "x"}`).want(t, 404, "not_found")
	if avail, cur := s.balances(acct); avail != "701" || cur != "701" {
		t.Fatalf("rejected deposits moved the balances: %s %s", avail, cur)
	}
}

func TestOperatorRoutesOffByDefault(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]*httpapi.Options{"zero": {}, "nil operator": {Operator: nil}} {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, &serverOptions{http: opts})
			a, err := s.svc.CreateAccount(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			s.do("POST", "/accounts", `{"deposit_in_wei": "1000"}`).want(t, 404, "not_found")
			s.do("POST", "/accounts/"+itoa(a.ID)+"/deposits", `{"amount_in_wei": "1", "reference": "x"}`).want(t, 404, "not_found")
			if avail, _ := s.balances(a.ID); avail != "0" {
				t.Fatalf("an operator route moved money while unmounted: %s", avail)
			}
		})
	}
}

func TestListTransactions(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	var ids []int64
	for range 5 {
		r := s.do("POST", "/transactions", transfer(acct, alice, `"1"`)).want(t, 201, "")
		ids = append(ids, int64(r.body["id"].(float64)))
	}
	other := s.account(ether)
	s.do("POST", "/transactions", transfer(other, bob, `"1"`)).want(t, 201, "")

	var got []int64
	path := "/accounts/" + itoa(acct) + "/transactions?limit=2"
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more pages than transactions")
		}
		r := s.do("GET", path, "").want(t, 200, "")
		for _, v := range r.body["transactions"].([]any) {
			tx := v.(map[string]any)
			if int64(tx["user_account_id"].(float64)) != acct {
				t.Fatalf("another account's transaction listed: %v", tx)
			}
			got = append(got, int64(tx["id"].(float64)))
		}
		next, ok := r.body["next_before"].(float64)
		if !ok {
			if r.body["next_before"] != nil {
				t.Fatalf("next_before %v", r.body["next_before"])
			}
			break
		}
		path = "/accounts/" + itoa(acct) + "/transactions?limit=2&before=" + itoa(int64(next))
	}
	if len(got) != 5 {
		t.Fatalf("listed %v, want the 5 of %v", got, ids)
	}
	for i, id := range got {
		if id != ids[4-i] {
			t.Fatalf("listed %v, want newest first %v reversed", got, ids)
		}
	}

	// Defaults: everything on one page, and an empty list is [] not null.
	r := s.do("GET", "/accounts/"+itoa(acct)+"/transactions", "").want(t, 200, "")
	if n := len(r.body["transactions"].([]any)); n != 5 || r.body["next_before"] != nil {
		t.Fatalf("default page: %s", r.raw)
	}
	empty := s.account("0")
	r = s.do("GET", "/accounts/"+itoa(empty)+"/transactions", "").want(t, 200, "")
	if list, ok := r.body["transactions"].([]any); !ok || len(list) != 0 {
		t.Fatalf("empty account: %s", r.raw)
	}

	for _, q := range []string{"limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=1.5", "limit=+2", "before=-1", "before=0", "before=x", "before=99999999999999999999"} {
		s.do("GET", "/accounts/"+itoa(acct)+"/transactions?"+q, "").want(t, 422, "invalid_parameter")
	}
	s.do("GET", "/accounts/999/transactions", "").want(t, 404, "not_found")
	s.do("GET", "/accounts/abc/transactions", "").want(t, 404, "not_found")
}

func TestRoutesAndMethods(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.do("GET", "/nowhere", "").want(t, 404, "not_found")
	s.do("GET", "/", "").want(t, 404, "not_found")
	r := s.do("DELETE", "/transactions/1", "").want(t, 405, "method_not_allowed")
	if r.header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
	s.do("GET", "/transactions", "").want(t, 405, "method_not_allowed")
	s.do("PUT", "/accounts/1", "").want(t, 405, "method_not_allowed")
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := httpapi.New(nil, nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	s := newServer(t, nil)
	for _, o := range []*httpapi.Options{{MaxBodyBytes: -1}, {PageSize: -1}, {PageSize: 1001}} {
		if _, err := httpapi.New(s.svc, o); err == nil {
			t.Errorf("New accepted %+v", *o)
		}
	}
	if _, err := httpapi.New(s.svc, nil); err != nil {
		t.Errorf("New(svc, nil): %v", err)
	}
}

var _ http.Handler = (*httpapi.Handler)(nil)

func TestDepositIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account("0")
	path := "/accounts/" + itoa(acct) + "/deposits"
	for range 2 {
		r := s.doKey("POST", path, `{"amount_in_wei": "700"}`, "wire-1").want(t, 200, "")
		if r.str("available_balance_in_wei") != "700" {
			t.Fatalf("a repeated deposit was credited twice: %s", r.raw)
		}
	}
	s.doKey("POST", path, `{"amount_in_wei": "800"}`, "wire-1").want(t, 422, "idempotency_conflict")
	// Header and reference naming the same deposit agree; differing, they are refused.
	s.doKey("POST", path, `{"amount_in_wei": "5", "reference": "wire-2"}`, "wire-2").want(t, 200, "")
	s.doKey("POST", path, `{"amount_in_wei": "5", "reference": "wire-2"}`, "wire-3").want(t, 422, "idempotency_conflict")
	// A header key lives apart from the references operators choose: neither
	// can replay or block the other.
	s.do("POST", path, `{"amount_in_wei": "1", "reference": "wire-1"}`).want(t, 200, "")
	s.do("POST", path, `{"amount_in_wei": "1", "reference": "idempotency-key:wire-1"}`).want(t, 422, "invalid_reference")
	s.doKey("POST", path, `{"amount_in_wei": "1"}`, strings.Repeat("k", 250)).want(t, 422, "invalid_reference")
	if avail, cur := s.balances(acct); avail != "706" || cur != "706" {
		t.Fatalf("balances %s %s, want 706", avail, cur)
	}
}

func TestCreateAccountIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	first := s.doKey("POST", "/accounts", `{"deposit_in_wei": "1000"}`, "open-1").want(t, 201, "")
	// A retry answers with the same account, credited once.
	again := s.doKey("POST", "/accounts", `{"deposit_in_wei": "1000"}`, "open-1").want(t, 201, "")
	id := int64(first.body["id"].(float64))
	if got := int64(again.body["id"].(float64)); got != id {
		t.Fatalf("retry opened account %d, the first %d", got, id)
	}
	if avail, cur := s.balances(id); avail != "1000" || cur != "1000" {
		t.Fatalf("balances after a retried open: %s %s, want 1000", avail, cur)
	}
	// The same key with another deposit is a conflict and changes nothing.
	s.doKey("POST", "/accounts", `{"deposit_in_wei": "5"}`, "open-1").want(t, 422, "idempotency_conflict")
	if avail, cur := s.balances(id); avail != "1000" || cur != "1000" {
		t.Fatalf("balances after a conflicting retry: %s %s, want 1000", avail, cur)
	}
	// Without a key, each request opens another account.
	other := s.do("POST", "/accounts", `{}`).want(t, 201, "")
	if got := int64(other.body["id"].(float64)); got == id {
		t.Fatalf("a request without a key returned account %d again", got)
	}
	s.doKey("POST", "/accounts", `{}`, "bad key").want(t, 422, "invalid_reference")
}

func TestTokenAccount(t *testing.T) {
	t.Parallel()
	s := newServer(t, &serverOptions{token: true})
	token := s.token.Hex()
	r := s.do("POST", "/accounts", `{"token_address": "`+token+`", "deposit_in_wei": "1000000"}`).want(t, 201, "")
	acct := int64(r.body["id"].(float64))
	if a := r.asset(); a.symbol != "USDC" || a.decimals != 6 || a.token == nil || *a.token != token || r.str("available_balance_in_wei") != "1000000" {
		t.Fatalf("token account: %s", r.raw)
	}
	r = s.do("POST", "/transactions", `{"user_account_id": `+itoa(acct)+`, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": "2500"}`).want(t, 201, "")
	if a := r.asset(); a.symbol != "USDC" || r.str("transaction_fee_total_in_wei") != "7" {
		t.Fatalf("token transfer: %s", r.raw)
	}
	got := s.do("GET", "/transactions/"+itoa(int64(r.body["id"].(float64))), "").want(t, 200, "")
	if a := got.asset(); a.token == nil || *a.token != token {
		t.Fatalf("GET token transfer: %s", got.raw)
	}
	if avail, cur := s.balances(acct); avail != "997493" || cur != "1000000" {
		t.Fatalf("balances %s %s, want 997493 held of 1000000", avail, cur)
	}

	// Operators see what the wallet holds of the token.
	ws := s.do("GET", "/operator/wallets", "").want(t, 200, "")
	wallets, _ := ws.body["wallets"].([]any)
	w0, _ := wallets[0].(map[string]any)
	if tb, _ := w0["token_balances"].(map[string]any); tb[token] != "1000000000000" {
		t.Fatalf("wallet's token balances: %s", ws.raw)
	}

	s.do("POST", "/accounts", `{"token_address": "0x00000000000000000000000000000000000b0b0b"}`).want(t, 422, "unknown_token")
	s.do("POST", "/accounts", `{"token_address": "usdc"}`).want(t, 422, "invalid_address")
	// More than the wallet holds of the token: refused, nothing stored.
	rich := s.do("POST", "/accounts", `{"token_address": "`+token+`", "deposit_in_wei": "10000000000000"}`).want(t, 201, "")
	s.do("POST", "/transactions", `{"user_account_id": `+itoa(int64(rich.body["id"].(float64)))+`, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": "2000000000000"}`).want(t, 503, "wallet_underfunded")
}
