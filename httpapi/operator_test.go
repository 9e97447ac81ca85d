package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/httpapi"
)

// doAuth sends a request with the given Authorization header ("" for
// none).
func (s *server) doAuth(method, path, body, auth string) reply {
	s.t.Helper()
	var rd *strings.Reader
	if body == "" {
		rd = strings.NewReader("")
	} else {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return s.send(req)
}

func TestNewOperatorNeedsCredentials(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for name, o := range map[string]*httpapi.OperatorOptions{
		"nil":         nil,
		"none":        {},
		"short token": {Token: "0123456789abcde"},
		"negative":    {Token: testToken, SessionTTL: -time.Second},
	} {
		if _, err := httpapi.NewOperator(s.svc, o); err == nil {
			t.Errorf("%s: NewOperator succeeded", name)
		}
	}
	if _, err := httpapi.NewOperator(nil, &httpapi.OperatorOptions{Token: testToken}); err == nil {
		t.Error("NewOperator with a nil Service succeeded")
	}
}

// Every operator route answers 401 without credentials, 403 with wrong
// ones, and works with the token; none moves money without them.
func TestOperatorRoutesNeedCredentials(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	r := s.do("POST", "/transactions", transfer(acct, alice, `"1000"`)).want(t, 201, "")
	tx := itoa(int64(r.body["id"].(float64)))
	routes := []struct {
		method, path, body string
		ok                 int
	}{
		{"GET", "/operator/transfers", "", 200},
		{"GET", "/operator/transfers?status=PENDING&order=oldest&limit=1", "", 200},
		{"GET", "/operator/dead-letters", "", 200},
		{"GET", "/operator/wallets", "", 200},
		{"GET", "/operator/overview", "", 200},
		{"POST", "/operator/transfers/" + tx + "/requeue", "", 200},
		{"POST", "/operator/transfers/" + tx + "/cancel", "", 202},
		{"POST", "/accounts", `{"deposit_in_wei": "7"}`, 201},
		{"POST", "/accounts/" + itoa(acct) + "/deposits", `{"amount_in_wei": "5", "reference": "wire-1"}`, 200},
	}
	for _, rt := range routes {
		name := rt.method + " " + rt.path
		avail, cur := s.balances(acct)
		none := s.doAuth(rt.method, rt.path, rt.body, "").want(t, 401, "unauthorized")
		if !strings.HasPrefix(none.header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s: 401 without a Bearer challenge: %q", name, none.header.Get("WWW-Authenticate"))
		}
		for _, auth := range []string{"Bearer wrong-token-wrong-token", "Bearer " + testToken + "x", "Basic " + testToken, "Bearer", "Bearer " + testToken[:len(testToken)-1]} {
			s.doAuth(rt.method, rt.path, rt.body, auth).want(t, 403, "forbidden")
		}
		if a, c := s.balances(acct); a != avail || c != cur {
			t.Fatalf("%s: balances moved without credentials: %s %s, were %s %s", name, a, c, avail, cur)
		}
		s.doAuth(rt.method, rt.path, rt.body, "Bearer "+testToken).want(t, rt.ok, "")
	}
	// The scheme is case-insensitive (RFC 9110).
	s.doAuth("GET", "/operator/overview", "", "bearer "+testToken).want(t, 200, "")
}

func TestOperatorListsPages(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	var ids []int64
	for range 5 {
		r := s.do("POST", "/transactions", transfer(acct, alice, `"1"`)).want(t, 201, "")
		ids = append(ids, int64(r.body["id"].(float64)))
	}
	s.sim.Commit()
	s.settle(ids[0])

	walk := func(query string) []int64 {
		t.Helper()
		var got []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("%s: more pages than transfers", query)
			}
			r := s.do("GET", "/operator/transfers?"+query+cursor, "").want(t, 200, "")
			for _, v := range r.body["transfers"].([]any) {
				tx := v.(map[string]any)
				if _, ok := tx["nonce"]; !ok || tx["age_seconds"] == nil {
					t.Fatalf("transfer without nonce or age: %v", tx)
				}
				got = append(got, int64(tx["id"].(float64)))
			}
			next, ok := r.body["next_cursor"].(float64)
			if !ok {
				return got
			}
			cursor = "&cursor=" + itoa(int64(next))
		}
	}
	eq := func(name string, got, want []int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: %v, want %v", name, got, want)
			}
		}
	}
	eq("newest", walk("limit=2"), []int64{ids[4], ids[3], ids[2], ids[1], ids[0]})
	eq("oldest", walk("limit=2&order=oldest"), ids)
	eq("pending", walk("limit=3&status=PENDING&order=oldest"), ids[1:])
	eq("successful", walk("status=SUCCESSFUL"), ids[:1])
	eq("old enough", walk("limit=2&min_age=1h"), nil)
	eq("any age", walk("limit=2&min_age=0s"), ids)
	eq("no dead letters", walk("parked=true"), nil)
}

func TestOperatorBadInput(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, q := range []string{
		"limit=0", "limit=1001", "limit=abc", "limit=+1", "cursor=0", "cursor=-1", "cursor=x",
		"status=DONE", "status=pending", "parked=maybe", "order=sideways", "min_age=-1s", "min_age=soon",
		"min_age=1m&order=newest", "parked=true&status=SUCCESSFUL", "limit=1&limit=2", "colour=red",
	} {
		s.do("GET", "/operator/transfers?"+q, "").want(t, 422, "invalid_parameter")
	}
	s.do("GET", "/operator/dead-letters?status=PENDING", "").want(t, 422, "invalid_parameter")
	s.do("GET", "/operator/dead-letters?limit=0", "").want(t, 422, "invalid_parameter")
	for _, id := range []string{"999", "abc", "0", "-1", "99999999999999999999"} {
		s.do("POST", "/operator/transfers/"+id+"/requeue", "").want(t, 404, "not_found")
		s.do("POST", "/operator/transfers/"+id+"/cancel", "").want(t, 404, "not_found")
	}
	s.do("GET", "/operator/transfers/1/requeue", "").want(t, 405, "method_not_allowed")
	s.do("DELETE", "/operator/overview", "").want(t, 405, "method_not_allowed")
	s.do("POST", "/operator/wallets", "").want(t, 405, "method_not_allowed")
}

// A dead-lettered transfer is listed; requeued once the node sees again,
// it settles and leaves the list. A final one cannot be requeued or
// cancelled.
func TestOperatorRequeue(t *testing.T) {
	t.Parallel()
	s, bc := parkingServer(t, nil)
	s.work()
	acct := s.account(ether)
	id := s.park(bc, acct)

	r := s.do("GET", "/operator/dead-letters", "").want(t, 200, "")
	dead := r.body["transfers"].([]any)
	if len(dead) != 1 || int64(dead[0].(map[string]any)["id"].(float64)) != id || dead[0].(map[string]any)["status"] != "PENDING" {
		t.Fatalf("dead letters: %s", r.raw)
	}
	o := s.do("GET", "/operator/overview", "").want(t, 200, "")
	if o.body["parked"].(float64) != 1 || o.body["pending"].(float64) != 1 || o.body["queue"] == nil {
		t.Fatalf("overview: %s", o.raw)
	}
	w := s.do("GET", "/operator/wallets", "").want(t, 200, "")
	ws := w.body["wallets"].([]any)
	if len(ws) != 1 || ws[0].(map[string]any)["balance_in_wei"] == nil || ws[0].(map[string]any)["open"].(float64) != 1 {
		t.Fatalf("wallets: %s", w.raw)
	}

	bc.blind.Store(false)
	r = s.do("POST", "/operator/transfers/"+itoa(id)+"/requeue", "").want(t, 200, "")
	if r.str("status") != "PENDING" || r.body["checks"].(float64) != 0 {
		t.Fatalf("requeued: %s", r.raw)
	}
	s.waitStatus(id, consolidate.StatusSuccessful)
	if s.parked(id) {
		t.Fatal("a settled transfer is still a dead letter")
	}
	s.do("POST", "/operator/transfers/"+itoa(id)+"/requeue", "").want(t, 409, "not_pending")
	s.do("POST", "/operator/transfers/"+itoa(id)+"/cancel", "").want(t, 409, "not_pending")
	o = s.do("GET", "/operator/overview", "").want(t, 200, "")
	if o.body["parked"].(float64) != 0 || o.body["pending"].(float64) != 0 {
		t.Fatalf("overview after settling: %s", o.raw)
	}
	var settled float64
	for _, m := range o.body["throughput"].(map[string]any)["minutes"].([]any) {
		settled += m.(map[string]any)["successful"].(float64)
	}
	if settled != 1 {
		t.Fatalf("throughput counts %v settlements, want 1: %s", settled, o.raw)
	}
}

// Cancel sends a cancellation and puts a dead letter back to work; one of
// the two lands and the transfer ends final.
func TestOperatorCancel(t *testing.T) {
	t.Parallel()
	s, bc := parkingServer(t, nil)
	s.work()
	acct := s.account(ether)
	id := s.park(bc, acct)
	bc.blind.Store(false)
	r := s.do("POST", "/operator/transfers/"+itoa(id)+"/cancel", "").want(t, 202, "")
	if r.str("status") != "PENDING" {
		t.Fatalf("cancelled: %s", r.raw)
	}
	if s.parked(id) {
		t.Fatal("a cancelled transfer is still a dead letter")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		tx, err := s.svc.Get(t.Context(), id)
		if err == nil && tx.Status.Final() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancelled transfer not final: %v %v", tx.Status, err)
		}
		s.sim.Commit()
		time.Sleep(20 * time.Millisecond)
	}
	s.do("POST", "/operator/transfers/"+itoa(id)+"/cancel", "").want(t, 409, "not_pending")
}
