package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-consolidate/consolidate"
)

// Options configures a Handler. The zero value (or nil) means defaults.
type Options struct {
	// Operator, if set, is mounted with the user routes: the routes that
	// create accounts and credit deposits (POST /accounts and
	// POST /accounts/{id}/deposits), the operator API and the status page
	// under /operator/, all behind the Operator's credentials. Defaults
	// to nil: none of them is mounted, and nothing the Handler serves
	// moves money into an account.
	Operator *Operator
	// MaxBodyBytes caps a request body; a larger one is answered 413.
	// Defaults to 64 KiB.
	MaxBodyBytes int64
	// PageSize is how many transactions GET /accounts/{id}/transactions
	// returns when the request has no limit. Defaults to 50.
	PageSize int
	// Logger receives the errors answered 500, which the client only sees
	// as "internal". Defaults to slog.Default().
	Logger *slog.Logger
}

// DefaultMaxBodyBytes is the body limit when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// maxPageSize is the most transactions one page may hold: the Service's
// own bound.
const maxPageSize = 1000

// Handler serves the HTTP API over one Service. It is safe for concurrent
// use.
type Handler struct {
	svc  *consolidate.Service
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler over svc. opts may be nil.
func New(svc *consolidate.Service, opts *Options) (*Handler, error) {
	if svc == nil {
		return nil, errors.New("consolidate: httpapi: nil Service")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBodyBytes < 0 || o.PageSize < 0 || o.PageSize > maxPageSize {
		return nil, errors.New("consolidate: httpapi: MaxBodyBytes must not be negative and PageSize must be 0 to 1000")
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.PageSize == 0 {
		o.PageSize = 50
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Handler{svc: svc, opts: o, log: o.Logger, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /transactions", h.submit)
	h.mux.HandleFunc("GET /transactions/{id}", h.transaction)
	h.mux.HandleFunc("GET /accounts/{id}", h.account)
	h.mux.HandleFunc("GET /accounts/{id}/transactions", h.transactions)
	if op := o.Operator; op != nil {
		h.mux.Handle("POST /accounts", op)
		h.mux.Handle("POST /accounts/{id}/deposits", op)
		h.mux.Handle(operatorPrefix, op)
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveMux(h.mux, h.log, w, r)
}

// serveMux serves r on mux with the API's answers to what mux cannot
// route, and to a panic.
func serveMux(mux *http.ServeMux, log *slog.Logger, w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must not take the connection down without an answer in
		// the API's format; net/http would recover, but answer nothing.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.ErrorContext(r.Context(), "consolidate: httpapi: panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeError(w, errInternal)
		}
	}()
	if _, pattern := mux.Handler(r); pattern == "" {
		// The mux's own answers (404, 405, redirects) are plain text;
		// clients of a JSON API should get JSON errors.
		mux.ServeHTTP(&muxErrorWriter{ResponseWriter: w}, r)
		return
	}
	mux.ServeHTTP(w, r)
}

// muxErrorWriter turns the mux's plain-text 404 and 405 into the API's JSON
// errors and passes everything else (such as redirects) through.
type muxErrorWriter struct {
	http.ResponseWriter
	swallow bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		m.swallow = true
		writeError(m.ResponseWriter, &apiError{status: code, code: "not_found", message: "no such route"})
	case http.StatusMethodNotAllowed:
		m.swallow = true
		// The mux has set Allow already.
		writeError(m.ResponseWriter, &apiError{status: code, code: "method_not_allowed", message: "method not allowed on this route"})
	default:
		m.ResponseWriter.WriteHeader(code)
	}
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.swallow {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}
