package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-consolidate/consolidate/httpapi"
)

func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	valid := transfer(acct, alice, `"1"`)
	for _, c := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty", ``, 400, "malformed_json"},
		{"whitespace", "  \n", 400, "malformed_json"},
		{"not JSON", `user_account_id=1`, 400, "malformed_json"},
		{"array", `[` + valid + `]`, 400, "malformed_json"},
		{"string", `"hello"`, 400, "malformed_json"},
		{"null", `null`, 400, "malformed_json"},
		{"truncated", valid[:len(valid)-1], 400, "malformed_json"},
		{"trailing comma", valid[:len(valid)-1] + `,}`, 400, "malformed_json"},
		{"two objects", valid + valid, 400, "malformed_json"},
		{"trailing garbage", valid + ` x`, 400, "malformed_json"},
		{"duplicate field", `{"user_account_id": 1, "user_account_id": ` + itoa(acct) + `, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1"}`, 400, "malformed_json"},
		{"single quotes", `{'user_account_id': 1}`, 400, "malformed_json"},
		{"unknown field", valid[:len(valid)-1] + `, "memo": "hi"}`, 400, "unknown_field"},
		{"unknown nested field", valid[:len(valid)-1] + `, "extra": {"a": [1, {"b": 2}]}}`, 400, "unknown_field"},
		{"field with other case", `{"User_Account_Id": ` + itoa(acct) + `, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1"}`, 400, "unknown_field"},
		{"syntax error after unknown field", `{"memo": 1, "user_account_id": }`, 400, "malformed_json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.do("POST", "/transactions", c.body).want(t, c.status, c.code)
		})
	}
	// Trailing whitespace is fine.
	s.do("POST", "/transactions", valid+"\n\t ").want(t, 201, "")

	// The message tells an empty body from one cut short.
	for body, want := range map[string]string{
		``:                        "the body is empty",
		`{"user_account_id": 1,`:  "the body ends in the middle of the JSON",
		`{"user_account_id": [1,`: "the body ends in the middle of the JSON",
		`{`:                       "the body ends in the middle of the JSON",
	} {
		r := s.do("POST", "/transactions", body).want(t, 400, "malformed_json")
		if !strings.Contains(r.raw, want) {
			t.Errorf("body %q: answer %s, want the message %q", body, r.raw, want)
		}
	}
}

func TestContentType(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	body := transfer(acct, alice, `"1"`)
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/json; charset"} {
		s.doType("POST", "/transactions", body, ct).want(t, 415, "unsupported_media_type")
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		s.doType("POST", "/transactions", body, ct).want(t, 201, "")
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	pad := strings.Repeat("k", httpapi.DefaultMaxBodyBytes)
	big := `{"user_account_id": ` + itoa(acct) + `, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1", "idempotency_key": "` + pad + `"}`
	s.do("POST", "/transactions", big).want(t, 413, "body_too_large")
	s.do("POST", "/accounts", `{"deposit_in_wei": "`+strings.Repeat("1", 70<<10)+`"}`).want(t, 413, "body_too_large")
	s.do("POST", "/accounts", strings.Repeat(" ", 70<<10)+`{}`).want(t, 413, "body_too_large")

	// Without a Content-Length, read as a stream.
	req, err := http.NewRequest("POST", s.url+"/transactions", struct{ *bytes.Reader }{bytes.NewReader([]byte(big))})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	s.send(req).want(t, 413, "body_too_large")

	small := newServer(t, &serverOptions{op: &httpapi.OperatorOptions{Token: testToken, MaxBodyBytes: 64}})
	small.do("POST", "/accounts", `{"deposit_in_wei": "1000"}`).want(t, 201, "")
	small.do("POST", "/accounts", `{"deposit_in_wei":                                             "1000"}`).want(t, 413, "body_too_large")
	if avail, _ := s.balances(acct); avail != ether {
		t.Fatalf("a rejected body moved the balance: %s", avail)
	}
}

// FuzzSubmitBody: whatever the body, the answer is a JSON object and never
// a 500.
func FuzzSubmitBody(f *testing.F) {
	for _, seed := range []string{
		`{"user_account_id": 1, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": "1"}`,
		`{"user_account_id": 1, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": 1e999999}`,
		`{"user_account_id": 1e400, "transaction_amount_in_wei": -0.0}`,
		`{"user_account_id": 1, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": "1", "idempotency_key": "\ud800"}`,
		`{"a": [[[[[[[[[[]]]]]]]]]]}`,
		`{"user_account_id": 1, "user_account_id": 1}`,
		`[`, `{`, `}`, `"`, `{"x":}`, "\x00", "\xff\xfe", `{"\u0000": 1}`,
	} {
		f.Add(seed)
	}
	s := newServer(f, nil)
	s.account(ether)
	f.Fuzz(func(t *testing.T, body string) {
		resp, err := http.Post(s.url+"/transactions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("%d answer is not a JSON object: %v", resp.StatusCode, err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("body %q: %d %v", body, resp.StatusCode, v)
		}
	})
}
