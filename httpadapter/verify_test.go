package httpadapter_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// codeMailer keeps the codes it was asked to send, and fails while down.
type codeMailer struct {
	mu    sync.Mutex
	codes []string
	down  bool
}

func (m *codeMailer) NewIPLogin(context.Context, session.NewIPNotice) error { return nil }

func (m *codeMailer) LoginCode(_ context.Context, c session.LoginCodeNotice) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errors.New("dial tcp 127.0.0.1:25: connection refused")
	}
	m.codes = append(m.codes, c.Code)
	return nil
}

func (m *codeMailer) last(t *testing.T) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.codes) == 0 {
		t.Fatal("no code was mailed")
	}
	return m.codes[len(m.codes)-1]
}

var testFactorKey = bytes.Repeat([]byte{9}, session.FactorKeySize)

// verifyEnv is an env whose new-IP policy is verify: a user's first login
// is made directly (from 203.0.113.10), so every HTTP login (from
// 127.0.0.1) is from a new address and needs an e-mailed code.
func verifyEnv(t *testing.T, opts ...envOption) (*env, *codeMailer) {
	m := &codeMailer{}
	e := newEnv(t, append([]envOption{verifyOptions(m)}, opts...)...)
	for _, id := range []int64{customerID, victimID, staffID} {
		e.login(id, session.KindWeb)
	}
	return e, m
}

func loginRequest(user int64) request {
	return request{method: "POST", path: "/login", body: jsonBody(map[string]string{"email": email(user), "password": password(user)})}
}

// pendingLogin logs user in through path and returns the verification id
// of its 202.
func (e *env) pendingLogin(t *testing.T, rq request) string {
	t.Helper()
	r := e.do(rq)
	d := r.data()
	if r.status != http.StatusAccepted || d["verification_required"] != true || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("got %d %s, want a 202 verification without cookie", r.status, r.raw)
	}
	if _, has := d["token"]; has {
		t.Fatal("a 202 carries a token")
	}
	id, _ := d["verification_id"].(string)
	if !session.ValidVerificationID(id) {
		t.Fatalf("verification id %q", id)
	}
	e.addSecret(id)
	return id
}

func verifyRequest(id, code string) request {
	return request{method: "POST", path: "/api/security/verify-login",
		body: jsonBody(map[string]string{"verification_id": id, "code": code})}
}

// verifyRefused asserts a 401 verification_failed with attempts_left.
func verifyRefused(t *testing.T, r response, left int) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.body["error"] != httpadapter.CodeVerificationFailed ||
		r.data()["attempts_left"] != float64(left) || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("got %d %s, want 401 verification_failed with %d attempts left", r.status, r.raw, left)
	}
}

func TestVerifyLoginWeb(t *testing.T) {
	e, m := verifyEnv(t)
	id := e.pendingLogin(t, loginRequest(customerID))
	code := m.last(t)
	e.addSecret(code)
	verifyRefused(t, e.do(verifyRequest(id, wrongCode(code))), 4)
	r := e.do(verifyRequest(id, code))
	r.ok(t, "Logged in")
	if r.data()["user_id"] != float64(customerID) {
		t.Fatalf("data %v", r.data())
	}
	var cookie string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		cookie = c.Value
	}
	who := e.do(request{method: "GET", path: "/api/security/csrf-token", cookie: cookie})
	who.ok(t, "CSRF token issued")
	// Used once.
	verifyRefused(t, e.do(verifyRequest(id, code)), 0)
	if n := e.eventsOf(security.EventNewIPVerification); n != 1 {
		t.Fatalf("%d new_ip_verification events", n)
	}
}

func TestVerifyLoginMobile(t *testing.T) {
	e, m := verifyEnv(t)
	id := e.pendingLogin(t, request{method: "POST", path: "/api/security/mobile-auth",
		body: jsonBody(map[string]string{"email": email(victimID), "password": password(victimID)})})
	r := e.do(verifyRequest(id, m.last(t)))
	r.ok(t, "Mobile authentication token issued")
	tok, _ := r.data()["token"].(string)
	if !security.ValidTokenFormat(tok) || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("got %s", r.raw)
	}
	e.do(request{method: "GET", path: "/api/security/csrf-token", bearer: tok}).ok(t, "CSRF token issued")
}

func TestVerifyLoginRefusals(t *testing.T) {
	e, m := verifyEnv(t)
	id := e.pendingLogin(t, loginRequest(customerID))
	code := m.last(t)
	e.addSecret(code)
	long := strings.Repeat("1", 65)
	for _, tc := range []struct {
		name   string
		rq     request
		status int
		code   string
	}{
		{"no id", request{method: "POST", path: "/api/security/verify-login", body: `{"code":"12345678"}`}, 400, "invalid_request"},
		{"no code", request{method: "POST", path: "/api/security/verify-login", body: jsonBody(map[string]string{"verification_id": id})}, 400, "invalid_request"},
		{"empty code", verifyRequest(id, ""), 400, "invalid_request"},
		{"long code", verifyRequest(id, long), 400, "invalid_request"},
		{"session id", verifyRequest("sess_aaaaaaaaaaaaaaaaaaaa", code), 400, "invalid_request"},
		{"bad id", verifyRequest(id+"x", code), 400, "invalid_request"},
		{"number", request{method: "POST", path: "/api/security/verify-login", body: `{"verification_id":"` + id + `","code":12345678}`}, 400, "invalid_request"},
		{"unknown field", request{method: "POST", path: "/api/security/verify-login", body: `{"verification_id":"` + id + `","code":"1","x":1}`}, 400, "invalid_request"},
		{"query", request{method: "POST", path: "/api/security/verify-login?code=1", body: jsonBody(map[string]string{"verification_id": id, "code": code})}, 400, "invalid_request"},
		{"not JSON", request{method: "POST", path: "/api/security/verify-login", body: "verification_id", contentType: "text/plain"}, 415, "unsupported_media_type"},
		{"too large", request{method: "POST", path: "/api/security/verify-login", body: `{"code":"` + strings.Repeat("1", 2<<20) + `"}`}, 413, "body_too_large"},
		{"cross origin", request{method: "POST", path: "/api/security/verify-login", body: jsonBody(map[string]string{"verification_id": id, "code": code}),
			header: http.Header{"Sec-Fetch-Site": {"cross-site"}}}, 403, "cross_origin"},
		{"GET", request{method: "GET", path: "/api/security/verify-login"}, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.refuse(t, tc.rq, tc.status, tc.code)
			if msg := r.body["message"].(string); tc.status == 400 && tc.name != "query" && !strings.Contains(msg, ":") {
				t.Errorf("message %q names no field", msg)
			}
		})
	}
	// A foreign user agent is refused without spending an attempt.
	verifyRefused(t, e.do(request{method: "POST", path: "/api/security/verify-login",
		body: jsonBody(map[string]string{"verification_id": id, "code": code}), header: http.Header{"User-Agent": {"other/1"}}}), 5)
	// The verification id is not a credential.
	for _, rq := range []request{{bearer: id}, {cookie: id}, {bearer: strings.TrimPrefix(id, "ver_")}} {
		rq.method, rq.path = "GET", "/api/security/csrf-token"
		e.refuse(t, rq, 401, "unauthenticated")
	}
	// Nothing was spent: the right code still works.
	e.do(verifyRequest(id, code)).ok(t, "Logged in")
}

func TestVerifyLoginEndsAndExpires(t *testing.T) {
	e, m := verifyEnv(t, func(c *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
		c.MaxFailuresPerEmail = 100
	})
	id := e.pendingLogin(t, loginRequest(customerID))
	code := m.last(t)
	for left := 4; left >= 0; left-- {
		verifyRefused(t, e.do(verifyRequest(id, wrongCode(code))), left)
	}
	verifyRefused(t, e.do(verifyRequest(id, code)), 0)

	id = e.pendingLogin(t, loginRequest(customerID))
	code = m.last(t)
	e.clock.Advance(10 * time.Minute)
	verifyRefused(t, e.do(verifyRequest(id, code)), 0)
}

func TestVerifyLoginThrottled(t *testing.T) {
	e, _ := verifyEnv(t)
	for range 2 {
		id := e.pendingLogin(t, loginRequest(customerID))
		for range 2 {
			e.do(verifyRequest(id, "00000002"))
		}
	}
	id := e.pendingLogin(t, loginRequest(customerID))
	verifyRefused(t, e.do(verifyRequest(id, "00000002")), 4)
	r := e.do(verifyRequest(id, "00000002"))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s, want 429 with Retry-After", r.status, r.raw)
	}
}

func TestVerifyLoginMailerDown(t *testing.T) {
	e, m := verifyEnv(t)
	m.down = true
	before := e.snap()
	r := e.do(loginRequest(customerID))
	r.refused(t, http.StatusServiceUnavailable, "unavailable")
	if r.header.Get("Set-Cookie") != "" || len(e.snap().Live) != len(before.Live) {
		t.Fatal("a login whose code could not be sent made a session")
	}
}

// verifyOptions are the session settings of verifyEnv.
func verifyOptions(m *codeMailer) envOption {
	return func(c *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
		c.NewIP, c.Mailer, c.FactorKey = session.NewIPVerify, m, testFactorKey
	}
}

func TestVerifyLoginForm(t *testing.T) {
	m := &codeMailer{}
	a := newHostApp(t, verifyOptions(m))
	a.login(customerID, session.KindWeb)
	r := a.loginForm(creds(customerID, "/notes"))
	loc, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || err != nil || loc.Path != httpadapter.DefaultVerifyPage ||
		len(loc.Query()) != 1 || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("form login: %d to %q", r.status, r.header.Get("Location"))
	}
	id := loc.Query().Get("verification_id")
	a.addSecret(id)
	verify := func(code string) rawResponse {
		return a.raw(a.hostReq("POST", "/api/security/verify-login", url.Values{"verification_id": {id}, "code": {code}}, "",
			"Accept", htmlAccept))
	}
	r = verify("00000003")
	if loc := r.header.Get("Location"); r.status != 303 || !strings.HasPrefix(loc, httpadapter.DefaultVerifyPage+"?") ||
		!strings.Contains(loc, "error=verification_failed") || !strings.Contains(loc, id) {
		t.Fatalf("wrong code: %d to %q", r.status, loc)
	}
	r = verify(m.last(t))
	c, ok := r.cookie(cookieName)
	if r.status != 303 || r.header.Get("Location") != "/" || !ok || c.Value == "" {
		t.Fatalf("right code: %d to %q", r.status, r.header.Get("Location"))
	}
	if page := a.raw(a.hostReq("GET", "/notes", nil, c.Value, "Accept", htmlAccept)); page.status != 200 {
		t.Fatalf("the verified cookie does not open the page: %d", page.status)
	}
	r = verify(m.last(t))
	if loc := r.header.Get("Location"); r.status != 303 || !strings.HasPrefix(loc, "/login?error=verification_failed") {
		t.Fatalf("used up: %d to %q", r.status, loc)
	}
}

// wrongCode returns an 8-digit code other than code.
func wrongCode(code string) string {
	if code == "00000000" {
		return "11111111"
	}
	return "00000000"
}

// A verification sent from another client address (through a trusted
// proxy's X-Forwarded-For) is refused without spending an attempt.
func TestVerifyLoginForeignIP(t *testing.T) {
	e, m := verifyEnv(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		h.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	rq := loginRequest(customerID)
	rq.header = http.Header{"X-Forwarded-For": {"192.0.2.44"}}
	id := e.pendingLogin(t, rq)
	code := m.last(t)
	v := verifyRequest(id, code)
	v.header = http.Header{"X-Forwarded-For": {"192.0.2.45"}}
	verifyRefused(t, e.do(v), 5)
	v.header = http.Header{"X-Forwarded-For": {"192.0.2.44"}}
	e.do(v).ok(t, "Logged in")
}
