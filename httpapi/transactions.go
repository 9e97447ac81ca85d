package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-consolidate/consolidate"
)

// submit serves POST /transactions.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	body, e := h.decodeObject(w, r, "user_account_id", "to_public_address", "transaction_amount_in_wei", "idempotency_key")
	if e != nil {
		writeError(w, e)
		return
	}
	var req consolidate.SubmitRequest
	if req.AccountID, e = body.id("user_account_id"); e != nil {
		writeError(w, e)
		return
	}
	if req.To, e = body.address("to_public_address"); e != nil {
		writeError(w, e)
		return
	}
	if req.Amount, e = body.amount("transaction_amount_in_wei", true, false); e != nil {
		writeError(w, e)
		return
	}
	if req.IdempotencyKey, e = body.str("idempotency_key"); e != nil {
		writeError(w, e)
		return
	}
	if req.IdempotencyKey, e = requestKey(r, "idempotency_key", req.IdempotencyKey); e != nil {
		writeError(w, e)
		return
	}
	tx, err := h.svc.Submit(r.Context(), req)
	if err != nil {
		writeError(w, h.serviceError(r, err, fmt.Sprintf("account %d", req.AccountID)))
		return
	}
	w.Header().Set("Location", "/transactions/"+strconv.FormatInt(tx.ID, 10))
	writeJSON(w, http.StatusCreated, newTransactionView(tx, assetOf(r.Context(), h.svc, tx.Token)))
}

// transaction serves GET /transactions/{id}.
func (h *Handler) transaction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, notFound("no such transaction"))
		return
	}
	tx, err := h.svc.Get(r.Context(), id)
	if err != nil {
		writeError(w, h.serviceError(r, err, fmt.Sprintf("transaction %d", id)))
		return
	}
	writeJSON(w, http.StatusOK, newTransactionView(tx, assetOf(r.Context(), h.svc, tx.Token)))
}

// transactions serves GET /accounts/{id}/transactions?limit=&before=.
func (h *Handler) transactions(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, notFound("no such account"))
		return
	}
	q := r.URL.Query()
	limit, before := h.opts.PageSize, int64(0)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || !isDigits(s) || n < 1 || n > maxPageSize {
			writeError(w, invalid("invalid_parameter", fmt.Sprintf("limit must be an integer from 1 to %d", maxPageSize)))
			return
		}
		limit = n
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || !isDigits(s) || n < 1 {
			writeError(w, invalid("invalid_parameter", "before must be a transaction id, a positive integer"))
			return
		}
		before = n
	}
	txs, err := h.svc.Transactions(r.Context(), id, before, limit)
	if err != nil {
		writeError(w, h.serviceError(r, err, fmt.Sprintf("account %d", id)))
		return
	}
	page := pageView{Transactions: make([]transactionView, len(txs))}
	for i, tx := range txs {
		page.Transactions[i] = newTransactionView(tx, assetOf(r.Context(), h.svc, tx.Token))
	}
	if len(txs) == limit {
		next := txs[len(txs)-1].ID
		page.NextBefore = &next
	}
	writeJSON(w, http.StatusOK, page)
}
