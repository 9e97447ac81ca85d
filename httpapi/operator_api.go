package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-consolidate/consolidate"
)

// transferView is a transfer as operators see it: the user API's view
// and the reconciling state.
type transferView struct {
	transactionView
	Nonce       uint64     `json:"nonce"`
	Checks      int        `json:"checks"`
	NextCheckAt *time.Time `json:"next_check_at"` // null when final or parked
	AgeSeconds  int64      `json:"age_seconds"`
}

func newTransferView(tx consolidate.Transaction, now time.Time, asset assetView) transferView {
	v := transferView{transactionView: newTransactionView(tx, asset), Nonce: tx.Nonce, Checks: tx.Checks, AgeSeconds: int64(now.Sub(tx.CreatedAt) / time.Second)}
	if !tx.NextCheckAt.IsZero() && !tx.Status.Final() {
		t := tx.NextCheckAt.UTC()
		v.NextCheckAt = &t
	}
	return v
}

// transfersPage is one page of a listing.
type transfersPage struct {
	Transfers []transferView `json:"transfers"`
	// NextCursor is the cursor parameter of the next page; null when no
	// transfer is left.
	NextCursor *int64 `json:"next_cursor"`
}

// listQuery is a listing's query: a Filter and a minimum age.
type listQuery struct {
	f      consolidate.Filter
	minAge time.Duration
}

// parseList reads the query of GET /operator/transfers (all parameters)
// or /operator/dead-letters (cursor and limit only). Unknown parameters
// are refused: a misspelt filter would otherwise list everything.
func (op *Operator) parseList(q url.Values, filters bool) (listQuery, *apiError) {
	lq := listQuery{f: consolidate.Filter{Limit: op.api.opts.PageSize}}
	order, aged := "", false
	for name, vs := range q {
		if len(vs) != 1 {
			return lq, invalid("invalid_parameter", fmt.Sprintf("%s must be given once", truncate(name)))
		}
		v := vs[0]
		switch {
		case name == "limit":
			n, err := strconv.Atoi(v)
			if err != nil || !isDigits(v) || n < 1 || n > maxPageSize {
				return lq, invalid("invalid_parameter", fmt.Sprintf("limit must be an integer from 1 to %d", maxPageSize))
			}
			lq.f.Limit = n
		case name == "cursor":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || !isDigits(v) || n < 1 {
				return lq, invalid("invalid_parameter", "cursor must be a transfer id, a positive integer")
			}
			lq.f.Cursor = n
		case filters && name == "status":
			s := consolidate.Status(v)
			if s != consolidate.StatusPending && !s.Final() {
				return lq, invalid("invalid_parameter", "status must be PENDING, SUCCESSFUL or FAILED")
			}
			lq.f.Status = s
		case filters && name == "parked":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return lq, invalid("invalid_parameter", "parked must be true or false")
			}
			lq.f.Parked = b
		case filters && name == "order":
			if v != "newest" && v != "oldest" {
				return lq, invalid("invalid_parameter", "order must be newest or oldest")
			}
			order = v
		case filters && name == "min_age":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return lq, invalid("invalid_parameter", "min_age must be a duration such as 90s or 10m")
			}
			lq.minAge, aged = d, true
		default:
			return lq, invalid("invalid_parameter", fmt.Sprintf("unknown parameter %q", truncate(name)))
		}
	}
	switch {
	case lq.f.Parked && lq.f.Status != "" && lq.f.Status != consolidate.StatusPending:
		return lq, invalid("invalid_parameter", "parked transfers are PENDING")
	case aged && order == "newest":
		// Oldest first, the transfers old enough are a prefix of the
		// listing, so a page never has to skip the young ones.
		return lq, invalid("invalid_parameter", "min_age lists oldest first; leave out order or give order=oldest")
	}
	lq.f.Oldest = order == "oldest" || aged
	return lq, nil
}

// list serves a listing.
func (op *Operator) list(w http.ResponseWriter, r *http.Request, lq listQuery) {
	txs, err := op.svc.List(r.Context(), lq.f)
	if err != nil {
		writeError(w, op.api.serviceError(r, err, "transfer"))
		return
	}
	now := time.Now()
	page := transfersPage{Transfers: make([]transferView, 0, len(txs))}
	young := false
	for _, tx := range txs {
		if lq.minAge > 0 && now.Sub(tx.CreatedAt) < lq.minAge {
			young = true
			break
		}
		page.Transfers = append(page.Transfers, newTransferView(tx, now, assetOf(r.Context(), op.svc, tx.Token)))
	}
	if len(txs) == lq.f.Limit && !young {
		next := txs[len(txs)-1].ID
		page.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, page)
}

// transfers serves GET /operator/transfers?status=&parked=&order=&min_age=&cursor=&limit=.
func (op *Operator) transfers(w http.ResponseWriter, r *http.Request) {
	lq, e := op.parseList(r.URL.Query(), true)
	if e != nil {
		writeError(w, e)
		return
	}
	op.list(w, r, lq)
}

// deadLetters serves GET /operator/dead-letters?cursor=&limit=: the parked
// transfers, oldest first.
func (op *Operator) deadLetters(w http.ResponseWriter, r *http.Request) {
	lq, e := op.parseList(r.URL.Query(), false)
	if e != nil {
		writeError(w, e)
		return
	}
	lq.f.Parked, lq.f.Oldest = true, true
	op.list(w, r, lq)
}

// requeue serves POST /operator/transfers/{id}/requeue.
func (op *Operator) requeue(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, notFound("no such transfer"))
		return
	}
	if err := op.svc.Requeue(r.Context(), id); err != nil {
		writeError(w, op.actionError(r, err, id))
		return
	}
	op.answerTransfer(w, r, id, http.StatusOK)
}

// cancel serves POST /operator/transfers/{id}/cancel. The answer is 202:
// the cancellation is sent, and whichever of it and the transfer lands
// decides.
func (op *Operator) cancel(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, notFound("no such transfer"))
		return
	}
	if _, err := op.svc.Cancel(r.Context(), id); err != nil {
		writeError(w, op.actionError(r, err, id))
		return
	}
	op.answerTransfer(w, r, id, http.StatusAccepted)
}

func (op *Operator) answerTransfer(w http.ResponseWriter, r *http.Request, id int64, status int) {
	tx, err := op.svc.Get(r.Context(), id)
	if err != nil {
		writeError(w, op.actionError(r, err, id))
		return
	}
	writeJSON(w, status, newTransferView(tx, time.Now(), assetOf(r.Context(), op.svc, tx.Token)))
}

// actionError maps the errors of Requeue and Cancel.
func (op *Operator) actionError(r *http.Request, err error, id int64) *apiError {
	switch {
	case errors.Is(err, consolidate.ErrNotPending):
		return &apiError{status: http.StatusConflict, code: "not_pending", message: fmt.Sprintf("transfer %d is final already", id)}
	case errors.Is(err, consolidate.ErrOtherWallet):
		return &apiError{status: http.StatusConflict, code: "other_wallet", message: fmt.Sprintf("transfer %d was signed by another wallet; cancel it from a service of that wallet", id)}
	}
	return op.api.serviceError(r, err, fmt.Sprintf("transfer %d", id))
}

// walletView is a sending wallet.
type walletView struct {
	Address         string  `json:"address"`
	NextNonce       uint64  `json:"next_nonce"`
	Open            int64   `json:"open"`
	LowestOpenNonce *uint64 `json:"lowest_open_nonce"` // null when none is open
	// FinalizedNonce and Balance are the node's figures, for this
	// service's own wallet only.
	FinalizedNonce *uint64 `json:"finalized_nonce,omitempty"`
	Balance        *string `json:"balance_in_wei,omitempty"`
	// Tokens is what the wallet holds of each configured token, in its
	// smallest unit, by token address.
	Tokens map[string]string `json:"token_balances,omitempty"`
	// InRotation says whether new transfers may go to one of this
	// service's wallets; OutOfRotation why not ("signer", "underfunded",
	// "stuck"). Both are absent for other wallets.
	InRotation    *bool  `json:"in_rotation,omitempty"`
	OutOfRotation string `json:"out_of_rotation,omitempty"`
	// Rotation is the two in words, for the status page.
	Rotation string `json:"-"`
}

func newWalletView(w consolidate.WalletNonces) walletView {
	v := walletView{Address: w.Sender.Hex(), NextNonce: w.Next, Open: w.Open}
	if w.Open > 0 {
		n := w.LowestOpen
		v.LowestOpenNonce = &n
	}
	return v
}

// wallets serves GET /operator/wallets.
func (op *Operator) wallets(w http.ResponseWriter, r *http.Request) {
	ws, err := op.walletViews(r)
	if err != nil {
		writeError(w, op.api.serviceError(r, err, "wallet"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"wallets": ws})
}

func (op *Operator) walletViews(r *http.Request) ([]walletView, error) {
	ws, err := op.svc.Wallets(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]walletView, len(ws))
	for i, wl := range ws {
		out[i] = newWalletView(wl.WalletNonces)
		if wl.Own {
			fin, in := wl.Finalized, wl.InRotation
			out[i].FinalizedNonce, out[i].InRotation, out[i].OutOfRotation = &fin, &in, wl.OutOfRotation
			out[i].Rotation = "in rotation"
			if !in {
				out[i].Rotation = "out: " + wl.OutOfRotation
			}
		}
		if wl.Balance != nil {
			b := wl.Balance.String()
			out[i].Balance = &b
		}
		for token, bal := range wl.Tokens {
			if out[i].Tokens == nil {
				out[i].Tokens = make(map[string]string, len(wl.Tokens))
			}
			out[i].Tokens[token.Hex()] = bal.String()
		}
	}
	return out, nil
}

// overviewView is the open work and recent throughput.
type overviewView struct {
	Pending                 int64            `json:"pending"`
	Parked                  int64            `json:"parked"`
	OldestPendingAt         *time.Time       `json:"oldest_pending_at"`
	OldestPendingAgeSeconds int64            `json:"oldest_pending_age_seconds"`
	Wallets                 []walletView     `json:"wallets"`
	Queue                   *queueView       `json:"queue"` // null when the Queue cannot count
	Throughput              throughputReport `json:"throughput"`
}

type queueView struct {
	Ready    int `json:"ready"`
	Delayed  int `json:"delayed"`
	InFlight int `json:"in_flight"`
	Dead     int `json:"dead"`
}

// overview serves GET /operator/overview.
func (op *Operator) overview(w http.ResponseWriter, r *http.Request) {
	v, err := op.overviewOf(r)
	if err != nil {
		writeError(w, op.api.serviceError(r, err, "overview"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (op *Operator) overviewOf(r *http.Request) (overviewView, error) {
	o, err := op.svc.Overview(r.Context())
	if err != nil {
		return overviewView{}, err
	}
	now := time.Now()
	tp, err := op.throughput(r.Context(), now)
	if err != nil {
		return overviewView{}, err
	}
	v := overviewView{Pending: o.Pending, Parked: o.Parked, Wallets: make([]walletView, len(o.Wallets)), Throughput: tp}
	if !o.OldestPending.IsZero() {
		t := o.OldestPending.UTC()
		v.OldestPendingAt = &t
		v.OldestPendingAgeSeconds = int64(now.Sub(t) / time.Second)
	}
	for i, wl := range o.Wallets {
		v.Wallets[i] = newWalletView(wl)
	}
	if q := o.Queue; q != nil {
		v.Queue = &queueView{Ready: q.Ready, Delayed: q.Delayed, InFlight: q.InFlight, Dead: q.Dead}
	}
	return v, nil
}
