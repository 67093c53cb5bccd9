package httpadapter

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/session"
)

// TestOpenAPIListsEveryRoute holds the document and the routes to each
// other: every path and method a fully configured Handler serves is in
// openapi.json, and the document lists nothing else (HEAD, served for
// every GET but /logout, is stated in its description instead).
func TestOpenAPIListsEveryRoute(t *testing.T) {
	mem := memstore.New()
	mgr, err := session.New(session.Config{Store: mem, Users: mem})
	if err != nil {
		t.Fatal(err)
	}
	if !mgr.CanChangePasswords() {
		t.Fatal("memstore should let the manager change passwords")
	}
	// routes only asks whether the optional services are set.
	h := &Handler{sessions: mgr, integrity: &integrity.Monitor{}, breach: &breach.Checker{}, report: &report.Generator{}}
	served := map[string][]string{}
	for path, methods := range h.routes() {
		served[path] = slices.Sorted(maps.Keys(methods))
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string][]string{}
	for path, item := range doc.Paths {
		for k := range item {
			switch k {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				documented[path] = append(documented[path], strings.ToUpper(k))
			}
		}
		slices.Sort(documented[path])
	}
	for _, path := range slices.Sorted(maps.Keys(served)) {
		if !slices.Equal(served[path], documented[path]) {
			t.Errorf("%s: served %v, documented %v", path, served[path], documented[path])
		}
	}
	for _, path := range slices.Sorted(maps.Keys(documented)) {
		if _, ok := served[path]; !ok {
			t.Errorf("%s: documented %v, not served", path, documented[path])
		}
	}
	if len(served) < 15 {
		t.Errorf("only %d routes served; the optional ones are missing", len(served))
	}
	if _, ok := served[OpenAPIPath]; !ok || !slices.Equal(served[OpenAPIPath], []string{http.MethodGet}) {
		t.Errorf("%s is not served as GET", OpenAPIPath)
	}
}

// TestOpenAPIErrorCodes: the document's ErrorCode enum is exactly the
// codes the adapter can answer.
func TestOpenAPIErrorCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				ErrorCode struct {
					Enum []string `json:"enum"`
				} `json:"ErrorCode"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	codes := []string{CodeInvalidRequest, CodeUnauthenticated, CodeInvalidCredentials, CodeForbidden, CodeCSRFInvalid,
		CodeCrossOrigin, CodeAccountBlacklisted, CodeNotFound, CodeMethodNotAllowed, CodeConflict, CodeBodyTooLarge,
		CodeUnsupportedMediaType, CodeTooManyAttempts, CodeInternal, CodeUnavailable, CodeBreachSourceUnavailable,
		CodeVerificationFailed, CodeSecondFactorRequired}
	got := slices.Sorted(slices.Values(doc.Components.Schemas.ErrorCode.Enum))
	want := slices.Sorted(slices.Values(codes))
	if !slices.Equal(got, want) {
		t.Errorf("ErrorCode enum %v, want %v", got, want)
	}
}
