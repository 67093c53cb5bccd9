package httpadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/breach/hibp"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// fakeHIBP serves the range API from a fixed table, padded like the real
// one, and counts its calls. down makes it answer 500.
type fakeHIBP struct {
	srv   *httptest.Server
	calls atomic.Int32
	down  atomic.Bool
}

// "password" hashes to 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8.
const pwPrefix, pwSuffix = "5BAA6", "1E4C9B93F3F0682250B6CF8331B7EE68FD8"

func newFakeHIBP(t *testing.T) *fakeHIBP {
	f := &fakeHIBP{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if f.down.Load() {
			http.Error(w, "upstream broken", http.StatusInternalServerError)
			return
		}
		if r.Header.Get("Add-Padding") != "true" {
			t.Errorf("Add-Padding = %q", r.Header.Get("Add-Padding"))
		}
		switch strings.TrimPrefix(r.URL.Path, "/range/") {
		case pwPrefix:
			w.Write([]byte("003D68EB55068C33ACE09247EE4C639306B:3\r\n" + pwSuffix + ":9659365\r\nFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:0\r\n"))
		default:
			w.Write([]byte("0000000000000000000000000000000000A:0\r\n"))
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func breachEnv(t *testing.T) (*env, *fakeHIBP) {
	f := newFakeHIBP(t)
	var mem security.EventRecorder
	e := newEnv(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		client, err := hibp.New(hibp.Config{BaseURL: f.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		h.Breach, err = breach.New(breach.Config{Source: client, Events: recorderFunc(func(ctx context.Context, evs ...security.Event) error {
			return mem.RecordEvents(ctx, evs...)
		})})
		if err != nil {
			t.Fatal(err)
		}
	})
	mem = e.mem
	return e, f
}

type recorderFunc func(ctx context.Context, evs ...security.Event) error

func (f recorderFunc) RecordEvents(ctx context.Context, evs ...security.Event) error {
	return f(ctx, evs...)
}

func TestBreachCheck(t *testing.T) {
	e, f := breachEnv(t)
	tok := e.bearer(victimID) // any authenticated user, staff or not

	r := e.do(request{method: "GET", path: "/api/security/password-breach-check?hash_prefix=5baa6", bearer: tok})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	data := r.body["data"].(map[string]any)
	if data["breached"] != true || data["count"] != float64(2) {
		t.Fatalf("prefix answer: %s", r.raw)
	}
	suffixes := data["suffixes"].([]any)
	if len(suffixes) != 2 || !strings.Contains(r.raw, `"suffix":"`+pwSuffix+`","count":9659365`) {
		t.Fatalf("suffixes (padding must be dropped): %s", r.raw)
	}

	r = e.do(request{method: "GET", path: "/api/security/password-breach-check?hash_prefix=5BAA6&hash_suffix=" + strings.ToLower(pwSuffix), bearer: tok})
	if r.status != 200 || !strings.Contains(r.raw, `"breached":true,"count":9659365`) || strings.Contains(r.raw, "suffixes") {
		t.Fatalf("exact answer: %d %s", r.status, r.raw)
	}
	r = e.do(request{method: "GET", path: "/api/security/password-breach-check?hash_prefix=5BAA6&hash_suffix=" + strings.Repeat("0", 35), bearer: tok})
	if r.status != 200 || !strings.Contains(r.raw, `"breached":false,"count":0`) {
		t.Fatalf("clean hash: %d %s", r.status, r.raw)
	}
	r = e.do(request{method: "GET", path: "/api/security/password-breach-check?hash_prefix=00000", bearer: tok})
	if r.status != 200 || !strings.Contains(r.raw, `"breached":false,"count":0,"suffixes":[]`) {
		t.Fatalf("empty range: %d %s", r.status, r.raw)
	}
	if s, ok := r.body["data"].(map[string]any)["suffixes"].([]any); !ok || len(s) != 0 {
		t.Fatalf("empty range: suffixes must be []: %s", r.raw)
	}

	evs, _ := e.mem.Events(context.Background())
	var found int
	for _, ev := range evs {
		if ev.Type == breach.EventBreachDetected {
			found++
			if ev.ActorUserID != victimID || ev.ActorSessionID == "" {
				t.Errorf("event names no actor: %+v", ev)
			}
			for _, v := range append([]string{ev.Subject}, mapValues(ev.Details)...) {
				if strings.Contains(strings.ToUpper(v), pwSuffix[:10]) {
					t.Errorf("event leaks the hash: %+v", ev)
				}
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d breach events, want 1 (only the exact match)", found)
	}
	if f.calls.Load() != 4 {
		t.Fatalf("%d upstream calls, want 4 (one per request: no cache in front here)", f.calls.Load())
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestBreachCheckRefusals(t *testing.T) {
	e, f := breachEnv(t)
	tok := e.bearer(victimID)
	bad := map[string]string{
		"no prefix":       "",
		"short prefix":    "?hash_prefix=5BAA",
		"long prefix":     "?hash_prefix=5BAA61",
		"non-hex prefix":  "?hash_prefix=5BAAG",
		"repeated prefix": "?hash_prefix=5BAA6&hash_prefix=5BAA6",
		"short suffix":    "?hash_prefix=5BAA6&hash_suffix=" + pwSuffix[:34],
		"non-hex suffix":  "?hash_prefix=5BAA6&hash_suffix=" + strings.Repeat("Z", 35),
		"unknown param":   "?hash_prefix=5BAA6&password=hunter2",
		"bad escape":      "?hash_prefix=%zz",
	}
	for name, q := range bad {
		t.Run(name, func(t *testing.T) {
			r := e.do(request{method: "GET", path: "/api/security/password-breach-check" + q, bearer: tok})
			if r.status != 400 || r.body["error"] != httpadapter.CodeInvalidRequest {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
		})
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("bad input made %d upstream calls", n)
	}
	if r := e.do(request{method: "GET", path: "/api/security/password-breach-check?hash_prefix=5BAA6"}); r.status != 401 {
		t.Fatalf("unauthenticated: %d", r.status)
	}
	if r := e.do(request{method: "POST", path: "/api/security/password-breach-check?hash_prefix=5BAA6", bearer: tok, body: "{}"}); r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d %q", r.status, r.header.Get("Allow"))
	}

	f.down.Store(true)
	for _, q := range []string{"?hash_prefix=5BAA6", "?hash_prefix=5BAA6&hash_suffix=" + pwSuffix} {
		r := e.do(request{method: "GET", path: "/api/security/password-breach-check" + q, bearer: tok})
		if r.status != 503 || r.body["error"] != httpadapter.CodeBreachSourceUnavailable || strings.Contains(r.raw, "breached") {
			t.Fatalf("source down must be 503, never an answer: %d %s", r.status, r.raw)
		}
		if strings.Contains(r.raw, "upstream broken") || strings.Contains(r.raw, f.srv.URL) {
			t.Fatalf("internals leaked: %s", r.raw)
		}
	}
}

func TestBreachCheckAbsentWithoutChecker(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: "GET", path: "/api/security/password-breach-check?hash_prefix=5BAA6", bearer: e.bearer(victimID)})
	if r.status != 404 {
		t.Fatalf("status %d", r.status)
	}
}

func TestLoginFlagsBreachedPassword(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
		s.BreachCheck = func(_ context.Context, pw string) (bool, error) { return pw == password(victimID), nil }
	})
	r := e.do(request{method: "POST", path: "/api/security/mobile-auth",
		body: `{"email":"` + email(victimID) + `","password":"` + password(victimID) + `"}`})
	if r.status != 200 || r.body["data"].(map[string]any)["password_breached"] != true {
		t.Fatalf("breached password not flagged: %d %s", r.status, r.raw)
	}
	e.addSecret(r.body["data"].(map[string]any)["token"].(string))
	r = e.do(request{method: "POST", path: "/api/security/mobile-auth",
		body: `{"email":"` + email(adminID) + `","password":"` + password(adminID) + `"}`})
	if r.status != 200 || strings.Contains(r.raw, "password_breached") {
		t.Fatalf("clean password flagged: %d %s", r.status, r.raw)
	}
	e.addSecret(r.body["data"].(map[string]any)["token"].(string))
	r = e.do(request{method: "POST", path: "/login",
		body: `{"email":"` + email(victimID) + `","password":"` + password(victimID) + `"}`})
	if r.status != 200 || r.body["data"].(map[string]any)["password_breached"] != true {
		t.Fatalf("web login: %d %s", r.status, r.raw)
	}
}
