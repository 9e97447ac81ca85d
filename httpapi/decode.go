package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"mime"
	"net/http"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-consolidate/consolidate"
)

// object is a request body: a flat JSON object whose values are scalars,
// kept as the decoder read them: string, json.Number, bool, nil, or nested
// for an array or object.
type object map[string]any

// nested stands for an array or object value, which no field accepts.
type nested struct{}

// decodeObject reads r's body as one JSON object with only the given
// fields, each at most once. Numbers keep their literal text, so an amount
// is never rounded through a float.
//
// Syntax errors, anything but an object, trailing data, duplicate and
// unknown fields are 400; a body above the limit is 413; a Content-Type
// other than application/json is 415 (which also keeps plain HTML forms
// from other sites out).
func (h *Handler) decodeObject(w http.ResponseWriter, r *http.Request, fields ...string) (object, *apiError) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", message: "the body must be JSON, sent with Content-Type: application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	dec.UseNumber()
	obj, err := readObject(dec, fields)
	if err != nil {
		return nil, h.bodyError(err)
	}
	return obj, nil
}

// fieldError is a well-formed body the route does not take.
type fieldError struct{ msg string }

func (e *fieldError) Error() string { return e.msg }

func readObject(dec *json.Decoder, fields []string) (object, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("the body must be a JSON object")
	}
	obj := make(object, len(fields))
	var unknown error
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, midway(err)
		}
		name, _ := tok.(string) // object keys are always strings
		if _, dup := obj[name]; dup {
			// Parsers disagree on which copy wins; refuse to guess.
			return nil, fmt.Errorf("field %q appears twice", truncate(name))
		}
		v, err := readValue(dec)
		if err != nil {
			return nil, midway(err)
		}
		if !contains(fields, name) && unknown == nil {
			// Reported after the whole body parsed, so a syntax error
			// further on is not hidden behind it.
			unknown = &fieldError{fmt.Sprintf("unknown field %q", truncate(name))}
		}
		obj[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, midway(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON object")
		}
		return nil, err
	}
	if unknown != nil {
		return nil, unknown
	}
	return obj, nil
}

// midway reports the end of the body inside the object as what it is: an
// io.EOF there is not an empty body.
func midway(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readValue reads one value; an array or object is consumed whole and
// returned as nested.
func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if d != '{' && d != '[' {
		return nil, errors.New("unexpected " + d.String())
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nested{}, nil
}

func (h *Handler) bodyError(err error) *apiError {
	var tooBig *http.MaxBytesError
	var field *fieldError
	switch {
	case errors.As(err, &tooBig):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "body_too_large", message: fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit)}
	case errors.As(err, &field):
		return &apiError{status: http.StatusBadRequest, code: "unknown_field", message: field.msg}
	case errors.Is(err, io.EOF):
		return malformed("the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("the body ends in the middle of the JSON")
	}
	return malformed("the body is not a valid JSON object: " + err.Error())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// truncate keeps client-chosen text in messages short.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// amount reads a wei amount: a decimal string, or a JSON number written as
// a plain non-negative integer (no fraction, exponent or sign), so that no
// client can lose precision through a float without being told. It must be
// positive unless zeroOK, and at most 2^256-1. A missing or null field
// is nil, with required reporting it.
func (o object) amount(name string, required, zeroOK bool) (*big.Int, *apiError) {
	var s string
	switch v := o[name].(type) {
	case nil:
		if required {
			return nil, invalid("invalid_field", fmt.Sprintf("%s is required", name))
		}
		return nil, nil
	case string:
		s = v
	case json.Number:
		s = string(v)
		if !isDigits(s) {
			return nil, invalid("invalid_amount", fmt.Sprintf("%s: a JSON number must be a plain integer without fraction, exponent or sign; send large or exact amounts as a decimal string", name))
		}
	default:
		return nil, invalid("invalid_amount", fmt.Sprintf("%s must be a decimal string of wei", name))
	}
	if zeroOK && s != "" && isZeros(s) {
		return new(big.Int), nil
	}
	v, err := consolidate.ParseAmount(s)
	if err != nil {
		return nil, invalid("invalid_amount", fmt.Sprintf("%s must be a positive integer amount of wei in decimal digits, at most 2^256-1", name))
	}
	return v, nil
}

// str reads a string field; a missing or null one is "".
func (o object) str(name string) (string, *apiError) {
	switch v := o[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", invalid("invalid_field", fmt.Sprintf("%s must be a string", name))
}

// address reads a required recipient address.
func (o object) address(name string) (common.Address, *apiError) {
	s, e := o.str(name)
	if e != nil {
		return common.Address{}, e
	}
	if s == "" {
		return common.Address{}, invalid("invalid_field", fmt.Sprintf("%s is required", name))
	}
	a, err := consolidate.ParseAddress(s)
	if err != nil {
		return common.Address{}, invalid("invalid_address", fmt.Sprintf("%s must be a 0x-prefixed 20-byte hex address, not the zero address, with a valid EIP-55 checksum if mixed-case", name))
	}
	return a, nil
}

// id reads a required integer ID written as a JSON number.
func (o object) id(name string) (int64, *apiError) {
	n, ok := o[name].(json.Number)
	if !ok {
		if o[name] == nil {
			return 0, invalid("invalid_field", fmt.Sprintf("%s is required", name))
		}
		return 0, invalid("invalid_field", fmt.Sprintf("%s must be an integer", name))
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, invalid("invalid_field", fmt.Sprintf("%s must be an integer from 1 to %d", name, int64(math.MaxInt64)))
	}
	return v, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isZeros(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// pathID reads the {id} path segment. Anything but a positive decimal
// int64 names nothing that can exist, so it is a 404 like a missing row.
func pathID(r *http.Request) (int64, bool) {
	s := r.PathValue("id")
	if !isDigits(s) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}
