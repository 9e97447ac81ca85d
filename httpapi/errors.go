package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-consolidate/consolidate"
)

// apiError is an error answer: an HTTP status and the body
// {"error": {"code": code, "message": message}}.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// lockedMessage is what a client is told when another submit for the
// account is under way: the sentinel's own words.
var lockedMessage = strings.TrimPrefix(consolidate.ErrAccountLocked.Error(), "consolidate: ")

var errInternal = &apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error"}

func invalid(code, message string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: code, message: message}
}

func malformed(message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "malformed_json", message: message}
}

func notFound(message string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "not_found", message: message}
}

// serviceError maps an error of the Service to its answer. what names the
// resource a not-found error is about ("account 7"). Messages are fixed per
// code rather than the error's text, which may carry store internals.
func (h *Handler) serviceError(r *http.Request, err error, what string) *apiError {
	switch {
	case errors.Is(err, consolidate.ErrNotFound):
		return notFound(what + " does not exist")
	case errors.Is(err, consolidate.ErrAccountLocked):
		return &apiError{status: http.StatusConflict, code: "account_locked", message: lockedMessage}
	case errors.Is(err, consolidate.ErrInsufficientFunds):
		return invalid("insufficient_funds", "the available balance does not cover the amount plus the fee")
	case errors.Is(err, consolidate.ErrIdempotencyConflict):
		return invalid("idempotency_conflict", "this key was used before with a different request")
	case errors.Is(err, consolidate.ErrInvalidAddress):
		return invalid("invalid_address", "the recipient address is not valid")
	case errors.Is(err, consolidate.ErrSelfTransfer):
		return invalid("self_transfer", "the recipient is the sending wallet itself")
	case errors.Is(err, consolidate.ErrInvalidAmount):
		return invalid("invalid_amount", "the amount must be positive and at most 2^256-1 wei (for a transfer, with the fee)")
	case errors.Is(err, consolidate.ErrInvalidReference):
		return invalid("invalid_reference", "keys and references are 1 to 255 printable ASCII characters without spaces")
	case errors.Is(err, consolidate.ErrUnknownToken):
		return invalid("unknown_token", "the token is not one this service is configured with")
	case errors.Is(err, consolidate.ErrWouldRevert):
		return invalid("would_revert", "the chain says this transfer would fail: the token may be paused, or refuse this recipient")
	case errors.Is(err, consolidate.ErrWrongAsset):
		return invalid("wrong_asset", "the account holds another asset")
	case errors.Is(err, consolidate.ErrWalletUnderfunded):
		h.log.WarnContext(r.Context(), "consolidate: httpapi: wallets underfunded", "method", r.Method, "path", r.URL.Path, "err", err)
		return &apiError{status: http.StatusServiceUnavailable, code: "wallet_underfunded", message: "the service's wallets cannot send this amount now, try again later"}
	case errors.Is(err, consolidate.ErrInvalidArgument):
		return invalid("invalid_parameter", "a parameter is out of range")
	case errors.Is(err, consolidate.ErrLockUnavailable),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		h.log.WarnContext(r.Context(), "consolidate: httpapi: unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		return &apiError{status: http.StatusServiceUnavailable, code: "unavailable", message: "temporarily unavailable, try again later"}
	}
	h.log.ErrorContext(r.Context(), "consolidate: httpapi: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	return errInternal
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	var b errorBody
	b.Error.Code, b.Error.Message = e.code, e.message
	if e.status == http.StatusServiceUnavailable || e.status == http.StatusConflict {
		// Both clear up on their own: another submit finishing, a
		// backend coming back.
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only the package's own types are written, all of which
		// marshal; keep the answer well-formed regardless.
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
