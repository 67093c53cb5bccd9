package httpadapter_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/propops/propsec/httpadapter"
)

// TestOpenAPIServed: GET /api/security/openapi.json answers the embedded
// document verbatim without a credential (and whatever credential is
// sent), with a strong ETag; If-None-Match with it is a 304 without body;
// HEAD has the headers and no body; other methods are 405.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	doc := httpadapter.OpenAPI()
	var parsed map[string]any
	if err := json.Unmarshal(doc, &parsed); err != nil || parsed["openapi"] != "3.1.0" {
		t.Fatalf("the document is not OpenAPI 3.1 JSON: %v", err)
	}
	get := func(method string, hdr http.Header) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+httpadapter.OpenAPIPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	for _, hdr := range []http.Header{nil, {"Authorization": {"Bearer " + e.bearer(customerID)}}} {
		resp, body := get("GET", hdr)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, doc) {
			t.Fatalf("GET: %d, %d bytes; want 200 and the %d bytes of the document", resp.StatusCode, len(body), len(doc))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
	resp, _ := get("GET", nil)
	etag := resp.Header.Get("ETag")
	if len(etag) != 34 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
		resp, body := get("GET", http.Header{"If-None-Match": {inm}})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d with %d bytes, ETag %q; want 304, no body", inm, resp.StatusCode, len(body), resp.Header.Get("ETag"))
		}
	}
	if resp, _ := get("GET", http.Header{"If-None-Match": {`"stale"`}}); resp.StatusCode != http.StatusOK {
		t.Errorf("a stale If-None-Match: %d, want 200", resp.StatusCode)
	}
	resp, body := get("HEAD", nil)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Errorf("HEAD: %d with %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := get("POST", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}
