package openapitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/propops/propsec/httpadapter"
)

// BenchmarkCheck measures one checked exchange: a POST with a body and
// its refusal, and a 200 of the session list.
func BenchmarkCheck(b *testing.B) {
	v, err := Shared()
	if err != nil {
		b.Fatal(err)
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "X-Content-Type-Options": {"nosniff"}}
	listBody := []byte(`{"success":true,"data":[{"session_id":"sess_e2vck47mkpqxaqn27gcu","user_id":5,"user_name":"Vic Victim","ip_address":"203.0.113.10","user_agent":"test-agent","location":"","last_active":"2024-06-14T10:00:00Z","is_current":false,"created_at":"2024-06-14T10:00:00Z","kind":"mobile"}],"message":"Sessions retrieved","count":1,"page":1}`)
	b.Run("list 200", func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequest("GET", "http://x/api/security/sessions?action=list", nil)
			req.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 64))
			if err := v.Check(req, nil, &http.Response{StatusCode: 200, Header: hdr, Request: req}, listBody); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("post 400", func(b *testing.B) {
		body := `{"action":"terminate","session_id":"x"}`
		for b.Loop() {
			req := httptest.NewRequest("POST", "http://x/api/security/sessions", strings.NewReader(body))
			if err := v.Check(req, []byte(body), &http.Response{StatusCode: 400, Header: hdr, Request: req},
				[]byte(`{"success":false,"message":"session_id: bad","error":"invalid_request"}`)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("New", func(b *testing.B) {
		doc := httpadapter.OpenAPI()
		for b.Loop() {
			if _, err := New(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
