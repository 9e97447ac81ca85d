package httpapi

import (
	"net/http"
	"strings"
)

// keyHeader is the request header that makes a POST safe to retry.
const keyHeader = "Idempotency-Key"

// headerReferencePrefix puts the deposit references made from the header in
// a namespace of their own: a body reference may not start with it, so a
// retry key never meets a reference an operator chose.
const headerReferencePrefix = "idempotency-key:"

// headerKey returns the Idempotency-Key header, "" when it is absent. Sent
// empty or more than once, it is refused: neither names one request.
func headerKey(r *http.Request) (string, *apiError) {
	vs := r.Header.Values(keyHeader)
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", invalid("invalid_reference", keyHeader+" must be sent once")
	case vs[0] == "":
		return "", invalid("invalid_reference", keyHeader+" must not be empty")
	}
	return vs[0], nil
}

// requestKey merges the header with the key a body field gave (field names
// it): either may be absent, but when both are sent they must agree.
func requestKey(r *http.Request, field, body string) (string, *apiError) {
	header, e := headerKey(r)
	if e != nil {
		return "", e
	}
	if header != "" && body != "" && header != body {
		return "", invalid("idempotency_conflict", "the "+keyHeader+" header and "+field+" differ")
	}
	if body != "" {
		return body, nil
	}
	return header, nil
}

// depositReference is the reference a deposit is credited under: the body's
// reference, or else one made from the Idempotency-Key header.
func depositReference(r *http.Request, body string) (string, *apiError) {
	if strings.HasPrefix(body, headerReferencePrefix) {
		return "", invalid("invalid_reference", "a reference may not start with "+headerReferencePrefix+", which is kept for "+keyHeader)
	}
	ref, e := requestKey(r, "reference", body)
	if e != nil || ref == "" || ref == body {
		return ref, e
	}
	return headerReferencePrefix + ref, nil
}
