package openapitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDocumentValid: httpadapter's document is valid OpenAPI 3.1.
func TestDocumentValid(t *testing.T) {
	v, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateDocument(); err != nil {
		t.Fatal(err)
	}
}

// TestCheck: the Validator refuses each kind of drift the adapter's tests
// rely on it to catch, and accepts the refusals of invalid requests.
func TestCheck(t *testing.T) {
	v, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	const okToken = `{"success":true,"data":{"token":"` +
		"017300000000666c16f8e985da4f9874db3f2b8f2e059f691b47b0182296504e5da6d862956ff2e54769" + `"},"message":"CSRF token issued"}`
	const tooMany = `{"success":false,"message":"Too many attempts; try again later","error":"too_many_attempts"}`
	jsonHdr := func(extra ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "X-Content-Type-Options": {"nosniff"}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	bearer := "Bearer " + strings.Repeat("a", 64)
	tests := []struct {
		name             string
		method, target   string
		reqHdr           http.Header
		reqBody          string
		status           int
		respHdr          http.Header
		respBody, wantIn string // wantIn: a part of the error; "" means no error
	}{
		{"documented answer", "GET", "/api/security/csrf-token", http.Header{"Authorization": {bearer}}, "",
			200, jsonHdr(), okToken, ""},
		{"undocumented field", "GET", "/api/security/csrf-token", http.Header{"Authorization": {bearer}}, "",
			200, jsonHdr(), strings.Replace(okToken, `"message"`, `"extra":1,"message"`, 1), "extra"},
		{"wrong type", "GET", "/api/security/csrf-token", http.Header{"Authorization": {bearer}}, "",
			200, jsonHdr(), `{"success":"yes","data":{"token":"x"},"message":"m"}`, "success"},
		{"undocumented status", "GET", "/api/security/csrf-token", http.Header{"Authorization": {bearer}}, "",
			418, jsonHdr(), `{"success":false,"message":"teapot","error":"internal_error"}`, "418"},
		{"undocumented header", "GET", "/api/security/csrf-token", http.Header{"Authorization": {bearer}}, "",
			200, jsonHdr("X-Debug", "1"), okToken, "X-Debug"},
		{"429 without Retry-After", "POST", "/api/security/mobile-auth", nil, `{"email":"a","password":"b"}`,
			429, jsonHdr(), tooMany, "Retry-After"},
		{"429 with Retry-After", "POST", "/api/security/mobile-auth", nil, `{"email":"a","password":"b"}`,
			429, jsonHdr("Retry-After", "60"), tooMany, ""},
		{"a refused invalid request is fine", "POST", "/api/security/mobile-auth", nil, `{"email":"a","extra":1}`,
			400, jsonHdr(), `{"success":false,"message":"\"extra\": unknown field","error":"invalid_request"}`, ""},
		{"an accepted invalid request is not", "POST", "/api/security/mobile-auth", nil, `{"email":"a","extra":1}`,
			200, jsonHdr(), `{"success":true,"data":{"token":"` + strings.Repeat("b", 64) + `"},"message":"m"}`, "extra"},
		{"unknown path answered 404", "GET", "/api/security/nope", nil, "",
			404, jsonHdr(), `{"success":false,"message":"Not found","error":"not_found"}`, ""},
		{"unknown path answered 200", "GET", "/api/security/nope", nil, "",
			200, jsonHdr(), `{"success":true}`, "want 404"},
		{"405 without Allow", "PUT", "/api/security/csrf-token", nil, "",
			405, jsonHdr(), `{"success":false,"message":"Method not allowed","error":"method_not_allowed"}`, "Allow"},
		{"405 with Allow", "PUT", "/api/security/csrf-token", nil, "",
			405, jsonHdr("Allow", "GET, HEAD"), `{"success":false,"message":"Method not allowed","error":"method_not_allowed"}`, ""},
		{"host route", "GET", "/host/page", nil, "", 200, http.Header{}, "<p>hi</p>", ""},
		{"HEAD with a body", "HEAD", "/api/security/csrf-token", nil, "", 200, jsonHdr(), okToken, "body"},
		{"HEAD", "HEAD", "/api/security/csrf-token", nil, "", 401, jsonHdr(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://example.test"+tt.target, strings.NewReader(tt.reqBody))
			for k, vs := range tt.reqHdr {
				req.Header[k] = vs
			}
			if tt.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp := &http.Response{StatusCode: tt.status, Header: tt.respHdr, Request: req}
			err := v.Check(req, []byte(tt.reqBody), resp, []byte(tt.respBody))
			switch {
			case tt.wantIn == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantIn != "" && err == nil:
				t.Fatalf("no error, want one naming %q", tt.wantIn)
			case tt.wantIn != "" && !strings.Contains(err.Error(), tt.wantIn):
				t.Fatalf("error %v does not name %q", err, tt.wantIn)
			}
		})
	}
}
