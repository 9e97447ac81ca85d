package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// initialDepositReference is the credit reference of the deposit made with
// POST /accounts; references are per account, so every account has its own.
const initialDepositReference = "initial-deposit"

// account serves GET /accounts/{id}.
func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, notFound("no such account"))
		return
	}
	a, err := h.svc.Account(r.Context(), id)
	if err != nil {
		writeError(w, h.serviceError(r, err, fmt.Sprintf("account %d", id)))
		return
	}
	writeJSON(w, http.StatusOK, newAccountView(a, assetOf(r.Context(), h.svc, a.Token)))
}

// createAccount serves POST /accounts, an operator route.
func (h *Handler) createAccount(w http.ResponseWriter, r *http.Request) {
	body, e := h.decodeObject(w, r, "deposit_in_wei", "token_address")
	if e != nil {
		writeError(w, e)
		return
	}
	var token common.Address
	if body["token_address"] != nil {
		if token, e = body.address("token_address"); e != nil {
			writeError(w, e)
			return
		}
	}
	key, e := headerKey(r)
	if e != nil {
		writeError(w, e)
		return
	}
	deposit, e := body.amount("deposit_in_wei", false, true)
	if e != nil {
		writeError(w, e)
		return
	}
	// With a key, a retry finds the account it opened, and the deposit's
	// fixed reference credits it once.
	var a consolidate.Account
	var err error
	switch {
	case token != (common.Address{}):
		a, err = h.svc.CreateTokenAccount(r.Context(), token, key)
	case key != "":
		a, err = h.svc.CreateAccountWithKey(r.Context(), key)
	default:
		a, err = h.svc.CreateAccount(r.Context())
	}
	if err != nil {
		writeError(w, h.serviceError(r, err, "account"))
		return
	}
	if deposit != nil && deposit.Sign() > 0 {
		// Two steps: should the credit fail, the account exists empty and
		// the deposit can be made with POST /accounts/{id}/deposits.
		credited, err := h.svc.Credit(r.Context(), a.ID, deposit, initialDepositReference)
		if err != nil {
			writeError(w, h.serviceError(r, err, fmt.Sprintf("account %d", a.ID)))
			return
		}
		a = credited
	}
	w.Header().Set("Location", "/accounts/"+strconv.FormatInt(a.ID, 10))
	writeJSON(w, http.StatusCreated, newAccountView(a, assetOf(r.Context(), h.svc, a.Token)))
}

// deposit serves POST /accounts/{id}/deposits, an operator route. The
// reference makes it idempotent: repeating a deposit changes nothing.
func (h *Handler) deposit(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, notFound("no such account"))
		return
	}
	body, e := h.decodeObject(w, r, "amount_in_wei", "reference")
	if e != nil {
		writeError(w, e)
		return
	}
	amount, e := body.amount("amount_in_wei", true, false)
	if e != nil {
		writeError(w, e)
		return
	}
	ref, e := body.str("reference")
	if e != nil {
		writeError(w, e)
		return
	}
	if ref, e = depositReference(r, ref); e != nil {
		writeError(w, e)
		return
	}
	if ref == "" {
		writeError(w, invalid("invalid_field", "reference or the "+keyHeader+" header is required: it makes the deposit safe to repeat"))
		return
	}
	a, err := h.svc.Credit(r.Context(), id, amount, ref)
	if err != nil {
		writeError(w, h.serviceError(r, err, fmt.Sprintf("account %d", id)))
		return
	}
	writeJSON(w, http.StatusOK, newAccountView(a, assetOf(r.Context(), h.svc, a.Token)))
}
