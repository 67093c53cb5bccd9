// Package openapitest holds HTTP exchanges to httpadapter's OpenAPI
// document (httpadapter.OpenAPI) in tests: every request and response a
// test sends through [Validator.Transport] is checked against it, and a
// mismatch (an undocumented path, status, header, field or type) fails the
// test that produced it.
//
// # Rules
//
//   - The response is always checked: its status must be documented for the
//     operation, and its headers and body must match what the document says
//     of that status (strictly: an undeclared header or body member is an
//     error; the usual transport headers such as Date, Content-Length and
//     Vary are ignored).
//   - The request is checked only when the response is a success (2xx). Tests send invalid requests on purpose to see them refused; a
//     refused request is expected to break the document, and what is
//     checked then is that the refusal is documented.
//   - A path under /api/security/ or /api/admin/ that the document does not
//     list must be answered 404 not_found with the Error envelope, and a
//     listed path with an unlisted method 405 method_not_allowed with an
//     Allow header, or 404 not_found when the server does not serve that
//     optional endpoint (the document's info.description states these
//     rules).
//   - HEAD is checked as the GET of the same path: its status must be one
//     the GET documents, and it must have no body.
//   - Other paths (the host's own routes) are not the adapter's and are
//     not checked.
//
// It is a test helper: only tests import it, so its validator library
// (pb33f/libopenapi-validator) never reaches a binary built from the
// module's packages.
package openapitest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/propops/propsec/httpadapter"
)

// Validator checks exchanges against the document. It is safe for
// concurrent use.
type Validator struct {
	v validator.Validator
	// lax checks the document's own answer, an object of free-form
	// members that strict mode would refuse; New checks the document
	// itself against the OpenAPI 3.1 schema.
	lax      validator.Validator
	schemas  schema_validation.SchemaValidator
	errorSch *base.Schema
	// methods lists, per documented path, its documented methods and the
	// statuses each documents.
	methods map[string]map[string][]string
}

var (
	once    sync.Once
	shared  *Validator
	initErr error
)

// Shared returns the process's Validator, built once (parsing the document
// is the expensive part).
func Shared() (*Validator, error) {
	once.Do(func() { shared, initErr = New(httpadapter.OpenAPI()) })
	return shared, initErr
}

// New builds a Validator for the OpenAPI 3.1 document doc.
func New(doc []byte) (*Validator, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: parsing the document: %w", err)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("openapitest: building the model: %w", err)
	}
	v, errs := validator.NewValidator(d, config.WithStrictMode(),
		// Headers browsers and scripts add that the adapter reads only
		// for its origin checks or not at all.
		config.WithStrictIgnoredHeadersExtra("sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest",
			"x-requested-with", "x-content-type-options"),
		// The session cookie is the cookieAuth security scheme, which
		// strict mode does not count as a declared cookie.
		config.WithStrictIgnorePaths("$.cookies.__Host-propsec_session", "$.cookies.propsec_session"))
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapitest: building the validator: %w", errors.Join(errs...))
	}
	lax, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapitest: building the validator: %w", errors.Join(errs...))
	}
	val := &Validator{v: v, lax: lax, schemas: schema_validation.NewSchemaValidator(), methods: map[string]map[string][]string{}}
	if ok, errs := val.v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("openapitest: the document is not valid OpenAPI: %w", joinErrs(errs))
	}
	es := m.Model.Components.Schemas.GetOrZero("Error")
	if es == nil {
		return nil, errors.New("openapitest: the document has no Error schema")
	}
	val.errorSch = es.Schema()
	for path, item := range m.Model.Paths.PathItems.FromOldest() {
		ms := map[string][]string{}
		for method, op := range item.GetOperations().FromOldest() {
			var codes []string
			for code := range op.Responses.Codes.KeysFromOldest() {
				codes = append(codes, code)
			}
			ms[strings.ToUpper(method)] = codes
		}
		val.methods[path] = ms
	}
	return val, nil
}

// Check checks one exchange: req was sent with reqBody and answered with
// resp, whose body is respBody. It returns nil when the exchange matches
// the document under the package's rules.
func (v *Validator) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	path := req.URL.Path
	methods, documented := v.methods[path]
	if !documented {
		if !adapterPath(path) {
			return nil // a host route
		}
		if resp.StatusCode != http.StatusNotFound {
			return fmt.Errorf("%s %s: an undocumented path answered %d, want 404", req.Method, path, resp.StatusCode)
		}
		return v.checkError(req, resp, respBody, "not_found")
	}
	if req.Method == http.MethodHead {
		codes, ok := methods[http.MethodGet]
		switch {
		case !ok || path == "/logout":
			return v.checkNotAllowed(req, resp, respBody)
		case len(respBody) > 0:
			return fmt.Errorf("HEAD %s: answered a body", path)
		case !slices.Contains(codes, fmt.Sprint(resp.StatusCode)):
			return fmt.Errorf("HEAD %s: status %d is not documented for GET (%v)", path, resp.StatusCode, codes)
		}
		return nil
	}
	if _, ok := methods[req.Method]; !ok {
		return v.checkNotAllowed(req, resp, respBody)
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	rs := *resp
	rs.Body = io.NopCloser(bytes.NewReader(respBody))
	val := v.v
	if path == httpadapter.OpenAPIPath {
		val = v.lax
	}
	var errs []*liberrors.ValidationError
	if resp.StatusCode < 300 {
		_, errs = val.ValidateHttpRequestResponse(r, &rs)
	} else {
		_, errs = val.ValidateHttpResponse(r, &rs)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s %s → %d %s: %w", req.Method, path, resp.StatusCode, clip(respBody), joinErrs(errs))
	}
	return nil
}

// checkNotAllowed checks the 405 of a documented path's undocumented
// method.
func (v *Validator) checkNotAllowed(req *http.Request, resp *http.Response, body []byte) error {
	if resp.StatusCode == http.StatusNotFound { // an optional endpoint the server does not serve
		return v.checkError(req, resp, body, "not_found")
	}
	if resp.StatusCode != http.StatusMethodNotAllowed {
		return fmt.Errorf("%s %s: an undocumented method answered %d, want 405 (or 404)", req.Method, req.URL.Path, resp.StatusCode)
	}
	if resp.Header.Get("Allow") == "" {
		return fmt.Errorf("%s %s: a 405 without Allow", req.Method, req.URL.Path)
	}
	return v.checkError(req, resp, body, "method_not_allowed")
}

// checkError checks an answer the document describes only in its prose:
// the Error envelope with code, as JSON (no body for HEAD).
func (v *Validator) checkError(req *http.Request, resp *http.Response, body []byte, code string) error {
	if req.Method == http.MethodHead {
		if len(body) > 0 {
			return fmt.Errorf("HEAD %s: answered a body", req.URL.Path)
		}
		return nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("%s %s: Content-Type %q, want application/json", req.Method, req.URL.Path, ct)
	}
	if ok, errs := v.schemas.ValidateSchemaBytes(v.errorSch, body); !ok {
		return fmt.Errorf("%s %s → %d %s: not the Error envelope: %w", req.Method, req.URL.Path, resp.StatusCode,
			clip(body), joinErrs(errs))
	}
	if !bytes.Contains(body, []byte(`"error":"`+code+`"`)) {
		return fmt.Errorf("%s %s → %d %s: want error %q", req.Method, req.URL.Path, resp.StatusCode, clip(body), code)
	}
	return nil
}

// adapterPath reports whether path is under the prefixes the adapter
// answers for entirely.
func adapterPath(path string) bool {
	for _, p := range []string{"/api/security", "/api/admin"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// Transport returns a RoundTripper that sends through base (nil:
// http.DefaultTransport) and fails t (t.Errorf) for every exchange that
// does not match the document. It buffers both bodies; the response the
// caller reads is unchanged.
func (v *Validator) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, v: v, base: base}
}

type transport struct {
	t    testing.TB
	v    *Validator
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err := tr.v.Check(req, reqBody, resp, respBody); err != nil {
		tr.t.Errorf("openapi: %v", err)
	}
	return resp, nil
}

// joinErrs joins the validator's errors with what each says in detail.
func joinErrs(errs []*liberrors.ValidationError) error {
	var out []error
	for _, e := range errs {
		msg := e.Message
		if e.Reason != "" {
			msg += ": " + e.Reason
		}
		for _, s := range e.SchemaValidationErrors {
			msg += fmt.Sprintf(" [%s at %s]", s.Reason, s.FieldPath)
		}
		out = append(out, errors.New(msg))
	}
	return errors.Join(out...)
}

// clip shortens a body for a failure message.
func clip(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
