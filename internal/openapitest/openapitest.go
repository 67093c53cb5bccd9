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
//     of that status. An undeclared header is an error (but for those of
//     HTTP itself: Content-Type, Content-Length, Date, Connection,
//     Transfer-Encoding, Vary), and so is an undeclared body member, since
//     every object schema of the document has additionalProperties: false.
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
	"context"
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
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/propops/propsec/httpadapter"
)

// Validator checks exchanges against the document. It is safe for
// concurrent use.
type Validator struct {
	v validator.Validator
	// headers lists, per path, method and status, the response headers
	// the document declares (lowercase).
	headers  map[string]map[string]map[string]bool
	schemas  schema_validation.SchemaValidator
	errorSch *base.Schema
	// methods lists, per documented path, its documented methods and the
	// statuses each documents.
	methods map[string]map[string][]string
}

// Shared returns the process's Validator, built once (parsing the document
// is the expensive part: about 0.35 s, 1.3 s under the race detector). The
// build starts when the package is initialised, so that it overlaps with
// whatever the test does before its first request.
var Shared = sync.OnceValues(func() (*Validator, error) { return New(httpadapter.OpenAPI()) })

func init() { go Shared() }

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
	// Not the library's strict mode: every object schema of the document
	// has additionalProperties: false, which catches an undeclared member
	// already, and strict mode recompiled the variants of every anyOf on
	// each check (about 1.8 ms for a session list, ten times the rest).
	// Undeclared response headers are checked below instead.
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapitest: building the validator: %w", errors.Join(errs...))
	}
	val := &Validator{v: v, schemas: schema_validation.NewSchemaValidator(), methods: map[string]map[string][]string{},
		headers: map[string]map[string]map[string]bool{}}
	es := m.Model.Components.Schemas.GetOrZero("Error")
	if es == nil {
		return nil, errors.New("openapitest: the document has no Error schema")
	}
	val.errorSch = es.Schema()
	for path, item := range m.Model.Paths.PathItems.FromOldest() {
		ms := map[string][]string{}
		for method, op := range item.GetOperations().FromOldest() {
			var codes []string
			hs := map[string]bool{}
			for code, r := range op.Responses.Codes.FromOldest() {
				codes = append(codes, code)
				for name := range r.Headers.KeysFromOldest() {
					hs[code+" "+strings.ToLower(name)] = true
				}
			}
			ms[strings.ToUpper(method)] = codes
			if val.headers[path] == nil {
				val.headers[path] = map[string]map[string]bool{}
			}
			val.headers[path][strings.ToUpper(method)] = hs
		}
		val.methods[path] = ms
	}
	return val, nil
}

// ValidateDocument checks the document against the OpenAPI schema (New
// does not: it costs more than all the checks of a test run).
func (v *Validator) ValidateDocument() error {
	if ok, errs := v.v.ValidateDocument(); !ok {
		return joinErrs(errs)
	}
	return nil
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
	var errs []*liberrors.ValidationError
	if resp.StatusCode < 300 {
		_, errs = v.v.ValidateHttpRequestResponse(r, &rs)
	} else {
		_, errs = v.v.ValidateHttpResponse(r, &rs)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s %s → %d %s: %w", req.Method, path, resp.StatusCode, clip(respBody), joinErrs(errs))
	}
	declared := v.headers[path][req.Method]
	code := fmt.Sprint(resp.StatusCode)
	for name := range resp.Header {
		lower := strings.ToLower(name)
		if !transportHeaders[lower] && !declared[code+" "+lower] {
			return fmt.Errorf("%s %s → %d: header %s is not declared for this status", req.Method, path, resp.StatusCode, name)
		}
	}
	return nil
}

// transportHeaders are the response headers of HTTP itself, which the
// document does not declare.
var transportHeaders = map[string]bool{"content-type": true, "content-length": true, "date": true,
	"connection": true, "transfer-encoding": true, "vary": true}

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
// caller reads is unchanged. The checks run in the background, one at a
// time, while the test goes on (on another core); a cleanup of t waits for
// them, so each failure is still reported by the test that caused it.
func (v *Validator) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	tr := &transport{t: t, v: v, base: base}
	t.Cleanup(tr.pending.Wait)
	return tr
}

// checking lets one check run at a time, so that the checks take one
// core at most.
var checking = make(chan struct{}, 1)

type transport struct {
	t       testing.TB
	v       *Validator
	base    http.RoundTripper
	pending sync.WaitGroup
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
	// Copies, so that what the caller does with its own does not matter.
	creq := req.Clone(context.WithoutCancel(req.Context()))
	cresp := *resp
	cresp.Header = resp.Header.Clone()
	tr.pending.Go(func() {
		checking <- struct{}{}
		defer func() { <-checking }()
		if err := tr.v.Check(creq, reqBody, &cresp, respBody); err != nil {
			tr.t.Errorf("openapi: %v", err)
		}
	})
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
