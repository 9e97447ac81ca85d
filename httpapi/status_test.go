package httpapi_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/go-consolidate/consolidate"
)

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t *testing.T
	s *server
	c *http.Client
}

func newBrowser(t *testing.T, s *server) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// send sends a request with a form body (none if form is nil) and the
// headers given in pairs; it returns the status, Location and body.
func (b *browser) send(method, path string, form url.Values, header ...string) (int, string, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(raw)
}

func (b *browser) login(token string) int {
	b.t.Helper()
	status, _, _ := b.send("POST", "/operator/login", url.Values{"token": {token}}, "Sec-Fetch-Site", "same-origin")
	return status
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// page loads the status page and returns its CSRF token.
func (b *browser) page() (string, string) {
	b.t.Helper()
	status, _, body := b.send("GET", "/operator/", nil)
	if status != 200 {
		b.t.Fatalf("status page: %d %s", status, body)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		return "", body
	}
	return m[1], body
}

// The status page needs a login; its buttons need the session's CSRF
// token and a same-origin request, and change nothing otherwise.
func TestStatusPageLoginAndCSRF(t *testing.T) {
	t.Parallel()
	s, bc := parkingServer(t, nil)
	s.work()
	acct := s.account(ether)
	id := s.park(bc, acct)
	requeue := "/operator/ui/transfers/" + itoa(id) + "/requeue"
	before, err := s.svc.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, s)
	if status, loc, _ := b.send("GET", "/operator/", nil); status != 303 || loc != "/operator/login" {
		t.Fatalf("page without a login: %d to %q, want 303 to the login form", status, loc)
	}
	if status, _, body := b.send("GET", "/operator/login", nil); status != 200 || !strings.Contains(body, `name="token"`) {
		t.Fatalf("login form: %d %s", status, body)
	}
	if status, _, _ := b.send("POST", requeue, url.Values{"csrf": {"x"}}); status != 401 {
		t.Fatalf("button without a login: %d, want 401", status)
	}
	if status := b.login("not-the-operator-token"); status != 403 {
		t.Fatalf("login with a wrong token: %d, want 403", status)
	}
	if status, _, _ := b.send("POST", "/operator/login", url.Values{"token": {testToken}}, "Sec-Fetch-Site", "cross-site"); status != 403 {
		t.Fatalf("cross-site login: %d, want 403", status)
	}
	if status, _, _ := b.send("GET", "/operator/", nil); status != 303 {
		t.Fatalf("page after refused logins: %d, want 303", status)
	}

	status, _, _ := b.send("POST", "/operator/login", url.Values{"token": {testToken}})
	if status != 303 {
		t.Fatalf("login: %d, want 303", status)
	}
	u, _ := url.Parse(s.url + "/operator/")
	cookies := b.c.Jar.Cookies(u)
	if len(cookies) != 1 {
		t.Fatalf("cookies after login: %v", cookies)
	}
	csrf, body := b.page()
	if csrf == "" || !strings.Contains(body, `id="parked-`+itoa(id)+`"`) {
		t.Fatalf("status page lacks the dead letter or its CSRF token: %s", body)
	}

	// A session cookie is no credential for the JSON API.
	if status, _, _ := b.send("GET", "/operator/overview", nil); status != 401 {
		t.Fatalf("JSON API with the cookie only: %d, want 401", status)
	}
	other := newBrowser(t, s)
	if other.login(testToken) != 303 {
		t.Fatal("second login failed")
	}
	otherCSRF, _ := other.page()
	for name, c := range map[string]struct {
		form   url.Values
		header []string
	}{
		"no token":               {url.Values{}, nil},
		"empty token":            {url.Values{"csrf": {""}}, nil},
		"wrong token":            {url.Values{"csrf": {"AAAA" + csrf[4:]}}, nil},
		"another session's":      {url.Values{"csrf": {otherCSRF}}, nil},
		"cross-site":             {url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
		"another origin":         {url.Values{"csrf": {csrf}}, []string{"Origin", "https://evil.example"}},
		"in the query, not form": {nil, nil},
	} {
		path := requeue
		if c.form == nil {
			path += "?csrf=" + url.QueryEscape(csrf)
		}
		if status, _, body := b.send("POST", path, c.form, c.header...); status != 403 {
			t.Errorf("%s: %d %s, want 403", name, status, body)
		}
	}
	after, err := s.svc.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || !s.parked(id) {
		t.Fatalf("a refused request changed the transfer: version %d → %d, parked %v", before.Version, after.Version, s.parked(id))
	}

	// A tampered cookie is no login.
	c := cookies[0]
	i := len(c.Value) - 5
	flip := byte('A')
	if c.Value[i] == 'A' {
		flip = 'B'
	}
	c.Value = c.Value[:i] + string(flip) + c.Value[i+1:]
	forged := newBrowser(t, s)
	forged.c.Jar.SetCookies(u, []*http.Cookie{c})
	if status, _, _ := forged.send("GET", "/operator/", nil); status != 303 {
		t.Fatalf("forged cookie: %d, want 303", status)
	}

	bc.blind.Store(false)
	status, loc, _ := b.send("POST", requeue, url.Values{"csrf": {csrf}}, "Sec-Fetch-Site", "same-origin", "Origin", s.url)
	if status != 303 || !strings.Contains(loc, "done=requeue") {
		t.Fatalf("requeue button: %d to %q", status, loc)
	}
	s.waitStatus(id, consolidate.StatusSuccessful)
	_, body = b.page()
	if strings.Contains(body, `id="parked-`+itoa(id)+`"`) || !strings.Contains(body, "s-SUCCESSFUL") {
		t.Fatalf("page after requeue: %s", body)
	}

	if status, loc, _ := b.send("POST", "/operator/logout", nil); status != 303 || loc != "/operator/login" {
		t.Fatalf("logout: %d to %q", status, loc)
	}
	if status, _, _ := b.send("GET", "/operator/", nil); status != 303 {
		t.Fatalf("page after logout: %d, want 303", status)
	}
}
