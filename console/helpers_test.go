package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/breach/hibp"
	"github.com/propops/propsec/console"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/browsertest"
	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// cheap keeps argon2 fast in tests.
var cheap = session.Hasher{Memory: 64, Time: 1, Threads: 1}

const password = "correct horse battery staple"

// env is a host with the adapter at /api/ and the console at its prefix,
// on a real SQLite file, behind an httptest TLS server (the session
// cookie is __Host- and Secure, as in production).
type env struct {
	t       *testing.T
	ctx     context.Context
	store   *sqlitestore.Store
	mgr     *session.Manager
	mon     *integrity.Monitor
	root    string
	adapter *httpadapter.Handler
	srv     *httptest.Server
	prefix  string
	// clock is the session Manager's with envOptions.mfa or passkeys.
	clock *fakeclock.Clock
}

type envOptions struct {
	prefix      string
	noIntegrity bool
	// breach serves GET /api/security/password-breach-check from a fake
	// HIBP in which "password" is breached.
	breach bool
	// mfa gives the session Manager a factor key (TOTP and recovery
	// codes); requireFactor sets RequireStaffSecondFactor; passkeys adds
	// the passkey service, the server then on http://localhost:PORT.
	mfa, requireFactor, passkeys bool
}

// fakeHIBP is a Pwned Passwords range API that knows "password"
// (SHA-1 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8) and records the
// prefixes it was asked for.
func fakeHIBP(t *testing.T) *breach.Checker {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimPrefix(r.URL.Path, "/range/") == "5BAA6" {
			w.Write([]byte("003D68EB55068C33ACE09247EE4C639306B:3\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD8:9659365\r\n"))
			return
		}
		w.Write([]byte("0000000000000000000000000000000000A:0\r\n"))
	}))
	t.Cleanup(srv.Close)
	client, err := hibp.New(hibp.Config{BaseURL: srv.URL})
	require.NoError(t, err)
	c, err := breach.New(breach.Config{Source: client})
	require.NoError(t, err)
	return c
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	scfg := session.Config{Store: store, Users: store, Hasher: cheap, RequireStaffSecondFactor: o.requireFactor}
	var clock *fakeclock.Clock
	if o.mfa || o.passkeys {
		scfg.FactorKey = []byte(strings.Repeat("f", 32))
		clock = fakeclock.New(time.Now())
		scfg.Clock = clock
	}
	var pk *passkey.Service
	if o.passkeys {
		// Chromium refuses WebAuthn on a page with a certificate error, and
		// an IP address as RP id: passkeys are tested on plain
		// http://localhost, a secure context.
		origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
		pk, err = passkey.New(passkey.Config{RPID: "localhost", RPDisplayName: "propsec console test",
			RPOrigins: []string{origin}, Store: store})
		require.NoError(t, err)
		scfg.Methods = []session.FactorMethod{pk}
	}
	mgr, err := session.New(scfg)
	require.NoError(t, err)
	key, err := store.Secret(ctx, "csrf", 32)
	require.NoError(t, err)
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: store})
	require.NoError(t, err)
	e := &env{t: t, ctx: ctx, store: store, mgr: mgr, clock: clock}
	if !o.noIntegrity {
		e.root = t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(e.root, "index.php"), []byte("<?php echo 'hello';\nline two\nline three\n"), 0o644))
		e.mon, err = integrity.New(integrity.Config{Store: store, Key: []byte(strings.Repeat("k", 32)),
			Roots: []string{e.root}, Host: "web-1", Logger: log})
		require.NoError(t, err)
		t.Cleanup(func() { e.mon.Close() })
		_, err = e.mon.Init(ctx)
		require.NoError(t, err)
	}
	reports, err := report.New(report.Config{Store: store})
	require.NoError(t, err)
	cfg := httpadapter.Config{Sessions: mgr, CSRF: csrf, Integrity: e.mon, Report: reports, Logger: log, Events: store,
		Passkeys: pk, InsecureCookies: o.passkeys}
	if o.breach {
		cfg.Breach = fakeHIBP(t)
	}
	e.adapter, err = httpadapter.New(cfg)
	require.NoError(t, err)
	e.prefix = o.prefix
	if e.prefix == "" {
		e.prefix = console.DefaultPrefix
	}
	c, err := console.NewHandler(console.Options{Adapter: e.adapter, Sessions: mgr, Integrity: e.mon, Report: reports,
		Prefix: o.prefix, Logger: log, Passkeys: pk})
	require.NoError(t, err)
	mux := http.NewServeMux()
	e.adapter.Register(mux)
	mux.Handle(e.prefix, c)
	e.srv = httptest.NewUnstartedServer(e.adapter.CanonicalPaths(mux))
	e.srv.Listener.Close()
	e.srv.Listener = ln
	if o.passkeys {
		e.srv.Start()
		e.srv.URL = browsertest.Localhost(e.srv.URL)
	} else {
		e.srv.StartTLS()
	}
	t.Cleanup(e.srv.Close)
	return e
}

// user makes a user with an id, an account type and permissions; its
// email is <name>@example.com.
func (e *env) user(id int64, name string, typ security.AccountType, perms ...security.Permission) string {
	e.t.Helper()
	h, err := cheap.Hash(password)
	require.NoError(e.t, err)
	email := name + "@example.com"
	require.NoError(e.t, e.store.UpsertUser(e.ctx, session.User{PasswordHash: h, Principal: security.Principal{
		UserID: id, Name: name, Email: email, AccountType: typ, Permissions: perms}}))
	return email
}

// admin makes a staff user with every permission.
func (e *env) admin() string {
	return e.user(1, "admin", security.AccountStaff, security.AllPermissions...)
}

// browser is a client that behaves as a browser does: it keeps cookies,
// follows redirects, asks for HTML and sends the fetch metadata and
// Origin every current browser sends with a form post.
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &browser{e: e, client: &http.Client{Jar: jar,
		Transport: browsertest.Transport{Base: e.srv.Client().Transport, Origin: e.srv.URL,
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) ConsoleTest"}}}
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

// signIn signs in through the console's form and fails the test unless
// it ended on a console page.
func (b *browser) signIn(email string) *browser {
	b.e.t.Helper()
	p := b.post(b.e.prefix+"login", url.Values{"email": {email}, "password": {password}})
	require.Equal(b.e.t, http.StatusOK, p.status, p.body)
	require.True(b.e.t, strings.HasPrefix(p.url.Path, b.e.prefix), p.url.String())
	require.Contains(b.e.t, p.body, "Sign out")
	return b
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

// token returns the CSRF token of the forms on path's page.
func (b *browser) token(path string) string {
	b.e.t.Helper()
	p := b.get(path)
	require.Equal(b.e.t, http.StatusOK, p.status, p.body)
	m := tokenRE.FindStringSubmatch(p.body)
	require.NotNil(b.e.t, m, "no token on %s", path)
	return m[1]
}

// login makes a session of email directly, as another device would.
func (e *env) login(email, ua string) session.LoginResult {
	e.t.Helper()
	res, err := e.mgr.Login(e.ctx, session.LoginRequest{Email: email, Password: password, Kind: session.KindWeb,
		UserAgent: ua})
	require.NoError(e.t, err)
	return res
}
