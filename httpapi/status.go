package httpapi

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// The status page is rendered on the server from embedded templates: no
// script, no external asset, nothing to build.

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"age":         age,
	"until":       until,
	"ether":       ether,
	"amount":      amount,
	"etherString": etherString,
	"short":       short,
}).ParseFS(templateFiles, "templates/*.html"))

// pageRows is how many rows each table of the status page shows.
const pageRows = 50

// statusData is what the status page shows.
type statusData struct {
	Now        time.Time
	CSRF       string
	Flash      string
	OldestAge  string
	FlashError bool
	Overview   overviewView
	Wallets    []walletView
	Pending    []consolidate.Transaction
	Parked     []consolidate.Transaction
	ParkedIDs  map[int64]bool
	Recent     []consolidate.Transaction
	// Assets names the asset of every transfer listed, by token (the
	// zero address for ether).
	Assets map[common.Address]assetView
	Chart  chart
}

// statusPage serves GET /operator/.
func (op *Operator) statusPage(w http.ResponseWriter, r *http.Request, binding []byte) {
	d := statusData{Now: time.Now(), CSRF: op.sessions.csrf(binding)}
	d.Flash, d.FlashError = flash(r)
	var err error
	if d.Overview, err = op.overviewOf(r); err == nil {
		d.Wallets, err = op.walletViews(r)
	}
	if err == nil {
		d.Pending, err = op.svc.List(r.Context(), consolidate.Filter{Status: consolidate.StatusPending, Oldest: true, Limit: pageRows})
	}
	if err == nil {
		d.Parked, err = op.svc.List(r.Context(), consolidate.Filter{Parked: true, Oldest: true, Limit: pageRows})
	}
	if err == nil {
		d.Recent, err = op.svc.List(r.Context(), consolidate.Filter{Limit: 20})
	}
	if err != nil {
		writeError(w, op.api.serviceError(r, err, "status"))
		return
	}
	d.Assets = map[common.Address]assetView{}
	for _, txs := range [][]consolidate.Transaction{d.Pending, d.Parked, d.Recent} {
		for _, tx := range txs {
			if _, ok := d.Assets[tx.Token]; !ok {
				d.Assets[tx.Token] = assetOf(r.Context(), op.svc, tx.Token)
			}
		}
	}
	d.Chart = newChart(d.Overview.Throughput)
	d.ParkedIDs = make(map[int64]bool, len(d.Parked))
	for _, tx := range d.Parked {
		d.ParkedIDs[tx.ID] = true
	}
	d.OldestAge = "–"
	if t := d.Overview.OldestPendingAt; t != nil {
		d.OldestAge = age(d.Now, *t)
	}
	op.render(w, http.StatusOK, "status.html", d)
}

// pageAction serves the status page's buttons: POST
// /operator/ui/transfers/{id}/requeue and …/cancel, with the form's CSRF
// token. It answers with a redirect back to the page.
func (op *Operator) pageAction(w http.ResponseWriter, r *http.Request, binding []byte) {
	if !op.sameOriginForm(w, r) {
		return
	}
	if !op.sessions.csrfOK(binding, r.PostForm.Get("csrf")) {
		writeError(w, &apiError{status: http.StatusForbidden, code: "csrf", message: "the form's CSRF token is missing or wrong; reload the page"})
		return
	}
	id, ok := pathID(r)
	if !ok {
		writeError(w, notFound("no such transfer"))
		return
	}
	action := r.PathValue("action")
	var err error
	switch action {
	case "requeue":
		err = op.svc.Requeue(r.Context(), id)
	case "cancel":
		_, err = op.svc.Cancel(r.Context(), id)
	default:
		writeError(w, notFound("no such action"))
		return
	}
	q := "done=" + action
	if err != nil {
		q = "failed=" + op.actionError(r, err, id).code
	}
	http.Redirect(w, r, operatorPrefix+"?"+q+"&id="+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// flash is the message of a redirect from pageAction. Only fixed texts
// are shown, never words from the query.
func flash(r *http.Request) (string, bool) {
	q := r.URL.Query()
	id, err := strconv.ParseInt(q.Get("id"), 10, 64)
	if err != nil || id < 1 {
		return "", false
	}
	switch q.Get("done") {
	case "requeue":
		return fmt.Sprintf("Transfer %d requeued: it is checked again now, with a fresh budget.", id), false
	case "cancel":
		return fmt.Sprintf("Cancellation of transfer %d sent: whichever of the two lands decides.", id), false
	}
	why := map[string]string{
		"not_pending":  "it is final already",
		"other_wallet": "another wallet signed it",
		"not_found":    "it does not exist",
		"unavailable":  "a backend is unavailable; try again",
	}[q.Get("failed")]
	if why == "" {
		why = "an internal error, logged"
	}
	return fmt.Sprintf("Transfer %d was not changed: %s.", id, why), true
}

// loginData is what the login form shows.
type loginData struct {
	Token bool // a token is configured; else only certificates log in
	Error string
}

// loginPage serves GET /operator/login.
func (op *Operator) loginPage(w http.ResponseWriter, r *http.Request) {
	op.render(w, http.StatusOK, "login.html", loginData{Token: op.sessions.has})
}

// login serves POST /operator/login: a correct token gets a session
// cookie and a redirect to the page.
func (op *Operator) login(w http.ResponseWriter, r *http.Request) {
	// Refused cross-origin too: another site must not log a browser in
	// to a session of its choosing.
	if !op.sameOriginForm(w, r) {
		return
	}
	if !op.sessions.tokenOK(r.PostForm.Get("token")) {
		op.log.WarnContext(r.Context(), "consolidate: httpapi: operator login refused", "remote", r.RemoteAddr)
		op.render(w, http.StatusForbidden, "login.html", loginData{Token: op.sessions.has, Error: "That is not the operator token."})
		return
	}
	expires := time.Now().Add(op.opts.SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: op.sessions.newSession(expires), Path: operatorPrefix,
		Expires: expires, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, operatorPrefix, http.StatusSeeOther)
}

// logout serves POST /operator/logout.
func (op *Operator) logout(w http.ResponseWriter, r *http.Request) {
	if op.origin.Check(r) != nil {
		writeError(w, errCrossOrigin)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: operatorPrefix, MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, operatorPrefix+"login", http.StatusSeeOther)
}

// render writes a page with headers that keep it out of frames (its
// buttons must not be clickjacked), caches and other origins' reach.
func (op *Operator) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		op.log.Error("consolidate: httpapi: status page", "err", err)
		writeError(w, errInternal)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// chart is the throughput bar chart, laid out for inline SVG.
type chart struct {
	Width, Height int
	Max           int
	Bars          []bar
	LowerBound    bool
	Total         int
	AxisY, NowX   int
}

type bar struct {
	X, Y, W, H int
	FailedY    int // the failed part, drawn at the bottom of the bar
	FailedH    int
	Label      string
}

func newChart(tp throughputReport) chart {
	const width, height, gap = 600, 120, 4
	c := chart{Width: width, Height: height, LowerBound: tp.LowerBound, Max: 1, AxisY: height - 3, NowX: width - 30}
	for _, m := range tp.Minutes {
		c.Max = max(c.Max, m.total())
		c.Total += m.total()
	}
	n := max(len(tp.Minutes), 1)
	w := width / n
	for i, m := range tp.Minutes {
		h := m.total() * (height - 16) / c.Max
		fh := m.Failed * (height - 16) / c.Max
		c.Bars = append(c.Bars, bar{
			X: i*w + gap/2, Y: height - 16 - h, W: w - gap, H: h,
			FailedY: height - 16 - fh, FailedH: fh,
			Label: fmt.Sprintf("%s: %d successful, %d failed", m.Start.Format("15:04"), m.Successful, m.Failed),
		})
	}
	return c
}

// age formats how long ago t was, to the second.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return now.Sub(t).Truncate(time.Second).String()
}

// until formats how long until t, to the second.
func until(now, t time.Time) string {
	return max(t.Sub(now), 0).Truncate(time.Second).String()
}

// etherString is ether for a decimal string of wei.
func etherString(wei string) string {
	v, ok := new(big.Int).SetString(wei, 10)
	if !ok {
		return wei + " wei"
	}
	return ether(v)
}

// ether formats wei as ether with up to 6 decimals, for reading; an
// amount too small to show so is given in wei.
func ether(wei *big.Int) string {
	if wei == nil {
		return "–"
	}
	if wei.Sign() > 0 && wei.Cmp(big.NewInt(1e12)) < 0 {
		return wei.String() + " wei"
	}
	s := new(big.Rat).SetFrac(wei, big.NewInt(1e18)).FloatString(6)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " ETH"
}

// amount formats an amount of asset for reading: ether as ether does, a
// token in whole tokens with all its decimals, and a token whose symbol
// is unknown in its smallest unit.
func amount(asset assetView, v *big.Int) string {
	switch {
	case v == nil:
		return "–"
	case asset.Token == nil:
		return ether(v)
	case asset.Symbol == "":
		return v.String() + " units of " + shortHex(*asset.Token)
	}
	s := v.String()
	if asset.Decimals > 0 {
		s = new(big.Rat).SetFrac(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(asset.Decimals)), nil)).FloatString(int(asset.Decimals))
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + " " + asset.Symbol
}

// short shortens a hex address or hash for a table cell.
func short(s fmt.Stringer) string { return shortHex(s.String()) }

func shortHex(v string) string {
	if len(v) <= 14 {
		return v
	}
	return v[:8] + "…" + v[len(v)-4:]
}

// sameOriginForm reads a form posted from the page's own origin; it
// answers the request itself and reports false otherwise.
func (op *Operator) sameOriginForm(w http.ResponseWriter, r *http.Request) bool {
	if op.origin.Check(r) != nil {
		writeError(w, errCrossOrigin)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		writeError(w, malformed("the form cannot be read"))
		return false
	}
	return true
}
