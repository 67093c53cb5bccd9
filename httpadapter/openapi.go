package httpadapter

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// openAPIDocument is the OpenAPI 3.1 description of every endpoint, the one
// source of truth for clients, gateways and the tests that hold the
// adapter to it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is the strong validator of the document: a hash of its bytes.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// OpenAPIPath is where the adapter serves [OpenAPI], without
// authentication.
const OpenAPIPath = "/api/security/openapi.json"

// OpenAPI returns the OpenAPI 3.1 document (JSON) that describes every
// endpoint the adapter can serve, as served at [OpenAPIPath]. The caller
// owns the returned slice.
func OpenAPI() []byte {
	return append([]byte(nil), openAPIDocument...)
}

// openAPIRoutes lists GET /api/security/openapi.json.
func (h *Handler) openAPIRoutes() map[string]map[string]endpoint {
	return map[string]map[string]endpoint{
		OpenAPIPath: {http.MethodGet: {prepare: h.serveOpenAPI}},
	}
}

// serveOpenAPI answers the document verbatim with its ETag and
// Cache-Control: no-cache (keep it, but revalidate), or 304 when the
// request's If-None-Match names the ETag.
func (h *Handler) serveOpenAPI(c *call) (func() (reply, error), error) {
	return func() (reply, error) {
		return reply{write: func(w http.ResponseWriter) {
			hdr := w.Header()
			hdr.Set("ETag", openAPIETag)
			hdr.Set("Cache-Control", "no-cache")
			if etagMatches(c.r.Header.Values("If-None-Match"), openAPIETag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			hdr.Set("Content-Type", "application/json")
			hdr.Set("X-Content-Type-Options", "nosniff")
			hdr.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
			w.WriteHeader(http.StatusOK)
			w.Write(openAPIDocument)
		}}, nil
	}, nil
}

// etagMatches reports whether the If-None-Match values name etag or "*"
// (weak comparison, RFC 9110 section 13.1.2).
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
			if part == etag || part == "*" {
				return true
			}
		}
	}
	return false
}
