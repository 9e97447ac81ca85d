package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-consolidate/consolidate"
	"github.com/go-consolidate/consolidate/chain/chaintest"
	"github.com/go-consolidate/consolidate/httpapi"
	"github.com/go-consolidate/consolidate/store/sqlite"
)

// A handler with the operator routes, on an in-memory ledger and an
// in-process chain: create a funded account (with the operator token),
// submit a transfer, read the balances.
func ExampleNew() {
	store, err := sqlite.Open(sqlite.Memory, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	sim, err := chaintest.New(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()
	ch, err := sim.NewChain(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	svc, err := consolidate.New(store, ch, &consolidate.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println(err)
		return
	}
	op, err := httpapi.NewOperator(svc, &httpapi.OperatorOptions{Token: "example-token-change-me-0123456789"})
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := httpapi.New(svc, &httpapi.Options{Operator: op})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	post := func(path, body string) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer example-token-change-me-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		switch {
		case v["error"] != nil:
			fmt.Println(resp.StatusCode, v["error"].(map[string]any)["code"])
		case v["status"] != nil:
			fmt.Println(resp.StatusCode, v["status"], v["transaction_amount_in_wei"], v["transaction_fee_total_in_wei"])
		default:
			fmt.Println(resp.StatusCode, "available", v["available_balance_in_wei"], "current", v["current_balance_in_wei"])
		}
	}
	post("/accounts", `{"deposit_in_wei": "1000000000000000000"}`)
	post("/transactions", `{"user_account_id": 1, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": "250000000000000000"}`)
	post("/transactions", `{"user_account_id": 1, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": "1000000000000000000"}`)
	post("/transactions", `{"user_account_id": 1, "to_public_address": "0x1111111111111111111111111111111111111111", "transaction_amount_in_wei": 1.5e18}`)
	post("/accounts/1/deposits", `{"amount_in_wei": "5", "reference": "wire-7"}`)
	// Output:
	// 201 available 1000000000000000000 current 1000000000000000000
	// 201 PENDING 250000000000000000 50000000000000
	// 422 insufficient_funds
	// 422 invalid_amount
	// 200 available 749950000000000005 current 1000000000000000005
}
