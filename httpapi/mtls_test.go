package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate/httpapi"
)

// issuer is a test certificate authority.
type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newIssuer(t *testing.T) issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return issuer{cert: cert, key: key}
}

// client issues a client certificate for name.
func (ca issuer) client(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A verified client certificate is a credential when ClientCert accepts
// it; an unverified one never is.
func TestOperatorClientCertificates(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	ca, stranger := newIssuer(t), newIssuer(t)
	op, err := httpapi.NewOperator(s.svc, &httpapi.OperatorOptions{
		ClientCert: func(c *x509.Certificate) bool { return c.Subject.CommonName == "ops" },
		Logger:     quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(op)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	ts.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	ts.StartTLS()
	t.Cleanup(ts.Close)

	client := func(certs ...tls.Certificate) *http.Client {
		c := ts.Client()
		tr := c.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = certs
		return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(c *http.Client, method, path string, header ...string) int {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			// An untrusted certificate fails the handshake.
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ops, other := client(ca.client(t, "ops")), client(ca.client(t, "intern"))
	for path, want := range map[string]int{"/operator/overview": 200, "/operator/wallets": 200, "/operator/": 200} {
		if got := get(ops, "GET", path); got != want {
			t.Errorf("ops GET %s: %d, want %d", path, got, want)
		}
	}
	if got := get(other, "GET", "/operator/overview"); got != 403 {
		t.Errorf("a refused certificate: %d, want 403", got)
	}
	if got := get(client(), "GET", "/operator/overview"); got != 401 {
		t.Errorf("no certificate: %d, want 401", got)
	}
	if got := get(client(stranger.client(t, "ops")), "GET", "/operator/overview"); got == 200 {
		t.Error("a certificate of another authority was accepted")
	}
	if got := get(ops, "GET", "/operator/overview", "Authorization", "Bearer "+testToken); got != 403 {
		t.Errorf("a token where none is configured: %d, want 403", got)
	}
	// A browser sends its certificate along with another site's form.
	if got := get(ops, "POST", "/operator/transfers/1/requeue", "Sec-Fetch-Site", "cross-site"); got != 403 {
		t.Errorf("cross-site POST with a certificate: %d, want 403", got)
	}
	if got := get(ops, "POST", "/operator/ui/transfers/1/requeue", "Origin", "https://evil.example"); got != 403 {
		t.Errorf("cross-origin form with a certificate: %d, want 403", got)
	}
}
