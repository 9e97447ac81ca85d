package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"time"
)

// The operator routes take two kinds of credentials. Programs send the
// token as a bearer header or connect with a verified client certificate;
// those routes ignore cookies, so no other site can make a browser call
// them. Browsers log in to the status page with the token once and get a
// session cookie (HttpOnly, SameSite=Strict) signed with a key derived from
// the token; its forms carry a CSRF token bound to that session, and every
// unsafe request is also checked for a cross-origin Origin or
// Sec-Fetch-Site.

// sessionCookie names the status page's login cookie.
const sessionCookie = "consolidate_operator"

// realm is the WWW-Authenticate challenge of a request without credentials.
const realm = `Bearer realm="consolidate-operator"`

// sessionKeys signs sessions and CSRF tokens.
type sessionKeys struct {
	token [sha256.Size]byte // SHA-256 of the token, compared in constant time
	has   bool              // a token is configured
	key   []byte            // HMAC key
}

// newSessionKeys derives the signing key from the token, so that every
// process serving the page with one token accepts the others' sessions,
// and changing the token ends them all. Without a token (client
// certificates only) the key is random, per process.
func newSessionKeys(token string) sessionKeys {
	k := sessionKeys{has: token != "", token: sha256.Sum256([]byte(token))}
	if k.has {
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("consolidate operator session v1"))
		k.key = m.Sum(nil)
	} else {
		k.key = make([]byte, 32)
		rand.Read(k.key)
	}
	return k
}

// tokenOK compares a presented token with the configured one in constant
// time; hashing first hides the length as well.
func (k sessionKeys) tokenOK(given string) bool {
	h := sha256.Sum256([]byte(given))
	return k.has && subtle.ConstantTimeCompare(h[:], k.token[:]) == 1
}

func (k sessionKeys) mac(purpose string, data []byte) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(data)
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// newSession returns a cookie value: an expiry and a random ID, signed.
func (k sessionKeys) newSession(expires time.Time) string {
	payload := make([]byte, 24)
	binary.BigEndian.PutUint64(payload, uint64(expires.Unix()))
	rand.Read(payload[8:])
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(k.mac("session", payload))
}

// session verifies a cookie value and returns its payload, which CSRF
// tokens are bound to.
func (k sessionKeys) session(value string, now time.Time) ([]byte, bool) {
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, false
	}
	payload, err1 := b64.DecodeString(p)
	mac, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) != 24 || !hmac.Equal(mac, k.mac("session", payload)) {
		return nil, false
	}
	if now.Unix() >= int64(binary.BigEndian.Uint64(payload)) {
		return nil, false
	}
	return payload, true
}

// csrf is the form token of a session (or of a client certificate).
func (k sessionKeys) csrf(binding []byte) string {
	return b64.EncodeToString(k.mac("csrf", binding))
}

func (k sessionKeys) csrfOK(binding []byte, given string) bool {
	mac, err := b64.DecodeString(given)
	return err == nil && hmac.Equal(mac, k.mac("csrf", binding))
}

// credentials is what a request presented.
type credentials int

const (
	credMissing credentials = iota
	credWrong
	credOK
)

// apiCredentials checks a JSON route's request: a bearer token, else a
// verified client certificate.
func (op *Operator) apiCredentials(r *http.Request) credentials {
	if h := r.Header.Values("Authorization"); len(h) > 0 {
		scheme, token, _ := strings.Cut(h[0], " ")
		if len(h) == 1 && strings.EqualFold(scheme, "Bearer") && op.sessions.tokenOK(strings.TrimSpace(token)) {
			return credOK
		}
		return credWrong
	}
	return op.certCredentials(r)
}

// certCredentials checks a verified client certificate, if ClientCert
// makes them credentials.
func (op *Operator) certCredentials(r *http.Request) credentials {
	if op.opts.ClientCert == nil || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return credMissing
	}
	if op.opts.ClientCert(r.TLS.VerifiedChains[0][0]) {
		return credOK
	}
	return credWrong
}

var (
	errUnauthorized = &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "operator credentials are required: Authorization: Bearer <token>, or a client certificate"}
	errForbidden    = &apiError{status: http.StatusForbidden, code: "forbidden", message: "these credentials are not an operator's"}
	errCrossOrigin  = &apiError{status: http.StatusForbidden, code: "cross_origin", message: "cross-origin requests are refused"}
)

// requireAPI serves f to requests with operator credentials: 401 without
// any, 403 with wrong ones. Unsafe methods from another origin are refused
// too: a browser sends a client certificate to any site's form.
func (op *Operator) requireAPI(f http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch op.apiCredentials(r) {
		case credMissing:
			w.Header().Set("WWW-Authenticate", realm)
			writeError(w, errUnauthorized)
		case credWrong:
			w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token"`)
			writeError(w, errForbidden)
		default:
			if op.origin.Check(r) != nil {
				writeError(w, errCrossOrigin)
				return
			}
			f(w, r)
		}
	})
}

// pageHandler serves a status page route; binding is what the CSRF token
// of its forms is bound to.
type pageHandler func(w http.ResponseWriter, r *http.Request, binding []byte)

// requirePage serves f to a logged-in browser (or one with an accepted
// client certificate). Others are sent to the login form (GET) or refused
// (POST).
func (op *Operator) requirePage(f pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var binding []byte
		if c, err := r.Cookie(sessionCookie); err == nil {
			binding, _ = op.sessions.session(c.Value, time.Now())
		}
		if binding == nil && op.certCredentials(r) == credOK {
			h := sha256.Sum256(r.TLS.VerifiedChains[0][0].Raw)
			binding = h[:]
		}
		if binding == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, operatorPrefix+"login", http.StatusSeeOther)
				return
			}
			writeError(w, errUnauthorized)
			return
		}
		f(w, r, binding)
	}
}
