package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/console"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

var assetRE = regexp.MustCompile(`(?:href|src)="(/[^"]*/assets/[^"]+)"`)

// Every answer carries the CSP and the other headers; pages are no-store,
// assets cacheable for good under hashed names.
func TestHeadersAndAssets(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	check := func(t *testing.T, p page) {
		t.Helper()
		require.Equal(t, console.ContentSecurityPolicy, p.header.Get("Content-Security-Policy"))
		require.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"))
		require.Equal(t, "same-origin", p.header.Get("Referrer-Policy"))
	}
	signin := b.get("/console/")
	check(t, signin)
	require.Equal(t, "no-store", signin.header.Get("Cache-Control"))
	require.Equal(t, "text/html; charset=utf-8", signin.header.Get("Content-Type"))
	require.Contains(t, console.ContentSecurityPolicy, "frame-ancestors 'none'")
	require.Contains(t, console.ContentSecurityPolicy, "script-src 'self'")

	b.signIn(e.admin())
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".svg": "image/svg+xml"}
	seen := map[string]bool{}
	for _, path := range []string{"/console/sessions", "/console/checks", "/console/password"} {
		p := b.get(path)
		check(t, p)
		require.Equal(t, "no-store", p.header.Get("Cache-Control"))
		for _, m := range assetRE.FindAllStringSubmatch(p.body, -1) {
			if seen[m[1]] {
				continue
			}
			seen[m[1]] = true
			a := b.get(m[1])
			require.Equal(t, http.StatusOK, a.status, m[1])
			check(t, a)
			ext := m[1][strings.LastIndex(m[1], "."):]
			require.Equal(t, types[ext], a.header.Get("Content-Type"), m[1])
			require.Equal(t, "public, max-age=31536000, immutable", a.header.Get("Cache-Control"))
			etag := a.header.Get("ETag")
			require.NotEmpty(t, etag)
			r := b.do("GET", m[1], nil, map[string]string{"If-None-Match": etag})
			require.Equal(t, http.StatusNotModified, r.status)
		}
	}
	require.Len(t, seen, 4, "stylesheet, icon and the two scripts")
	require.Equal(t, http.StatusNotFound, b.get("/console/assets/console.css").status, "only hashed names")
}

// An unknown console path is an HTML 404 page, whatever the Accept header;
// pages answer HTML to a client asking for JSON too.
func TestNotFoundAndAccept(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser().signIn(e.admin())
	for _, accept := range []string{"text/html", "application/json", "*/*", ""} {
		p := b.do("GET", "/console/nowhere", nil, map[string]string{"Accept": accept})
		require.Equal(t, http.StatusNotFound, p.status, accept)
		require.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
		require.Contains(t, p.body, "There is no page here.")
		require.Contains(t, p.body, `<main id="main"`)
		p = b.do("GET", "/console/sessions", nil, map[string]string{"Accept": accept})
		require.Equal(t, http.StatusOK, p.status, accept)
		require.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
	}
	signedOut := e.browser()
	p := signedOut.do("GET", "/console/", nil, map[string]string{"Accept": "application/json"})
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `name="email"`)
}

// Another prefix works: links, assets, forms and redirects keep it.
func TestOtherPrefix(t *testing.T) {
	e := newEnv(t, envOptions{prefix: "/ops/security/"})
	admin := e.admin()
	b := e.browser()
	p := b.get("/ops/security/sessions")
	require.Equal(t, "/ops/security/", p.url.Path, "a signed-out deep link goes to the sign-in form")
	require.Contains(t, p.body, `action="/ops/security/login"`)
	require.Contains(t, p.body, `href="/ops/security/assets/console.`)
	require.NotContains(t, p.body, `"/console/`)
	b.signIn(admin)
	p = b.get("/ops/security/")
	require.Equal(t, "/ops/security/sessions", p.url.Path)
	require.Contains(t, p.body, `href="/ops/security/alerts"`)
	require.NotContains(t, p.body, `"/console/`)
	for _, m := range assetRE.FindAllStringSubmatch(p.body, -1) {
		require.Equal(t, http.StatusOK, b.get(m[1]).status, m[1])
	}
	require.Equal(t, http.StatusNotFound, b.get("/console/").status, "nothing at the default prefix")
}

// Options are checked, never panicked on.
func TestNewHandlerOptions(t *testing.T) {
	st := memstore.New()
	mgr, err := session.New(session.Config{Store: st, Users: st, Hasher: cheap})
	require.NoError(t, err)
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Nonces: st})
	require.NoError(t, err)
	ad, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		o    console.Options
		want string
	}{
		{"no adapter", console.Options{Sessions: mgr}, "required"},
		{"no sessions", console.Options{Adapter: ad}, "required"},
		{"dot segment", console.Options{Adapter: ad, Sessions: mgr, Prefix: "/a/../b/"}, "Prefix"},
		{"query", console.Options{Adapter: ad, Sessions: mgr, Prefix: "/a?b"}, "Prefix"},
		{"wildcard", console.Options{Adapter: ad, Sessions: mgr, Prefix: "/{x}/"}, "Prefix"},
		{"double slash", console.Options{Adapter: ad, Sessions: mgr, Prefix: "/a//b"}, "Prefix"},
		{"api", console.Options{Adapter: ad, Sessions: mgr, API: "https://evil.example/api"}, "API"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := console.NewHandler(tc.o)
			require.ErrorContains(t, err, tc.want)
		})
	}
	for _, p := range []string{"console", "/console", "console/", "/staff/console/"} {
		_, err := console.NewHandler(console.Options{Adapter: ad, Sessions: mgr, Prefix: p})
		require.NoError(t, err, p)
	}
}
