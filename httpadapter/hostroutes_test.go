package httpadapter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

const (
	cookieName = "__Host-propsec_session"
	htmlAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

// hostApp is a small server-rendered app on the env's handler: /notes is a
// page behind RequireLogin whose POST is protected; /api/notes wraps the
// same handler the other way round, Protect outside RequireAuth.
type hostApp struct {
	*env
	posts atomic.Int64 // POSTs that reached the host handler
	// mount serves the app's routes on a.h (again, after a.h changed).
	mount func()
}

func newHostApp(t *testing.T, opts ...envOption) *hostApp {
	t.Helper()
	a := &hostApp{env: newEnv(t, opts...)}
	notes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		au, ok := httpadapter.AuthFrom(r.Context())
		if !ok {
			t.Error("the host handler ran without a session")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method == http.MethodGet {
			fmt.Fprintf(w, "<form method=post>%s</form><meta name=csrf content=%q>", httpadapter.CSRFField(r), httpadapter.CSRFToken(r))
			return
		}
		a.posts.Add(1)
		fmt.Fprintf(w, "saved %q for %d", r.PostFormValue("note"), au.Principal.UserID)
	})
	a.mount = func() {
		mux := http.NewServeMux()
		a.h.Register(mux)
		mux.Handle("/notes", a.h.RequireLogin(a.h.Protect(notes)))
		mux.Handle("/api/notes", a.h.Protect(a.h.RequireAuth(notes)))
		a.serve(mux)
	}
	a.mount()
	return a
}

// rawResponse is an answer read as is, redirects not followed.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

func (r rawResponse) cookie(name string) (*http.Cookie, bool) {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// raw sends req without following redirects.
func (a *hostApp) raw(req *http.Request) rawResponse {
	a.t.Helper()
	c := *a.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Value != "" {
			a.addSecret(ck.Value)
		}
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// hostReq builds a request to the app: a form body when form is not nil,
// the session cookie when cookie is set, and the given header lines.
func (a *hostApp) hostReq(method, path string, form url.Values, cookie string, header ...string) *http.Request {
	a.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, a.srv.URL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return req
}

var tokenInPage = regexp.MustCompile(`<input type="hidden" name="csrf_token" value="([0-9a-f]+)"><\/form><meta name=csrf content="([0-9a-f]*)">`)

// pageToken renders GET /notes as the holder of cookie and returns the
// page's token, checking that CSRFField and CSRFToken agree.
func (a *hostApp) pageToken(cookie string) string {
	a.t.Helper()
	r := a.raw(a.hostReq("GET", "/notes", nil, cookie, "Accept", htmlAccept))
	m := tokenInPage.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || m[1] != m[2] || len(m[1]) != security.CSRFTokenLen {
		a.t.Fatalf("GET /notes: %d %q", r.status, r.body)
	}
	a.addSecret(m[1])
	return m[1]
}

// multipartBody is a multipart/form-data body with fields.
func multipartBody(t *testing.T, fields map[string]string) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("attachment", "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte("file contents"))
	mw.Close()
	return b.String(), mw.FormDataContentType()
}

func TestProtect(t *testing.T) {
	a := newHostApp(t)
	web, _ := a.login(victimID, session.KindWeb)
	other, _ := a.login(adminID, session.KindWeb)
	tok := a.pageToken(web)
	apiTok := a.csrfTokenFor(request{cookie: web})
	mp, mpType := multipartBody(t, map[string]string{"note": "hi", "csrf_token": tok})
	mpNoTok, mpNoTokType := multipartBody(t, map[string]string{"note": "hi"})
	big := url.Values{"note": {strings.Repeat("x", httpadapter.DefaultMaxBodyBytes)}, "csrf_token": {tok}}

	type tc struct {
		req    func() *http.Request
		status int
		code   string // for a JSON refusal
	}
	form := func(path, cookie string, v url.Values, header ...string) func() *http.Request {
		return func() *http.Request { return a.hostReq("POST", path, v, cookie, header...) }
	}
	note := func(token string) url.Values { return url.Values{"note": {"hi"}, "csrf_token": {token}} }
	multi := func(body, ct, cookie string) func() *http.Request {
		return func() *http.Request {
			r := a.hostReq("POST", "/notes", nil, cookie)
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
			r.Header.Set("Content-Type", ct)
			return r
		}
	}
	cases := map[string]tc{
		"form field":                 {form("/notes", web, note(tok)), 200, ""},
		"form field, reused":         {form("/notes", web, note(tok)), 200, ""},
		"header, no body":            {form("/notes", web, nil, "X-CSRF-Token", tok), 200, ""},
		"header wins over a field":   {form("/notes", web, note("junk"), "X-CSRF-Token", tok), 200, ""},
		"multipart field":            {multi(mp, mpType, web), 200, ""},
		"same-origin browser":        {form("/notes", web, note(tok), "Sec-Fetch-Site", "same-origin", "Origin", "will-be-set"), 200, ""},
		"protect outside auth":       {form("/api/notes", web, note(tok)), 200, ""},
		"missing":                    {form("/notes", web, url.Values{"note": {"hi"}}), 403, "csrf_invalid"},
		"multipart without token":    {multi(mpNoTok, mpNoTokType, web), 403, "csrf_invalid"},
		"only in the query string":   {form("/notes?csrf_token="+tok, web, url.Values{"note": {"hi"}}), 403, "csrf_invalid"},
		"another session's token":    {form("/notes", other, note(tok)), 403, "csrf_invalid"},
		"an API endpoint's token":    {form("/notes", web, note(apiTok)), 403, "csrf_invalid"},
		"forged":                     {form("/notes", web, note(strings.Repeat("0", security.CSRFTokenLen))), 403, "csrf_invalid"},
		"two fields":                 {form("/notes", web, url.Values{"csrf_token": {tok, tok}}), 403, "csrf_invalid"},
		"two headers":                {form("/notes", web, nil, "X-CSRF-Token", tok, "X-CSRF-Token", tok), 403, "csrf_invalid"},
		"cross-site, valid token":    {form("/notes", web, note(tok), "Sec-Fetch-Site", "cross-site"), 403, "cross_origin"},
		"foreign Origin":             {form("/notes", web, note(tok), "Origin", "https://evil.example"), 403, "cross_origin"},
		"no session (Protect outer)": {form("/api/notes", "", note(tok)), 403, "csrf_invalid"},
		"no session (login outer)":   {form("/notes", "", note(tok)), 401, "unauthenticated"},
		"body over the limit":        {form("/notes", web, big), 413, "body_too_large"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req := c.req()
			if req.Header.Get("Origin") == "will-be-set" {
				req.Header.Set("Origin", a.srv.URL)
			}
			before := a.posts.Load()
			r := a.raw(req)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if c.status == 200 {
				if a.posts.Load() != before+1 || !strings.HasPrefix(r.body, `saved "hi"`) && !strings.HasPrefix(r.body, `saved ""`) {
					t.Fatalf("the host handler did not run as expected: %q", r.body)
				}
				return
			}
			if a.posts.Load() != before {
				t.Fatal("the host handler ran for a refused request")
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" || !strings.Contains(r.body, `"error":"`+c.code+`"`) {
				t.Fatalf("want the JSON envelope with %s, got %s %s", c.code, ct, r.body)
			}
		})
	}

	t.Run("a form token is refused by the API endpoints", func(t *testing.T) {
		before := a.snap()
		r := a.do(request{method: "POST", path: "/logout", cookie: web, body: `{}`,
			header: http.Header{"X-Csrf-Token": {a.pageToken(web)}}})
		r.refused(t, http.StatusForbidden, "csrf_invalid")
		a.unchanged(t, before)
	})
	t.Run("the post handler reads the parsed form", func(t *testing.T) {
		r := a.raw(form("/notes", web, url.Values{"note": {"a <b> note"}, "csrf_token": {tok}})())
		if r.status != 200 || r.body != `saved "a <b> note" for 5` {
			t.Fatalf("%d %q", r.status, r.body)
		}
	})
}

// Browsers get a page, scripts and API clients the JSON envelope; a host's
// ForbiddenPage replaces the built-in one.
func TestProtectRefusalPages(t *testing.T) {
	forbidden := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "host page")
	})
	for _, custom := range []bool{false, true} {
		t.Run(fmt.Sprint("ForbiddenPage set: ", custom), func(t *testing.T) {
			a := newHostApp(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
				if custom {
					h.ForbiddenPage = forbidden
				}
			})
			web, _ := a.login(victimID, session.KindWeb)
			missing := url.Values{"note": {"hi"}}
			for name, c := range map[string]struct {
				header   []string
				wantHTML bool
			}{
				"browser":             {[]string{"Accept", htmlAccept}, true},
				"xhtml":               {[]string{"Accept", "application/xhtml+xml"}, true},
				"html refused by q=0": {[]string{"Accept", "text/html;q=0, application/json"}, false},
				"fetch default":       {[]string{"Accept", "*/*"}, false},
				"XHR asking for html": {[]string{"Accept", htmlAccept, "X-Requested-With", "XMLHttpRequest"}, false},
				"no Accept":           {nil, false},
				"JSON client":         {[]string{"Accept", "application/json"}, false},
			} {
				t.Run(name, func(t *testing.T) {
					r := a.raw(a.hostReq("POST", "/notes", missing, web, c.header...))
					if r.status != http.StatusForbidden {
						t.Fatalf("status %d", r.status)
					}
					ct := r.header.Get("Content-Type")
					switch {
					case !c.wantHTML:
						if ct != "application/json" || !strings.Contains(r.body, `"error":"csrf_invalid"`) {
							t.Fatalf("%s %s", ct, r.body)
						}
					case custom:
						if r.body != "host page" {
							t.Fatalf("%q", r.body)
						}
					default:
						if ct != "text/html; charset=utf-8" || r.header.Get("Cache-Control") != "no-store" ||
							!strings.Contains(r.body, "<h1>Forbidden</h1>") || !strings.Contains(r.body, "This form has expired") {
							t.Fatalf("%s %q", ct, r.body)
						}
					}
				})
			}
		})
	}
}

// Config.CrossOrigin is one setting: trusting an origin there lets it
// through on the adapter's endpoints and on Protect'ed host routes alike.
func TestProtectSharesCrossOrigin(t *testing.T) {
	a := newHostApp(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		h.CrossOrigin = http.NewCrossOriginProtection()
		if err := h.CrossOrigin.AddTrustedOrigin("https://admin.example"); err != nil {
			t.Fatal(err)
		}
	})
	web, _ := a.login(victimID, session.KindWeb)
	tok := a.pageToken(web)
	for origin, want := range map[string]int{"https://admin.example": 200, "https://evil.example": 403} {
		r := a.raw(a.hostReq("POST", "/notes", url.Values{"csrf_token": {tok}}, web, "Origin", origin, "Sec-Fetch-Site", "cross-site"))
		if r.status != want {
			t.Fatalf("host route from %s: %d %s", origin, r.status, r.body)
		}
		api := a.do(request{method: "POST", path: "/api/security/mobile-auth", body: `{"email":"x@example.com","password":"y"}`,
			header: http.Header{"Origin": {origin}, "Sec-Fetch-Site": {"cross-site"}}})
		if (api.status == http.StatusForbidden) != (want == 403) {
			t.Fatalf("adapter endpoint from %s: %d %s", origin, api.status, api.raw)
		}
	}
}

// Reusable form tokens (the default) survive the back button and a second
// tab; SingleUseFormTokens makes each work once, and still lets several
// tabs hold their own.
func TestFormTokenModes(t *testing.T) {
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprint("single-use: ", single), func(t *testing.T) {
			a := newHostApp(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
				h.SingleUseFormTokens = single
			})
			web, _ := a.login(victimID, session.KindWeb)
			tab1, tab2 := a.pageToken(web), a.pageToken(web)
			post := func(tok string) int {
				return a.raw(a.hostReq("POST", "/notes", url.Values{"csrf_token": {tok}}, web)).status
			}
			if post(tab2) != 200 || post(tab1) != 200 {
				t.Fatal("a token of one of two tabs was refused")
			}
			back := post(tab1) // the back button: the same page posted again
			if want := map[bool]int{false: 200, true: 403}[single]; back != want {
				t.Fatalf("resubmitted token: %d, want %d", back, want)
			}
		})
	}
	t.Run("SingleUseFormTokens without a NonceStore", func(t *testing.T) {
		c, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Reusable: true})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t)
		if _, err := httpadapter.New(httpadapter.Config{Sessions: e.mgr, CSRF: c, SingleUseFormTokens: true}); err == nil {
			t.Fatal("New accepted single-use form tokens without a nonce store")
		}
		if _, err := httpadapter.New(httpadapter.Config{Sessions: e.mgr, CSRF: c}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPageConfig(t *testing.T) {
	e := newEnv(t)
	for name, cfg := range map[string]httpadapter.Config{
		"LoginPage absolute URL": {LoginPage: "https://evil.example/login"},
		"LoginPage with query":   {LoginPage: "/login?x=1"},
		"AfterLogin //":          {AfterLogin: "//evil.example"},
		"AfterLogout relative":   {AfterLogout: "home"},
	} {
		cfg.Sessions, cfg.CSRF = e.mgr, e.csrf
		if _, err := httpadapter.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// loginForm posts the login form.
func (a *hostApp) loginForm(v url.Values, header ...string) rawResponse {
	a.t.Helper()
	return a.raw(a.hostReq("POST", "/login", v, "", append([]string{"Accept", htmlAccept}, header...)...))
}

func creds(user int64, next string) url.Values {
	v := url.Values{"email": {email(user)}, "password": {password(user)}}
	if next != "" {
		v.Set("next", next)
	}
	return v
}

func TestFormLogin(t *testing.T) {
	a := newHostApp(t, func(s *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		s.MaxFailuresPerEmail = 3
		h.AfterLogin = "/home"
	})
	t.Run("success goes to next, and the cookie opens the page", func(t *testing.T) {
		r := a.loginForm(creds(victimID, "/notes?x=1#top"), "Sec-Fetch-Site", "same-origin")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/notes?x=1#top" {
			t.Fatalf("%d %v", r.status, r.header)
		}
		c, ok := r.cookie(cookieName)
		if !ok || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 {
			t.Fatalf("cookie %+v", c)
		}
		a.pageToken(c.Value)
	})
	t.Run("no next: AfterLogin", func(t *testing.T) {
		r := a.loginForm(creds(victimID, ""))
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/home" {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
	// Every next that is not a path on this origin is ignored: the login
	// succeeds and goes to AfterLogin.
	for _, next := range []string{"//evil.com", "/\\evil.com", "\\\\evil.com", "https://evil.com", "http:evil.com",
		"/%2F%2Fevil.com", "/%2f/evil.com", "/%5Cevil.com", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
		"data:text/html,x", "evil.com", "notes", "./notes", "/\tevil.com", "/\nevil.com", "/\x00", "/%0d%0aSet-Cookie:x",
		"/ /evil.com", "/é", "/" + strings.Repeat("a", 2048), "///evil.com", "/\\/evil.com", "https:/evil.com"} {
		t.Run("next "+fmt.Sprintf("%q", next), func(t *testing.T) {
			r := a.loginForm(creds(victimID, next))
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/home" {
				t.Fatalf("%d Location %q", r.status, r.header.Get("Location"))
			}
		})
	}
	for name, c := range map[string]struct {
		form url.Values
		path string
		code string
	}{
		"wrong password": {url.Values{"email": {email(victimID)}, "password": {"nope"}, "next": {"/notes"}}, "/login", "invalid_credentials"},
		"unknown field":  {url.Values{"email": {email(victimID)}, "password": {password(victimID)}, "remember": {"1"}}, "/login", "invalid_request"},
		"repeated field": {url.Values{"email": {email(victimID), email(adminID)}, "password": {password(victimID)}}, "/login", "invalid_request"},
		"no password":    {url.Values{"email": {email(victimID)}}, "/login", "invalid_request"},
		"query string":   {creds(victimID, ""), "/login?next=/notes", "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			r := a.raw(a.hostReq("POST", c.path, c.form, "", "Accept", htmlAccept))
			loc, _ := url.Parse(r.header.Get("Location"))
			if r.status != http.StatusSeeOther || loc.Path != "/login" || loc.Query().Get("error") != c.code {
				t.Fatalf("%d Location %q", r.status, r.header.Get("Location"))
			}
			if want := c.form.Get("next"); c.path == "/login" && loc.Query().Get("next") != want {
				t.Fatalf("next %q, want %q", loc.Query().Get("next"), want)
			}
			if _, ok := r.cookie(cookieName); ok {
				t.Fatal("a refused login set a cookie")
			}
		})
	}
	t.Run("throttled: says when to retry", func(t *testing.T) {
		for range 3 {
			a.loginForm(url.Values{"email": {email(staffID)}, "password": {"nope"}})
		}
		r := a.loginForm(creds(staffID, "/notes"))
		loc, _ := url.Parse(r.header.Get("Location"))
		q := loc.Query()
		var secs int
		if _, err := fmt.Sscanf(q.Get("retry_after"), "%d", &secs); err != nil || secs < 1 || secs > 15*60 ||
			q.Get("error") != "too_many_attempts" || q.Get("next") != "/notes" {
			t.Fatalf("%d Location %q", r.status, loc)
		}
	})
	t.Run("cross-site login form: refused before the password is looked at", func(t *testing.T) {
		before := a.snap()
		r := a.loginForm(creds(victimID, "/notes"), "Sec-Fetch-Site", "cross-site")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "came from another site") {
			t.Fatalf("%d %q", r.status, r.body)
		}
		if _, ok := r.cookie(cookieName); ok {
			t.Fatal("cookie set")
		}
		a.unchanged(t, before)
	})
	t.Run("blacklisted", func(t *testing.T) {
		a.post(a.bearer(adminID), map[string]any{"action": "blacklist_add", "user_id": customerID, "reason": "x"}).
			ok(t, "User blacklisted and all sessions terminated")
		loc, _ := url.Parse(a.loginForm(creds(customerID, "")).header.Get("Location"))
		if loc.Query().Get("error") != "account_blacklisted" {
			t.Fatalf("Location %q", loc)
		}
	})
	t.Run("JSON login is unchanged", func(t *testing.T) {
		a.do(request{method: "POST", path: "/login", body: jsonBody(map[string]string{"email": email(listerID),
			"password": password(listerID)})}).ok(t, "Logged in")
	})
}

func TestFormLogout(t *testing.T) {
	a := newHostApp(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		h.AfterLogout = "/bye"
	})
	logout := func(cookie string, v url.Values, header ...string) rawResponse {
		return a.raw(a.hostReq("POST", "/logout", v, cookie, append([]string{"Accept", htmlAccept}, header...)...))
	}
	cleared := func(t *testing.T, r rawResponse) {
		t.Helper()
		c, ok := r.cookie(cookieName)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/bye" || !ok || c.MaxAge >= 0 {
			t.Fatalf("%d %v", r.status, r.header)
		}
	}
	web, id := a.login(victimID, session.KindWeb)
	tok := a.pageToken(web)
	for name, c := range map[string]struct {
		form   url.Values
		header []string
		code   string
	}{
		"no token":      {url.Values{}, nil, "csrf_invalid"},
		"API token":     {url.Values{"csrf_token": {a.csrfTokenFor(request{cookie: web})}}, nil, "csrf_invalid"},
		"cross-site":    {url.Values{"csrf_token": {tok}}, []string{"Sec-Fetch-Site", "cross-site"}, "cross_origin"},
		"unknown field": {url.Values{"csrf_token": {tok}, "x": {"1"}}, nil, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			r := logout(web, c.form, c.header...)
			if r.status/100 != 4 || !strings.Contains(r.header.Get("Content-Type"), "text/html") || !a.live(id) {
				t.Fatalf("%d %q (live %v)", r.status, r.body, a.live(id))
			}
			if _, ok := r.cookie(cookieName); ok {
				t.Fatal("cookie changed")
			}
		})
	}
	t.Run("with the page's token", func(t *testing.T) {
		cleared(t, logout(web, url.Values{"csrf_token": {tok}}))
		if a.live(id) {
			t.Fatal("session still live")
		}
	})
	t.Run("without a session: nothing to end, cookie cleared", func(t *testing.T) {
		cleared(t, logout(web, url.Values{"csrf_token": {tok}}))
		cleared(t, logout("", url.Values{}))
	})
}

func TestRequireLogin(t *testing.T) {
	a := newHostApp(t)
	web, _ := a.login(victimID, session.KindWeb)
	for name, c := range map[string]struct {
		method, path, cookie string
		header               []string
		status               int
		location             string
	}{
		"browser, no session":     {"GET", "/notes?sort=new", "", []string{"Accept", htmlAccept}, 303, "/login?next=%2Fnotes%3Fsort%3Dnew"},
		"browser, HEAD":           {"HEAD", "/notes", "", []string{"Accept", htmlAccept}, 303, "/login?next=%2Fnotes"},
		"browser, expired cookie": {"GET", "/notes", strings.Repeat("ab", 32), []string{"Accept", htmlAccept}, 303, "/login?next=%2Fnotes"},
		"browser POST: no next":   {"POST", "/notes", "", []string{"Accept", htmlAccept}, 303, "/login"},
		"API client":              {"GET", "/notes", "", []string{"Accept", "application/json"}, 401, ""},
		"script":                  {"GET", "/notes", "", []string{"Accept", htmlAccept, "X-Requested-With", "XMLHttpRequest"}, 401, ""},
		"with a session":          {"GET", "/notes", web, []string{"Accept", htmlAccept}, 200, ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := a.raw(a.hostReq(c.method, c.path, nil, c.cookie, c.header...))
			if r.status != c.status || r.header.Get("Location") != c.location {
				t.Fatalf("%d Location %q %s", r.status, r.header.Get("Location"), r.body)
			}
			if c.status == 401 && !strings.Contains(r.body, `"error":"unauthenticated"`) {
				t.Fatalf("%s", r.body)
			}
		})
	}
}

// Fail maps domain errors as the adapter does, and keeps internals out of
// the answer.
func TestFail(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	errs := map[string]error{
		"notfound": fmt.Errorf("order 7: %w", security.ErrNotFound),
		"invalid":  security.Invalid("qty", "must be positive"),
		"throttle": &security.ThrottledError{RetryAfter: 90 * time.Second},
		"internal": errors.New("pq: password authentication failed for db secret-dsn"),
	}
	mux.HandleFunc("/x/{k}", func(w http.ResponseWriter, r *http.Request) { e.h.Fail(w, r, errs[r.PathValue("k")]) })
	e.serve(mux)
	for k, want := range map[string]struct {
		status int
		code   string
		msg    string
	}{
		"notfound": {404, "not_found", "Not found"},
		"invalid":  {400, "invalid_request", "qty: must be positive"},
		"throttle": {429, "too_many_attempts", "Too many attempts; try again later"},
		"internal": {500, "internal_error", "internal error"},
	} {
		r := e.do(request{method: "GET", path: "/x/" + k})
		r.refused(t, want.status, want.code)
		if r.body["message"] != want.msg {
			t.Errorf("%s: message %q", k, r.body["message"])
		}
		if k == "throttle" && r.header.Get("Retry-After") != "90" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	if !strings.Contains(e.log.String(), "secret-dsn") {
		t.Error("the 500's cause is not in the log")
	}
}

// Protect's refusals are audit events, as the endpoints' are, with the
// caller as actor and no token in them.
func TestProtectRefusalEvents(t *testing.T) {
	a := newHostApp(t)
	h, err := httpadapter.New(httpadapter.Config{Sessions: a.mgr, CSRF: a.csrf, Events: a.mem, Clock: a.clock})
	if err != nil {
		t.Fatal(err)
	}
	a.h = h
	a.mount()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()

	web, id := a.login(victimID, session.KindWeb)
	tok := a.pageToken(web)
	for _, header := range [][]string{{"Accept", htmlAccept}, {"Accept", "application/json"},
		{"Sec-Fetch-Site", "cross-site"}} {
		if r := a.raw(a.hostReq("POST", "/notes", url.Values{"csrf_token": {"forged" + tok}}, web, header...)); r.status != 403 {
			t.Fatalf("%v: %d", header, r.status)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	events, _ := a.mem.Events(context.Background())
	var codes []string
	for _, ev := range events {
		if ev.Type != httpadapter.EventCSRFFailed {
			continue
		}
		if ev.ActorSessionID != id || ev.ActorUserID != victimID || ev.Subject != "/notes" {
			t.Errorf("event %+v", ev)
		}
		// Repeats queued into one batch are coalesced into one event
		// with a count (how often depends on scheduling).
		n := 1
		if c := ev.Details["count"]; c != "" {
			n, _ = strconv.Atoi(c)
		}
		for range n {
			codes = append(codes, ev.Details["code"])
		}
	}
	slices.Sort(codes)
	if !slices.Equal(codes, []string{"cross_origin", "csrf_invalid", "csrf_invalid"}) {
		t.Fatalf("csrf_failed events with codes %v", codes)
	}
}

// WithForbiddenPage puts a UI's own page, told the refusal's code by
// RefusalCode, in place of Config.ForbiddenPage for the routes it wraps;
// API clients still get the JSON error, and other routes keep the host's
// page.
func TestWithForbiddenPage(t *testing.T) {
	page := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "%s page: %q", name, httpadapter.RefusalCode(r))
		})
	}
	a := newHostApp(t, func(_ *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		h.ForbiddenPage = page("host")
	})
	saved := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "saved") })
	mux := http.NewServeMux()
	a.h.Register(mux)
	mux.Handle("/notes", a.h.Protect(saved))
	mux.Handle("/ui/notes", httpadapter.WithForbiddenPage(a.h.Protect(saved), page("ui")))
	a.serve(mux)
	web, _ := a.login(victimID, session.KindWeb)
	form := url.Values{"note": {"hi"}}
	for _, c := range []struct {
		path   string
		header []string
		want   string
	}{
		{"/ui/notes", []string{"Accept", htmlAccept}, `ui page: "csrf_invalid"`},
		{"/ui/notes", []string{"Accept", htmlAccept, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
			`ui page: "cross_origin"`},
		{"/ui/notes", []string{"Accept", "application/json"}, `"error":"csrf_invalid"`},
		{"/notes", []string{"Accept", htmlAccept}, `host page: "csrf_invalid"`},
	} {
		r := a.raw(a.hostReq("POST", c.path, form, web, c.header...))
		if r.status != http.StatusForbidden || !strings.Contains(r.body, c.want) {
			t.Errorf("%s %v: %d %q, want 403 with %s", c.path, c.header, r.status, r.body, c.want)
		}
	}
}
