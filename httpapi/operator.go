package httpapi

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-consolidate/consolidate"
)

// OperatorOptions configures an Operator. At least one credential, Token or
// ClientCert, is required.
type OperatorOptions struct {
	// Token is the bearer token operators present, as
	// "Authorization: Bearer <token>" on the JSON routes and in the
	// status page's login form. At least 16 bytes; use a long random one
	// (openssl rand -hex 32). Empty: no token is accepted, and the status
	// page is served only to verified client certificates.
	Token string
	// ClientCert, if set, accepts a request made over TLS with a client
	// certificate the server verified (r.TLS.VerifiedChains: configure
	// the http.Server's tls.Config with ClientCAs and a ClientAuth that
	// verifies) for which it returns true. A request with a verified
	// certificate it refuses is answered 403. Defaults to nil: client
	// certificates are not credentials.
	ClientCert func(leaf *x509.Certificate) bool
	// SessionTTL is how long a status page login lasts. Defaults to 8
	// hours.
	SessionTTL time.Duration
	// MaxBodyBytes caps a request body. Defaults to 64 KiB.
	MaxBodyBytes int64
	// PageSize is the default limit of the listings. Defaults to 50.
	PageSize int
	// Logger receives the errors answered 500 and refused logins.
	// Defaults to slog.Default().
	Logger *slog.Logger
}

// minTokenBytes is the shortest token NewOperator accepts.
const minTokenBytes = 16

// operatorPrefix is where the operator routes and the status page live.
const operatorPrefix = "/operator/"

// Operator serves the operator API and the status page over one Service:
// listings of transfers and dead letters, requeue, cancel, wallets, queue
// statistics, and the routes that create accounts and credit deposits.
// Every route requires credentials (see OperatorOptions and "Operator
// API" in the package docs). It is an http.Handler of its own, for a
// listener only operators reach; Options.Operator mounts it in a Handler
// instead. It is safe for concurrent use.
type Operator struct {
	svc      *consolidate.Service
	opts     OperatorOptions
	api      *Handler // the body decoding and error mapping of the user API
	log      *slog.Logger
	mux      *http.ServeMux
	sessions sessionKeys
	origin   *http.CrossOriginProtection
}

var _ http.Handler = (*Operator)(nil)

// NewOperator returns an Operator over svc. opts must set Token or
// ClientCert.
func NewOperator(svc *consolidate.Service, opts *OperatorOptions) (*Operator, error) {
	if svc == nil {
		return nil, errors.New("consolidate: httpapi: nil Service")
	}
	if opts == nil {
		return nil, errors.New("consolidate: httpapi: an Operator needs OperatorOptions with a Token or ClientCert")
	}
	o := *opts
	switch {
	case o.Token == "" && o.ClientCert == nil:
		return nil, errors.New("consolidate: httpapi: an Operator needs a Token or ClientCert")
	case o.Token != "" && len(o.Token) < minTokenBytes:
		return nil, errors.New("consolidate: httpapi: the operator Token must be at least 16 bytes")
	case o.SessionTTL < 0:
		return nil, errors.New("consolidate: httpapi: SessionTTL must not be negative")
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	api, err := New(svc, &Options{MaxBodyBytes: o.MaxBodyBytes, PageSize: o.PageSize, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	op := &Operator{
		svc: svc, opts: o, api: api, log: o.Logger, mux: http.NewServeMux(),
		sessions: newSessionKeys(o.Token),
		origin:   http.NewCrossOriginProtection(),
	}
	op.routes()
	return op, nil
}

// routes registers every route, each wrapped in the check of its
// credentials: bearer token or client certificate for the JSON API, the
// login cookie (and a CSRF token for forms) for the status page.
func (op *Operator) routes() {
	api := func(pattern string, f http.HandlerFunc) { op.mux.Handle(pattern, op.requireAPI(f)) }
	api("POST /accounts", op.api.createAccount)
	api("POST /accounts/{id}/deposits", op.api.deposit)
	api("GET /operator/transfers", op.transfers)
	api("GET /operator/dead-letters", op.deadLetters)
	api("POST /operator/transfers/{id}/requeue", op.requeue)
	api("POST /operator/transfers/{id}/cancel", op.cancel)
	api("GET /operator/wallets", op.wallets)
	api("GET /operator/overview", op.overview)

	op.mux.HandleFunc("GET /operator/{$}", op.requirePage(op.statusPage))
	op.mux.HandleFunc("POST /operator/ui/transfers/{id}/{action}", op.requirePage(op.pageAction))
	op.mux.HandleFunc("GET /operator/login", op.loginPage)
	op.mux.HandleFunc("POST /operator/login", op.login)
	op.mux.HandleFunc("POST /operator/logout", op.logout)
}

// ServeHTTP implements http.Handler.
func (op *Operator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveMux(op.mux, op.log, w, r)
}
