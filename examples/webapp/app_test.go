package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/internal/browsertest"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// cheap keeps argon2 fast in tests; run() uses the default cost.
var cheap = session.Hasher{Memory: 64, Time: 1, Threads: 1}

// The users of every test app.
const (
	janeID, janeEmail, janePassword          = 42, "jane@example.com", "correct horse battery staple"
	malloryID, malloryEmail, malloryPassword = 66, "mallory@example.com", "mallory's own passphrase"
)

// env is the app on a real SQLite file behind an httptest TLS server:
// TLS because the session cookie is __Host- and Secure, as in production,
// which a browser (and net/http/cookiejar) keeps only over HTTPS. No
// InsecureCookies here.
type env struct {
	t     *testing.T
	ctx   context.Context
	store *sqlitestore.Store
	mgr   *session.Manager
	app   *app
	srv   *httptest.Server
}

type envOptions struct {
	singleUse bool
	breach    *breach.Checker
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "webapp.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	for _, u := range []struct {
		id              int64
		name, email, pw string
	}{{janeID, "Jane Smith", janeEmail, janePassword}, {malloryID, "Mallory", malloryEmail, malloryPassword}} {
		h, err := cheap.Hash(u.pw)
		require.NoError(t, err)
		require.NoError(t, store.UpsertUser(ctx, session.User{PasswordHash: h, Principal: security.Principal{
			UserID: u.id, Name: u.name, Email: u.email, AccountType: security.AccountCustomer}}))
	}
	log := slog.New(slog.DiscardHandler)
	mgr, err := newManager(store, cheap, o.breach, log)
	require.NoError(t, err)
	a, err := newApp(ctx, appConfig{Store: store, Sessions: mgr, SingleUseFormTokens: o.singleUse, Logger: log})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(a)
	t.Cleanup(srv.Close)
	return &env{t: t, ctx: ctx, store: store, mgr: mgr, app: a, srv: srv}
}

// browser is a client that behaves as a browser does here: it keeps
// cookies, follows redirects, asks for HTML, and sends the fetch metadata
// and Origin that every browser since 2020 sends with a form post.
type browser struct {
	e      *env
	client *http.Client
	// hops are the redirects of the last request, with their Set-Cookie.
	hops []*http.Response
}

func (e *env) browser(userAgent string) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	b := &browser{e: e}
	base := e.srv.Client().Transport
	b.client = &http.Client{Jar: jar, Transport: browsertest.Transport{Base: base, Origin: e.srv.URL, UserAgent: userAgent},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			b.hops = append(b.hops, req.Response)
			require.Equal(e.t, e.srv.URL, "https://"+req.URL.Host, "a redirect left the site: %s", req.URL)
			if len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	return b
}

// page is what the browser ended on.
type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) page {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	require.NoError(b.e.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	b.hops = nil
	resp, err := b.client.Do(req)
	require.NoError(b.e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.e.t, err)
	return page{status: resp.StatusCode, url: resp.Request.URL, body: string(data), header: resp.Header}
}

func (b *browser) get(path string) page { b.e.t.Helper(); return b.do("GET", path, nil, nil) }

func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	return b.do("POST", path, form, nil)
}

// login signs in through the login form, as a person does.
func (b *browser) login(email, password, next string) page {
	b.e.t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	return b.post("/login", form)
}

// signedIn logs in and fails the test unless it worked.
func (b *browser) signedIn(email, password string) *browser {
	b.e.t.Helper()
	p := b.login(email, password, "")
	require.Equal(b.e.t, "/", p.url.Path, p.body)
	require.Contains(b.e.t, p.body, "You are signed in as")
	return b
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

// token returns the CSRF token of the form on path's page.
func (b *browser) token(path string) string {
	b.e.t.Helper()
	p := b.get(path)
	require.Equal(b.e.t, http.StatusOK, p.status)
	m := tokenRE.FindStringSubmatch(p.body)
	require.NotNil(b.e.t, m, "no token on %s", path)
	return m[1]
}

// signedOut reports whether the browser is sent to the login page.
func (b *browser) signedOut() bool {
	b.e.t.Helper()
	return b.get("/sessions").url.Path == "/login"
}

func (e *env) passwordHash(id int64) string {
	e.t.Helper()
	u, err := e.store.UserByID(e.ctx, id)
	require.NoError(e.t, err)
	return u.PasswordHash
}

func (e *env) events(typ security.EventType) []security.Event {
	e.t.Helper()
	all, err := e.store.Events(e.ctx)
	require.NoError(e.t, err)
	var out []security.Event
	for _, ev := range all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// A visitor is sent to the login page and back to where they were going;
// the session cookie is __Host-, Secure, HttpOnly and SameSite; pages carry
// the strict CSP; signing out ends the session.
func TestLoginAndLogout(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser("Browser A")

	p := b.get("/sessions")
	require.Equal(t, "/login", p.url.Path)
	require.Equal(t, "/sessions", p.url.Query().Get("next"))
	require.Contains(t, p.body, `<input type="hidden" name="next" value="/sessions">`)

	p = b.login(janeEmail, "not her password", "/sessions")
	require.Equal(t, "/login", p.url.Path)
	require.Equal(t, httpadapter.CodeInvalidCredentials, p.url.Query().Get("error"))
	require.Contains(t, p.body, "Wrong email address or password.")
	require.NotContains(t, p.url.RawQuery, "jane", "the email is never put in the URL")
	require.True(t, b.signedOut())

	p = b.login(janeEmail, janePassword, "/sessions")
	require.Equal(t, http.StatusOK, p.status)
	require.Equal(t, "/sessions", p.url.Path, "back to the page asked for")
	require.Contains(t, p.body, "Your sessions")
	require.Contains(t, p.body, "this browser")
	require.Len(t, b.hops, 1)
	cookie := b.hops[0].Header.Get("Set-Cookie")
	require.True(t, strings.HasPrefix(cookie, httpadapter.DefaultCookieName+"="), cookie)
	for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		require.Contains(t, cookie, attr)
	}

	csp := p.header.Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'self'")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", p.header.Get("Cache-Control"))

	p = b.post("/logout", url.Values{"csrf_token": {b.token("/")}})
	require.Equal(t, "/login", p.url.Path)
	require.Contains(t, p.body, "You are signed out.")
	require.True(t, b.signedOut())
	require.Len(t, e.events(security.EventLogout), 1)
}

// The pages hold no inline script or style, so the CSP needs no
// 'unsafe-inline', and the stylesheet is served from this origin.
func TestPagesNeedNoInlineCode(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser("Browser A")
	pages := []page{b.get("/login"), b.get("/nowhere")}
	b.signedIn(janeEmail, janePassword)
	for _, path := range []string{"/", "/sessions", "/password", "/notes"} {
		pages = append(pages, b.get(path))
	}
	for _, p := range pages {
		require.Contains(t, p.header.Get("Content-Security-Policy"), "default-src 'self'", p.url)
		for _, bad := range []string{"<script", "style=", "<style", "javascript:"} {
			require.NotContains(t, strings.ToLower(p.body), bad, p.url)
		}
		require.NotRegexp(t, `(?i)\son[a-z]+=`, p.body, "an event handler attribute")
	}
	require.Equal(t, http.StatusNotFound, pages[1].status)
	css := b.get("/static/style.css")
	require.Equal(t, http.StatusOK, css.status)
	require.Contains(t, css.header.Get("Content-Type"), "text/css")
}

func sessionLogin(email, password string) session.LoginRequest {
	return session.LoginRequest{Email: email, Password: password, Kind: session.KindWeb}
}
