package client_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/client"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/openapitest"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// The users of every server.
const (
	adminID    = 1 // staff, every permission
	customerID = 2
	victimID   = 3
)

func email(id int64) string    { return fmt.Sprintf("user%d@example.com", id) }
func password(id int64) string { return fmt.Sprintf("correct horse battery %d", id) }

// breachedPassword is in the fake breach source, 42 times.
const breachedPassword = "password"

// fakeSource is a SHA-1 breach source holding breachedPassword, or failing.
type fakeSource struct{ fail atomic.Bool }

func (s *fakeSource) Kind() breach.HashKind { return breach.SHA1 }

func (s *fakeSource) Range(_ context.Context, prefix string) (*breach.Range, error) {
	if s.fail.Load() {
		return nil, fmt.Errorf("%w: source down", security.ErrUnavailable)
	}
	body := strings.Repeat("0", 35) + ":0\r\n" // a padding row, as HIBP sends
	if h := breach.HashPassword(breachedPassword); h[:5] == prefix {
		body += h[5:] + ":42\r\n"
	}
	return breach.ParseRange(breach.SHA1, prefix, []byte(body))
}

// server is the example server's stack (examples/server builds the same
// from flags): one SQLite file, sessions, CSRF, integrity over a watched
// directory, breach checks and the report, behind httptest.
type server struct {
	srv    *httptest.Server
	watch  string
	breach *fakeSource
	// fetches counts GET /api/security/csrf-token.
	fetches atomic.Int64
}

// fixture is what newServer needs of a test: testing.TB, or mainFixture.
type fixture interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
	TempDir() string
}

func newServer(t fixture, reusableCSRF bool) *server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "propsec.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1}
	for _, u := range []session.User{
		{Principal: security.Principal{UserID: adminID, Name: "Ada Admin", AccountType: security.AccountStaff,
			Permissions: security.AllPermissions}},
		{Principal: security.Principal{UserID: customerID, Name: "Cat Customer", AccountType: security.AccountCustomer}},
		{Principal: security.Principal{UserID: victimID, Name: "Vic Victim", AccountType: security.AccountCustomer}},
	} {
		u.Email = email(u.UserID)
		if u.PasswordHash, err = hasher.Hash(password(u.UserID)); err != nil {
			t.Fatal(err)
		}
		if err := store.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	s := &server{watch: filepath.Join(dir, "www"), breach: &fakeSource{}}
	if err := os.Mkdir(s.watch, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.watch, "index.html"), []byte("Welcome\nto the shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mgr, err := session.New(session.Config{Store: store, Users: store, Hasher: hasher,
		FactorKey: bytes.Repeat([]byte{5}, session.FactorKeySize)})
	if err != nil {
		t.Fatal(err)
	}
	key, err := store.Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: store, Reusable: reusableCSRF})
	if err != nil {
		t.Fatal(err)
	}
	mon, err := integrity.New(integrity.Config{Store: store, Key: bytes.Repeat([]byte{9}, 32), Roots: []string{s.watch}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	if _, err := mon.Init(ctx); err != nil {
		t.Fatal(err)
	}
	checker, err := breach.New(breach.Config{Source: s.breach, Events: store})
	if err != nil {
		t.Fatal(err)
	}
	reports, err := report.New(report.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf, Integrity: mon, Breach: checker,
		Report: reports, Events: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/security/csrf-token" {
			s.fetches.Add(1)
		}
		h.CanonicalPaths(mux).ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// stripCSRF drops the X-CSRF-Token header, as a broken proxy would.
type stripCSRF struct{ base http.RoundTripper }

func (s stripCSRF) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("X-CSRF-Token")
	return s.base.RoundTrip(r)
}

// client returns a client of s whose every exchange is checked against the
// OpenAPI document; wrap, when set, sits between it and the server.
func (s *server) client(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper, opts ...client.Option) *client.Client {
	t.Helper()
	v, err := openapitest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	tr := s.srv.Client().Transport
	if wrap != nil {
		tr = wrap(tr)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]client.Option{client.WithHTTPClient(&http.Client{Jar: jar, Transport: v.Transport(t, tr)})}, opts...)
	c, err := client.New(s.srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *server) bearerClient(t *testing.T, user int64, opts ...client.Option) *client.Client {
	t.Helper()
	c := s.client(t, nil, opts...)
	if _, err := c.IssueToken(context.Background(), email(user), password(user)); err != nil {
		t.Fatal(err)
	}
	return c
}

// refused asserts that err is an *client.Error with status and code and a
// message.
func refused(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code || e.Message == "" {
		t.Fatalf("got %v, want %d %s", err, status, code)
	}
	return e
}

func TestBearerSessionsAndBlacklist(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, false)
	admin := s.bearerClient(t, adminID)
	victim := s.bearerClient(t, victimID)

	list, err := admin.Sessions(ctx, client.SessionQuery{UserID: victimID})
	if err != nil || list.Count != 1 || len(list.Sessions) != 1 || list.Page != 1 || list.Sessions[0].Kind != "mobile" {
		t.Fatalf("Sessions: %+v, %v", list, err)
	}
	if err := admin.TerminateSession(ctx, list.Sessions[0].SessionID); err != nil {
		t.Fatal(err)
	}
	_, err = victim.CSRFToken(ctx)
	refused(t, err, 401, client.CodeUnauthenticated)

	victim = s.bearerClient(t, victimID)
	n, err := admin.BlacklistUser(ctx, victimID, "Suspicious login activity detected")
	if err != nil || n != 1 {
		t.Fatalf("BlacklistUser: %d, %v", n, err)
	}
	_, err = victim.CSRFToken(ctx)
	refused(t, err, 401, client.CodeUnauthenticated)
	bl, err := admin.Blacklist(ctx)
	if err != nil || len(bl) != 1 || bl[0].UserID != victimID || bl[0].BlacklistedBy != adminID {
		t.Fatalf("Blacklist: %+v, %v", bl, err)
	}
	_, err = admin.BlacklistUser(ctx, victimID, "again")
	refused(t, err, 409, client.CodeConflict)
	_, err = s.client(t, nil).IssueToken(ctx, email(victimID), password(victimID))
	refused(t, err, 403, client.CodeAccountBlacklisted)
	if err := admin.UnblacklistUser(ctx, victimID); err != nil {
		t.Fatal(err)
	}
	victim = s.bearerClient(t, victimID)
	if err := victim.RevokeToken(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = victim.CSRFToken(ctx)
	refused(t, err, 401, client.CodeUnauthenticated)
}

func TestCookieLoginPasswordLogout(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, false)
	c := s.client(t, nil)
	p, err := c.Login(ctx, email(adminID), password(adminID))
	if err != nil || p.UserID != adminID || p.AccountType != "staff" || len(p.Permissions) == 0 {
		t.Fatalf("Login: %+v, %v", p, err)
	}
	other := s.bearerClient(t, adminID)
	list, err := c.Sessions(ctx, client.SessionQuery{UserID: adminID, Limit: 10})
	if err != nil || list.Count != 2 {
		t.Fatalf("Sessions: %+v, %v", list, err)
	}
	n, err := c.ChangePassword(ctx, client.PasswordChange{Current: password(adminID), New: "a new long passphrase"})
	if err != nil || n != 1 {
		t.Fatalf("ChangePassword: %d, %v", n, err)
	}
	_, err = other.CSRFToken(ctx)
	refused(t, err, 401, client.CodeUnauthenticated)
	_, err = c.ChangePassword(ctx, client.PasswordChange{Current: "wrong", New: "another long passphrase"})
	if e := refused(t, err, 400, client.CodeInvalidRequest); !strings.HasPrefix(e.Message, "current_password") {
		t.Errorf("message %q does not name current_password", e.Message)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.Sessions(ctx, client.SessionQuery{})
	refused(t, err, 401, client.CodeUnauthenticated)
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, false)
	admin := s.bearerClient(t, adminID)
	customer := s.bearerClient(t, customerID)
	anonymous := s.client(t, nil)
	noCSRF := s.client(t, func(rt http.RoundTripper) http.RoundTripper { return stripCSRF{rt} })
	if _, err := noCSRF.IssueToken(ctx, email(adminID), password(adminID)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   func() error
		status int
		code   string
		msg    string // a part of the message
	}{
		{"no credential", func() error { _, err := anonymous.Sessions(ctx, client.SessionQuery{}); return err }, 401, client.CodeUnauthenticated, ""},
		{"wrong password", func() error { _, err := anonymous.Login(ctx, email(adminID), "wrong"); return err }, 401, client.CodeInvalidCredentials, ""},
		{"not staff", func() error { _, err := customer.Blacklist(ctx); return err }, 403, client.CodeForbidden, ""},
		{"no CSRF token", func() error { return noCSRF.TerminateSession(ctx, "sess_aaaaaaaaaaaaaaaaaaaa") }, 403, client.CodeCSRFInvalid, ""},
		{"unknown session", func() error { return admin.TerminateSession(ctx, "sess_aaaaaaaaaaaaaaaaaaaa") }, 404, client.CodeNotFound, "Session not found"},
		{"unknown alerts", func() error { _, err := admin.ResolveAlerts(ctx, 998, 999); return err }, 404, client.CodeNotFound, "998, 999"},
		{"malformed session id", func() error { return admin.TerminateSession(ctx, "sess_x") }, 400, client.CodeInvalidRequest, "session_id"},
		{"blank reason", func() error { _, err := admin.BlacklistUser(ctx, victimID, " "); return err }, 400, client.CodeInvalidRequest, "reason"},
		{"limit too large", func() error { _, err := admin.Sessions(ctx, client.SessionQuery{Limit: 5000}); return err }, 400, client.CodeInvalidRequest, "limit"},
		{"no alert ids", func() error { _, err := admin.DeleteAlerts(ctx); return err }, 400, client.CodeInvalidRequest, "alert_ids"},
		{"bad severity", func() error { _, err := admin.Alerts(ctx, client.AlertQuery{Severity: "urgent"}); return err }, 400, client.CodeInvalidRequest, "severity"},
		{"bad prefix", func() error { _, err := admin.BreachRange(ctx, "5BA"); return err }, 400, client.CodeInvalidRequest, "hash_prefix"},
		{"bad period", func() error { _, err := admin.SecurityReport(ctx, "2024-06-02", "2024-06-01"); return err }, 400, client.CodeInvalidRequest, "from"},
		{"unknown check", func() error { _, err := admin.CheckProgress(ctx, "chk_aaaaaaaaaaaaaaaaaaaa"); return err }, 404, client.CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := refused(t, tt.call(), tt.status, tt.code)
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", e.Message, tt.msg)
			}
		})
	}

	t.Run("too many attempts", func(t *testing.T) {
		var err error
		for range 6 {
			_, err = anonymous.IssueToken(ctx, email(victimID), "wrong")
		}
		if e := refused(t, err, 429, client.CodeTooManyAttempts); e.RetryAfter <= 0 || e.RetryAfter > 15*time.Minute {
			t.Errorf("RetryAfter %v", e.RetryAfter)
		}
		if !client.IsCode(err, client.CodeTooManyAttempts) {
			t.Error("IsCode is false")
		}
	})
	t.Run("breach source down", func(t *testing.T) {
		s.breach.fail.Store(true)
		defer s.breach.fail.Store(false)
		_, err := admin.BreachRange(ctx, "5BAA6")
		refused(t, err, 503, client.CodeBreachSourceUnavailable)
	})
}

func TestIntegrity(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, false)
	admin := s.bearerClient(t, adminID)
	if err := os.WriteFile(filepath.Join(s.watch, "index.html"), []byte("Welcome\nto the hacked shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.watch, "new.js"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := admin.RunIntegrityCheck(ctx)
	if err != nil || !strings.HasPrefix(id, "chk_") {
		t.Fatalf("RunIntegrityCheck: %q, %v", id, err)
	}
	var ch *client.Check
	for {
		if ch, err = admin.CheckProgress(ctx, id); err != nil {
			t.Fatal(err)
		}
		if ch.Status != "running" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Two files changed; the directory holding them may be reported too.
	if ch.Status != "complete" || ch.ViolationsFound < 2 || ch.FinishedAt == "" {
		t.Fatalf("check: %+v", ch)
	}
	status := client.AlertNew
	list, err := admin.Alerts(ctx, client.AlertQuery{Status: &status, SortBy: "severity_desc", Limit: 10})
	if err != nil || int64(list.Total) != ch.ViolationsFound || len(list.Alerts) != list.Total {
		t.Fatalf("Alerts: %+v, %v", list, err)
	}
	var modified, added int64
	for _, a := range list.Alerts {
		switch {
		case a.Change == "modified" && strings.HasSuffix(a.FilePath, "index.html"):
			modified = a.ID
		case a.Change == "added" && strings.HasSuffix(a.FilePath, "new.js"):
			added = a.ID
		}
	}
	if modified == 0 || added == 0 {
		t.Fatalf("alerts: %+v", list.Alerts)
	}
	d, err := admin.FileDiff(ctx, modified)
	if err != nil || d.LinesAdded != 1 || d.LinesRemoved != 1 || !strings.Contains(d.Diff, "+to the hacked shop") {
		t.Fatalf("FileDiff: %+v, %v", d, err)
	}
	if err := admin.ResolveAlert(ctx, modified); err != nil {
		t.Fatal(err)
	}
	if msg, err := admin.ResolveAlerts(ctx, added, added); err != nil || msg != "1 alert(s) resolved" {
		t.Fatalf("ResolveAlerts: %q, %v", msg, err)
	}
	if msg, err := admin.DeleteAlerts(ctx, modified, added); err != nil || msg != "2 alert(s) deleted" {
		t.Fatalf("DeleteAlerts: %q, %v", msg, err)
	}
	if after, err := admin.Alerts(ctx, client.AlertQuery{}); err != nil || after.Total != list.Total-2 {
		t.Fatalf("Alerts after delete: %+v, %v", after, err)
	}
}

func TestBreachReportAndDocument(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, false)
	c := s.bearerClient(t, adminID)
	sum := sha1.Sum([]byte(breachedPassword))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	r, err := c.BreachRange(ctx, h[:5])
	if err != nil || !r.Breached || len(r.Suffixes) != 1 || r.Suffixes[0].Suffix != h[5:] {
		t.Fatalf("BreachRange: %+v, %v", r, err)
	}
	if r, err := c.BreachHash(ctx, h); err != nil || !r.Breached || r.Count != 42 || r.Suffixes != nil {
		t.Fatalf("BreachHash: %+v, %v", r, err)
	}
	if n, err := c.PasswordBreachCount(ctx, breachedPassword); err != nil || n != 42 {
		t.Fatalf("PasswordBreachCount(breached): %d, %v", n, err)
	}
	if n, err := c.PasswordBreachCount(ctx, "a passphrase nobody leaked"); err != nil || n != 0 {
		t.Fatalf("PasswordBreachCount(other): %d, %v", n, err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	rep, err := c.SecurityReport(ctx, today, today)
	if err != nil || rep.Logins.Successful != 1 || rep.PasswordBreachesDetected != 1 || len(rep.Daily) != 1 {
		t.Fatalf("SecurityReport: %+v, %v", rep, err)
	}
	csv, err := c.SecurityReportCSV(ctx, today, today)
	if err != nil || !bytes.HasPrefix(csv, []byte("date,logins_successful,")) || !bytes.Contains(csv, []byte(today+",1,0,")) {
		t.Fatalf("SecurityReportCSV: %q, %v", csv, err)
	}
	doc, err := s.client(t, nil).OpenAPI(ctx)
	if err != nil || !bytes.Equal(doc, httpadapter.OpenAPI()) {
		t.Fatalf("OpenAPI: %d bytes, %v", len(doc), err)
	}
}

// TestCSRFModes: by default every state-changing call fetches a fresh
// token; WithReusableCSRF fetches one for many calls on a server that
// reuses tokens, and on a single-use server recovers from the refusal of
// its spent token by fetching another and trying once more.
func TestCSRFModes(t *testing.T) {
	ctx := context.Background()
	calls := func(c *client.Client) {
		t.Helper()
		for _, user := range []int64{victimID, customerID} {
			if _, err := c.BlacklistUser(ctx, user, "test"); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.UnblacklistUser(ctx, victimID); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name           string
		serverReusable bool
		opts           []client.Option
		wantFetches    int64
	}{
		{"fresh token per call", false, nil, 3},
		{"reusable on a reusable server", true, []client.Option{client.WithReusableCSRF()}, 1},
		{"reusable on a single-use server", false, []client.Option{client.WithReusableCSRF()}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.serverReusable)
			c := s.bearerClient(t, adminID, tt.opts...)
			calls(c)
			if got := s.fetches.Load(); got != tt.wantFetches {
				t.Errorf("%d CSRF token fetches, want %d", got, tt.wantFetches)
			}
		})
	}
}

func TestDeploymentsAndIgnore(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, false)
	admin := s.bearerClient(t, adminID)
	if _, err := admin.EndDeployment(ctx); !client.IsCode(err, client.CodeNotFound) {
		t.Fatalf("EndDeployment with none open: %v, want 404", err)
	}
	d, err := admin.BeginDeployment(ctx, "Release 4.2")
	if err != nil || !strings.HasPrefix(d.ID, "dep_") || d.EndedAt != "" {
		t.Fatalf("BeginDeployment: %+v, %v", d, err)
	}
	_, err = admin.BeginDeployment(ctx, "another")
	refused(t, err, 409, client.CodeConflict)
	if err := os.WriteFile(filepath.Join(s.watch, "index.html"), []byte("Release 4.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ended, err := admin.EndDeployment(ctx)
	if err != nil || ended.ID != d.ID || ended.Accepted != 1 || ended.EndedBy != adminID {
		t.Fatalf("EndDeployment: %+v, %v", ended, err)
	}
	list, err := admin.Deployments(ctx, 10)
	if err != nil || list.Open != nil || len(list.Recent) != 1 || list.Recent[0].ID != d.ID {
		t.Fatalf("Deployments: %+v, %v", list, err)
	}

	// A change outside a window alerts; ignore it.
	if err := os.WriteFile(filepath.Join(s.watch, "index.html"), []byte("hacked\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := admin.RunIntegrityCheck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ch, err := admin.CheckProgress(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Status != "running" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	alerts, err := admin.Alerts(ctx, client.AlertQuery{})
	if err != nil || alerts.Total == 0 {
		t.Fatalf("Alerts: %+v, %v", alerts, err)
	}
	var a int64
	for _, al := range alerts.Alerts {
		if strings.HasSuffix(al.FilePath, "index.html") {
			a = al.ID
		}
	}
	if a == 0 {
		t.Fatalf("no alert for index.html: %+v", alerts.Alerts)
	}
	if err := admin.IgnoreAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if msg, err := admin.IgnoreAlerts(ctx, a); err != nil || msg != "1 alert(s) ignored" {
		t.Fatalf("IgnoreAlerts: %q, %v", msg, err)
	}
	status := client.AlertIgnored
	if l, err := admin.Alerts(ctx, client.AlertQuery{Status: &status}); err != nil || l.Total != 1 {
		t.Fatalf("ignored alerts: %+v, %v", l, err)
	}
	_, err = admin.IgnoreAlerts(ctx, a, 999)
	refused(t, err, 404, client.CodeNotFound)
}
