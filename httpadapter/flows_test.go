package httpadapter_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func TestMobileAuth(t *testing.T) {
	e := newEnv(t)
	creds := jsonBody(map[string]string{"email": email(victimID), "password": password(victimID)})
	r := e.do(request{method: "POST", path: "/api/security/mobile-auth", body: creds,
		header: http.Header{"User-Agent": {"PropOps iOS/3.1"}}})
	r.ok(t, "Mobile authentication token issued")
	token, _ := r.data()["token"].(string)
	if !security.ValidTokenFormat(token) {
		t.Fatalf("token %q", token)
	}
	e.addSecret(token)
	if r.header.Get("Set-Cookie") != "" {
		t.Fatal("mobile-auth set a cookie")
	}
	who := e.do(request{method: "GET", path: "/host/whoami", bearer: token})
	if who.data()["user_id"] != float64(victimID) {
		t.Fatalf("%s", who.raw)
	}
	sessID := who.data()["session_id"].(string)
	s, err := e.mem.SessionByID(context.Background(), sessID)
	if err != nil || s.Kind != session.KindMobile || s.UserAgent != "PropOps iOS/3.1" || s.IP != "127.0.0.1" {
		t.Fatalf("session %+v, %v", s, err)
	}

	// DELETE needs the bearer token of a mobile session: neither the cookie
	// nor a web session's credential sent as a bearer token will do.
	for name, cred := range map[string]func(web string) request{
		"cookie":                     func(web string) request { return request{cookie: web} },
		"web credential as a bearer": func(web string) request { return request{bearer: web} },
	} {
		t.Run(name, func(t *testing.T) {
			web, webID := e.login(victimID, session.KindWeb)
			rq := cred(web)
			rq.method, rq.path = "DELETE", "/api/security/mobile-auth"
			e.refuse(t, rq, http.StatusUnauthorized, "unauthenticated")
			if !e.live(webID) {
				t.Fatal("web session revoked")
			}
		})
	}

	e.do(request{method: "DELETE", path: "/api/security/mobile-auth", bearer: token}).ok(t, "Token revoked")
	if e.live(sessID) {
		t.Fatal("token still live")
	}
	if n := e.eventsOf(security.EventTokenRevoked); n != 1 {
		t.Fatalf("%d token_revoked events", n)
	}
	e.do(request{method: "DELETE", path: "/api/security/mobile-auth", bearer: token}).
		refused(t, http.StatusUnauthorized, "unauthenticated")
	e.do(request{method: "GET", path: "/host/whoami", bearer: token}).
		refused(t, http.StatusUnauthorized, "unauthenticated")
}

func cookieNamed(r response, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestBrowserLogin(t *testing.T) {
	e := newEnv(t)
	creds := jsonBody(map[string]string{"email": email(staffID), "password": password(staffID)})
	r := e.do(request{method: "POST", path: "/login", body: creds})
	r.ok(t, "Logged in")
	c := cookieNamed(r, "__Host-propsec_session")
	if c == nil {
		t.Fatalf("no session cookie: %v", r.header["Set-Cookie"])
	}
	e.addSecret(c.Value)
	if !security.ValidTokenFormat(c.Value) || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
		c.Path != "/" || c.Domain != "" || c.MaxAge != 12*60*60 {
		t.Fatalf("cookie %+v", c)
	}
	if strings.Contains(r.raw, c.Value) {
		t.Fatal("the credential is in the body")
	}
	d := r.data()
	if d["user_id"] != float64(staffID) || d["user_name"] != "Sam Staff" || d["account_type"] != "staff" ||
		d["expires_at"] != "2024-06-14T22:00:00Z" || d["email"] != email(staffID) {
		t.Fatalf("principal: %s", r.raw)
	}
	sessID := d["session_id"].(string)
	if s, err := e.mem.SessionByID(context.Background(), sessID); err != nil || s.Kind != session.KindWeb {
		t.Fatalf("%+v %v", s, err)
	}

	// The cookie authenticates, also the staff routes.
	e.do(request{method: "GET", path: "/api/security/csrf-token", cookie: c.Value}).ok(t, "CSRF token issued")

	t.Run("POST /logout needs a CSRF token", func(t *testing.T) {
		e.refuse(t, request{method: "POST", path: "/logout", cookie: c.Value, body: `{}`}, http.StatusForbidden, "csrf_invalid")
	})

	// GET /logout, as the seed names it, from a page of the same origin:
	// the session ends and the cookie is cleared.
	sameOrigin := http.Header{"Sec-Fetch-Site": {"same-origin"}}
	r = e.do(request{method: "GET", path: "/logout", cookie: c.Value, header: sameOrigin})
	r.ok(t, "Logged out")
	cleared := cookieNamed(r, "__Host-propsec_session")
	if cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" || !cleared.Secure || cleared.Path != "/" {
		t.Fatalf("cookie not cleared: %v", r.header["Set-Cookie"])
	}
	if e.live(sessID) || e.eventsOf(security.EventLogout) != 1 {
		t.Fatal("session not ended")
	}
	e.do(request{method: "GET", path: "/api/security/csrf-token", cookie: c.Value}).refused(t, http.StatusUnauthorized, "unauthenticated")
	e.do(request{method: "GET", path: "/logout", cookie: c.Value, header: sameOrigin}).refused(t, http.StatusUnauthorized, "unauthenticated")

	t.Run("POST /logout", func(t *testing.T) {
		r := e.do(request{method: "POST", path: "/login", body: creds})
		c := cookieNamed(r, "__Host-propsec_session")
		e.addSecret(c.Value)
		csrf := e.csrfTokenFor(request{cookie: c.Value})
		r = e.do(request{method: "POST", path: "/logout", cookie: c.Value, body: jsonBody(map[string]string{"csrf_token": csrf})})
		r.ok(t, "Logged out")
		e.do(request{method: "GET", path: "/api/security/csrf-token", cookie: c.Value}).refused(t, http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("bearer logout", func(t *testing.T) {
		tok, id := e.login(victimID, session.KindMobile)
		e.do(request{method: "GET", path: "/logout", bearer: tok}).ok(t, "Logged out")
		if e.live(id) {
			t.Fatal("still live")
		}
	})
}

func TestInsecureCookies(t *testing.T) {
	e := newEnv(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) { h.InsecureCookies = true })
	r := e.do(request{method: "POST", path: "/login", body: jsonBody(map[string]string{"email": email(victimID), "password": password(victimID)})})
	r.ok(t, "Logged in")
	c := cookieNamed(r, "propsec_session")
	if c == nil || c.Secure || !c.HttpOnly {
		t.Fatalf("cookie %v", r.header["Set-Cookie"])
	}
	e.addSecret(c.Value)
	if r := e.do(request{method: "GET", path: "/host/whoami", header: http.Header{"Cookie": {"propsec_session=" + c.Value}}}); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	// The secure name is not read.
	e.do(request{method: "GET", path: "/host/whoami", cookie: c.Value}).refused(t, http.StatusUnauthorized, "unauthenticated")
}

func TestNewRefusesBadConfig(t *testing.T) {
	st := memstore.New()
	mgr, err := session.New(session.Config{Store: st, Users: st})
	if err != nil {
		t.Fatal(err)
	}
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Nonces: st})
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]httpadapter.Config{
		"no sessions":           {CSRF: csrf},
		"no CSRF":               {Sessions: mgr},
		"negative body":         {Sessions: mgr, CSRF: csrf, MaxBodyBytes: -1},
		"bad cookie name":       {Sessions: mgr, CSRF: csrf, CookieName: "a b"},
		"__Host- without TLS":   {Sessions: mgr, CSRF: csrf, CookieName: "__Host-x", InsecureCookies: true},
		"__Secure- without TLS": {Sessions: mgr, CSRF: csrf, CookieName: "__Secure-x", InsecureCookies: true},
		"invalid proxy":         {Sessions: mgr, CSRF: csrf, TrustedProxies: []netip.Prefix{{}}},
	} {
		t.Run(name, func(t *testing.T) {
			if h, err := httpadapter.New(cfg); err == nil || h != nil {
				t.Fatalf("New accepted %+v", cfg)
			}
		})
	}
	if _, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf}); err != nil {
		t.Fatal(err)
	}
}

func TestRequireAuth(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: "GET", path: "/host/whoami"})
	r.refused(t, http.StatusUnauthorized, "unauthenticated")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("no WWW-Authenticate")
	}
	tok, id := e.login(customerID, session.KindMobile)
	r = e.do(request{method: "GET", path: "/host/whoami", bearer: tok})
	if r.status != 200 || r.data()["user_id"] != float64(customerID) || r.data()["session_id"] != id {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	web, _ := e.login(staffID, session.KindWeb)
	r = e.do(request{method: "GET", path: "/host/whoami", cookie: web})
	if r.status != 200 || r.data()["user_id"] != float64(staffID) {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if _, ok := httpadapter.AuthFrom(context.Background()); ok {
		t.Fatal("AuthFrom found an Auth in an empty context")
	}
}

func TestClientIPReachesTheManager(t *testing.T) {
	for name, c := range map[string]struct {
		trusted []netip.Prefix
		xff     []string
		want    string
	}{
		"no proxy trusted":      {nil, []string{"198.51.100.7"}, "127.0.0.1"},
		"proxy trusted":         {[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, []string{"198.51.100.7"}, "198.51.100.7"},
		"chain of proxies":      {[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}, []string{"203.0.113.99, 198.51.100.7", "10.1.2.3"}, "198.51.100.7"},
		"spoofed left entries":  {[]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, []string{"10.0.0.1, 198.51.100.7"}, "198.51.100.7"},
		"mapped trusted prefix": {[]netip.Prefix{netip.MustParsePrefix("::ffff:127.0.0.0/104")}, []string{"198.51.100.7"}, "198.51.100.7"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) { h.TrustedProxies = c.trusted })
			r := e.do(request{method: "POST", path: "/api/security/mobile-auth", header: http.Header{"X-Forwarded-For": c.xff},
				body: jsonBody(map[string]string{"email": email(victimID), "password": password(victimID)})})
			r.ok(t, "Mobile authentication token issued")
			e.addSecret(r.data()["token"].(string))
			who := e.do(request{method: "GET", path: "/host/whoami", bearer: r.data()["token"].(string)})
			s, err := e.mem.SessionByID(context.Background(), who.data()["session_id"].(string))
			if err != nil || s.IP != c.want {
				t.Fatalf("session IP %q, want %q (%v)", s.IP, c.want, err)
			}
		})
	}
}

// failingStore fails ListSessions with err.
type failingStore struct {
	*memstore.Store
	err error
}

func (f failingStore) ListSessions(context.Context, session.ListQuery) ([]session.Session, int, error) {
	return nil, 0, f.err
}

func TestStoreFailures(t *testing.T) {
	for name, c := range map[string]struct {
		err    error
		status int
		code   string
	}{
		"internal":    {errors.New("disk on fire at /var/lib/propsec"), http.StatusInternalServerError, "internal_error"},
		"unavailable": {errors.Join(errors.New("pool exhausted at db-7"), security.ErrUnavailable), http.StatusServiceUnavailable, "unavailable"},
	} {
		t.Run(name, func(t *testing.T) {
			var st *memstore.Store
			e := newEnv(t, func(s *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
				st = s.Store.(*memstore.Store)
				s.Store = failingStore{Store: st, err: c.err}
			})
			r := e.do(request{method: "GET", path: "/api/security/sessions?action=list", bearer: e.bearer(adminID)})
			r.refused(t, c.status, c.code)
			if strings.Contains(r.raw, "disk") || strings.Contains(r.raw, "db-7") {
				t.Fatalf("internals leaked: %s", r.raw)
			}
			if c.status == 500 && r.body["message"] != "internal error" {
				t.Fatalf("%s", r.raw)
			}
			if !strings.Contains(e.log.String(), c.err.Error()[:10]) {
				t.Fatalf("the cause is not logged: %s", e.log.String())
			}
			if c.status == 500 && !strings.Contains(e.log.String(), "level=ERROR") {
				t.Fatalf("a 500 is not logged as an error: %s", e.log.String())
			}
		})
	}
}

// TestDefaultLogger checks that a nil Logger means slog.Default().
func TestDefaultLogger(t *testing.T) {
	e := newEnv(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) { h.Logger = nil })
	var buf syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	// New ran before SetDefault, so it kept the old default; make another.
	h, err := httpadapter.New(httpadapter.Config{Sessions: e.mgr, CSRF: e.csrf})
	if err != nil {
		t.Fatal(err)
	}
	e.serve(h)
	e.do(request{method: "GET", path: "/api/security/nope"}).refused(t, http.StatusNotFound, "not_found")
	if !strings.Contains(buf.String(), "status=404") {
		t.Fatalf("not logged to slog.Default: %q", buf.String())
	}
}
