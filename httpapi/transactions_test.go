package httpapi_test

import (
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSubmitGetAndSettle(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account("2" + ether[1:]) // 2 ether

	r := s.do("POST", "/transactions", transfer(acct, alice, `"`+ether+`"`)).want(t, http.StatusCreated, "")
	id := int64(r.body["id"].(float64))
	if got := r.header.Get("Location"); got != "/transactions/"+itoa(id) {
		t.Errorf("Location %q", got)
	}
	for field, want := range map[string]string{
		"to_public_address":            alice,
		"from_public_address":          s.sim.Sender().Hex(),
		"transaction_amount_in_wei":    ether,
		"transaction_fee_total_in_wei": "50000000000000",
		"status":                       "PENDING",
	} {
		if got := r.str(field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if h := r.str("transaction_hash"); len(h) != 66 || !strings.HasPrefix(h, "0x") {
		t.Errorf("transaction_hash %q", h)
	}
	if v, ok := r.body["transaction_fee_blockchain_in_wei"]; !ok || v != nil {
		t.Errorf("transaction_fee_blockchain_in_wei = %v (present %v), want null while pending", v, ok)
	}
	if int64(r.body["user_account_id"].(float64)) != acct {
		t.Errorf("user_account_id %v", r.body["user_account_id"])
	}

	got := s.do("GET", "/transactions/"+itoa(id), "").want(t, http.StatusOK, "")
	if got.str("transaction_hash") != r.str("transaction_hash") || got.str("status") != "PENDING" {
		t.Fatalf("GET: %s", got.raw)
	}
	avail, cur := s.balances(acct)
	if avail != "999950000000000000" || cur != "2"+ether[1:] {
		t.Fatalf("while pending: available %s current %s", avail, cur)
	}

	s.sim.Commit()
	s.settle(id)
	got = s.do("GET", "/transactions/"+itoa(id), "").want(t, http.StatusOK, "")
	if got.str("status") != "SUCCESSFUL" {
		t.Fatalf("after settling: %s", got.raw)
	}
	if fee, ok := new(big.Int).SetString(got.str("transaction_fee_blockchain_in_wei"), 10); !ok || fee.Sign() <= 0 {
		t.Fatalf("transaction_fee_blockchain_in_wei %q", got.str("transaction_fee_blockchain_in_wei"))
	}
	avail, cur = s.balances(acct)
	if avail != "999950000000000000" || cur != avail {
		t.Fatalf("after settling: available %s current %s", avail, cur)
	}
}

// settle reconciles a mined transaction until it is final.
func (s *server) settle(id int64) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tx, err := s.svc.Reconcile(s.t.Context(), id)
		if err == nil && tx.Status.Final() {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("transaction %d not final: %v %v", id, tx.Status, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubmitAmounts(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	maxUint256 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)).String()
	over := new(big.Int).Lsh(big.NewInt(1), 256).String()
	for _, c := range []struct {
		name, amount string // amount as raw JSON
		status       int
		code         string
	}{
		{"decimal string", `"1000"`, 201, ""},
		{"exact JSON number", `1000`, 201, ""},
		{"JSON number above 2^53", `9007199254740993`, 201, ""},
		{"string with leading zeros", `"007"`, 201, ""},
		{"fraction string", `"1.5"`, 422, "invalid_amount"},
		{"whole fraction string", `"1.0"`, 422, "invalid_amount"},
		{"fraction number", `1.5`, 422, "invalid_amount"},
		{"whole fraction number", `1.0`, 422, "invalid_amount"},
		{"exponent string", `"1e18"`, 422, "invalid_amount"},
		{"exponent number", `1e18`, 422, "invalid_amount"},
		{"exponent number with sign", `1E+3`, 422, "invalid_amount"},
		{"negative number", `-1`, 422, "invalid_amount"},
		{"negative string", `"-1"`, 422, "invalid_amount"},
		{"negative zero", `-0`, 422, "invalid_amount"},
		{"plus sign", `"+1"`, 422, "invalid_amount"},
		{"space", `" 1"`, 422, "invalid_amount"},
		{"hex", `"0x10"`, 422, "invalid_amount"},
		{"empty string", `""`, 422, "invalid_amount"},
		{"zero string", `"0"`, 422, "invalid_amount"},
		{"zero number", `0`, 422, "invalid_amount"},
		{"2^256 string", `"` + over + `"`, 422, "invalid_amount"},
		{"2^256 number", over, 422, "invalid_amount"},
		{"2^256-1 plus the fee", `"` + maxUint256 + `"`, 422, "invalid_amount"},
		{"80 digits", `"` + strings.Repeat("9", 80) + `"`, 422, "invalid_amount"},
		{"boolean", `true`, 422, "invalid_amount"},
		{"object", `{"wei": 1}`, 422, "invalid_amount"},
		{"array", `[1]`, 422, "invalid_amount"},
		{"null", `null`, 422, "invalid_field"},
		{"more than the balance", `"` + ether + `"`, 422, "insufficient_funds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, _ := s.balances(acct)
			r := s.do("POST", "/transactions", transfer(acct, alice, c.amount)).want(t, c.status, c.code)
			after, _ := s.balances(acct)
			if c.status != http.StatusCreated && after != before {
				t.Fatalf("rejected request moved the balance from %s to %s", before, after)
			}
			if c.status == http.StatusCreated {
				want := strings.TrimLeft(strings.Trim(c.amount, `"`), "0")
				if got := r.str("transaction_amount_in_wei"); got != want {
					t.Fatalf("amount %q, want %q", got, want)
				}
			}
		})
	}
}

func TestSubmitInvalidInput(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	sender := s.sim.Sender().Hex()
	a := itoa(acct)
	for _, c := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"unknown account", transfer(999, alice, `"1"`), 404, "not_found"},
		{"account zero", transfer(0, alice, `"1"`), 404, "not_found"},
		{"negative account", transfer(-3, alice, `"1"`), 404, "not_found"},
		{"account as string", `{"user_account_id": "` + a + `", "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1"}`, 422, "invalid_field"},
		{"account fraction", `{"user_account_id": 1.5, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1"}`, 422, "invalid_field"},
		{"account above int64", `{"user_account_id": 9223372036854775808, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1"}`, 422, "invalid_field"},
		{"account missing", `{"to_public_address": "` + alice + `", "transaction_amount_in_wei": "1"}`, 422, "invalid_field"},
		{"address missing", `{"user_account_id": ` + a + `, "transaction_amount_in_wei": "1"}`, 422, "invalid_field"},
		{"address as number", `{"user_account_id": ` + a + `, "to_public_address": 12, "transaction_amount_in_wei": "1"}`, 422, "invalid_field"},
		{"amount missing", `{"user_account_id": ` + a + `, "to_public_address": "` + alice + `"}`, 422, "invalid_field"},
		{"short address", transfer(acct, "0x1234", `"1"`), 422, "invalid_address"},
		{"address without 0x", transfer(acct, alice[2:], `"1"`), 422, "invalid_address"},
		{"address not hex", transfer(acct, "0xZZ11111111111111111111111111111111111111", `"1"`), 422, "invalid_address"},
		{"zero address", transfer(acct, "0x0000000000000000000000000000000000000000", `"1"`), 422, "invalid_address"},
		{"bad checksum", transfer(acct, "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", `"1"`), 422, "invalid_address"},
		{"self transfer", transfer(acct, sender, `"1"`), 422, "self_transfer"},
		{"key too long", `{"user_account_id": ` + a + `, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1", "idempotency_key": "` + strings.Repeat("k", 256) + `"}`, 422, "invalid_reference"},
		{"key with a space", `{"user_account_id": ` + a + `, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1", "idempotency_key": "a b"}`, 422, "invalid_reference"},
		{"key as number", `{"user_account_id": ` + a + `, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1", "idempotency_key": 7}`, 422, "invalid_field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.do("POST", "/transactions", c.body).want(t, c.status, c.code)
		})
	}
	if avail, cur := s.balances(acct); avail != ether || cur != ether {
		t.Fatalf("rejected requests moved the balances: %s, %s", avail, cur)
	}
	// A checksummed address is accepted as well as the lower-case form.
	s.do("POST", "/transactions", transfer(acct, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", `"1"`)).want(t, 201, "")
	s.do("POST", "/transactions", transfer(acct, strings.ToLower("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), `"1"`)).want(t, 201, "")
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	body := func(to, amount string) string {
		return `{"user_account_id": ` + itoa(acct) + `, "to_public_address": "` + to + `", "transaction_amount_in_wei": "` + amount + `", "idempotency_key": "order-42"}`
	}
	first := s.do("POST", "/transactions", body(alice, "1000")).want(t, 201, "")
	again := s.do("POST", "/transactions", body(alice, "1000")).want(t, 201, "")
	if first.body["id"] != again.body["id"] || again.str("idempotency_key") != "order-42" {
		t.Fatalf("replay returned %s, first %s", again.raw, first.raw)
	}
	s.do("POST", "/transactions", body(bob, "1000")).want(t, 422, "idempotency_conflict")
	s.do("POST", "/transactions", body(alice, "1001")).want(t, 422, "idempotency_conflict")
	if avail, _ := s.balances(acct); avail != "999949999999999000" {
		t.Fatalf("available %s: the replay was charged again", avail)
	}
}

func TestGetTransactionNotFound(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, path := range []string{
		"/transactions/1", "/transactions/0", "/transactions/-1", "/transactions/abc",
		"/transactions/1.5", "/transactions/99999999999999999999", "/transactions/+1",
	} {
		s.do("GET", path, "").want(t, 404, "not_found")
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	first := s.doKey("POST", "/transactions", transfer(acct, alice, `"1000"`), "order-7").want(t, 201, "")
	again := s.doKey("POST", "/transactions", transfer(acct, alice, `"1000"`), "order-7").want(t, 201, "")
	if first.body["id"] != again.body["id"] || again.str("idempotency_key") != "order-7" {
		t.Fatalf("replay returned %s, first %s", again.raw, first.raw)
	}
	// The header and the body field are one key: either replays the other.
	body := `{"user_account_id": ` + itoa(acct) + `, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1000", "idempotency_key": "order-7"}`
	same := s.doKey("POST", "/transactions", body, "order-7").want(t, 201, "")
	viaBody := s.do("POST", "/transactions", body).want(t, 201, "")
	if same.body["id"] != first.body["id"] || viaBody.body["id"] != first.body["id"] {
		t.Fatalf("header and body key gave %v and %v, want %v", same.body["id"], viaBody.body["id"], first.body["id"])
	}
	s.doKey("POST", "/transactions", transfer(acct, bob, `"1000"`), "order-7").want(t, 422, "idempotency_conflict")
	if avail, _ := s.balances(acct); avail != "999949999999999000" || s.count(acct) != 1 {
		t.Fatalf("available %s with %d transactions: a replay was charged again", avail, s.count(acct))
	}
}

func TestIdempotencyKeyHeaderAndBodyDiffer(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	acct := s.account(ether)
	body := `{"user_account_id": ` + itoa(acct) + `, "to_public_address": "` + alice + `", "transaction_amount_in_wei": "1000", "idempotency_key": "order-8"}`
	s.doKey("POST", "/transactions", body, "order-9").want(t, 422, "idempotency_conflict")
	s.doKey("POST", "/transactions", transfer(acct, alice, `"1000"`), "").want(t, 422, "invalid_reference")
	s.doKey("POST", "/transactions", transfer(acct, alice, `"1000"`), "a b").want(t, 422, "invalid_reference")
	req, err := http.NewRequest("POST", s.url+"/transactions", strings.NewReader(transfer(acct, alice, `"1000"`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header["Idempotency-Key"] = []string{"order-8", "order-9"}
	s.send(req).want(t, 422, "invalid_reference")
	if avail, cur := s.balances(acct); avail != ether || cur != ether || s.count(acct) != 0 {
		t.Fatalf("refused requests changed the account: %s %s, %d transactions", avail, cur, s.count(acct))
	}
	// Neither key was used up by the refusals.
	s.doKey("POST", "/transactions", transfer(acct, bob, `"1"`), "order-9").want(t, 201, "")
	s.do("POST", "/transactions", `{"user_account_id": `+itoa(acct)+`, "to_public_address": "`+bob+`", "transaction_amount_in_wei": "2", "idempotency_key": "order-8"}`).want(t, 201, "")
}
