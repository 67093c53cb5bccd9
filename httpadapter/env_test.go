package httpadapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/internal/openapitest"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// cheapHasher keeps argon2 fast in tests.
var cheapHasher = session.Hasher{Memory: 64, Time: 1, Threads: 1}

// The users every env starts with.
const (
	adminID    = 1 // staff, every permission
	listerID   = 2 // staff, api.security.sessions.list only
	staffID    = 3 // staff, no permission
	customerID = 4 // customer holding every permission (which grants nothing)
	victimID   = 5 // customer
	unknownID  = 999
)

func email(id int64) string    { return fmt.Sprintf("user%d@example.com", id) }
func password(id int64) string { return fmt.Sprintf("correct horse battery %d", id) }

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a handler on memstore behind a real httptest.Server.
type env struct {
	t     *testing.T
	clock *fakeclock.Clock
	mem   *memstore.Store
	mgr   *session.Manager
	csrf  *security.CSRF
	h     *httpadapter.Handler
	srv   *httptest.Server
	log   *syncBuffer

	mu      sync.Mutex
	secrets []string // must never appear in the log
}

type envOption func(*session.Config, *security.CSRFConfig, *httpadapter.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: fakeclock.New(time.Date(2024, 6, 14, 10, 0, 0, 0, time.UTC)), mem: memstore.New(),
		log: &syncBuffer{}}
	ctx := context.Background()
	users := []session.User{
		{Principal: security.Principal{UserID: adminID, Name: "Ada Admin", AccountType: security.AccountStaff,
			Permissions: security.AllPermissions}},
		{Principal: security.Principal{UserID: listerID, Name: "Lee Lister", AccountType: security.AccountStaff,
			Permissions: []security.Permission{security.PermSessionsList}}},
		{Principal: security.Principal{UserID: staffID, Name: "Sam Staff", AccountType: security.AccountStaff}},
		{Principal: security.Principal{UserID: customerID, Name: "Cat Customer", AccountType: security.AccountCustomer,
			Permissions: security.AllPermissions}},
		{Principal: security.Principal{UserID: victimID, Name: "Vic Victim", AccountType: security.AccountCustomer}},
	}
	for _, u := range users {
		u.Email = email(u.UserID)
		hash, err := cheapHasher.Hash(password(u.UserID))
		if err != nil {
			t.Fatal(err)
		}
		u.PasswordHash = hash
		if err := e.mem.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		e.addSecret(password(u.UserID))
	}
	scfg := session.Config{Store: e.mem, Users: e.mem, Clock: e.clock, Hasher: cheapHasher}
	ccfg := security.CSRFConfig{Key: bytes.Repeat([]byte{7}, 32), Nonces: e.mem, Clock: e.clock, TTL: 10 * time.Minute}
	hcfg := httpadapter.Config{Logger: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, o := range opts {
		o(&scfg, &ccfg, &hcfg)
	}
	var err error
	if e.mgr, err = session.New(scfg); err != nil {
		t.Fatal(err)
	}
	if e.csrf, err = security.NewCSRF(ccfg); err != nil {
		t.Fatal(err)
	}
	hcfg.Sessions, hcfg.CSRF = e.mgr, e.csrf
	if e.h, err = httpadapter.New(hcfg); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.h.Register(mux)
	// A host route behind RequireAuth: it answers with the caller's id.
	mux.Handle("GET /host/whoami", e.h.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := httpadapter.AuthFrom(r.Context())
		if !ok {
			t.Error("RequireAuth ran the host route without an Auth in the context")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"success":true,"data":{"user_id":%d,"session_id":%q}}`, a.Principal.UserID, a.Session.ID)
	})))
	e.serve(mux)
	// At the end, no secret the test handled (password, bearer token,
	// session cookie, CSRF token) may be in the log or in any audit event
	// stored.
	t.Cleanup(func() {
		e.srv.Close()
		logged := e.log.String()
		events, err := e.mem.Events(context.Background())
		if err != nil {
			t.Errorf("reading the audit events: %v", err)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, s := range e.secrets {
			if strings.Contains(logged, s) {
				t.Errorf("the log contains the secret %q", s)
			}
			for _, ev := range events {
				if slices.ContainsFunc(eventText(ev), func(f string) bool { return strings.Contains(f, s) }) {
					t.Errorf("audit event %d (%s) contains the secret %q: %+v", ev.ID, ev.Type, s, ev)
				}
			}
		}
	})
	return e
}

// eventText lists every text an audit event stores.
func eventText(ev security.Event) []string {
	out := []string{string(ev.Type), ev.ActorSessionID, ev.Subject, ev.IP}
	for k, v := range ev.Details {
		out = append(out, k, v)
	}
	return out
}

// serve points the env's requests at a new test server running handler.
// Every exchange through the server's client (e.srv.Client()) is checked
// against the OpenAPI document (see package openapitest for the rules: the
// response always, the request when it succeeded).
func (e *env) serve(handler http.Handler) {
	if e.srv != nil {
		e.srv.Close()
	}
	e.srv = httptest.NewServer(handler)
	v, err := openapitest.Shared()
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.srv.Client()
	c.Transport = v.Transport(e.t, c.Transport)
}

func (e *env) addSecret(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, s)
}

// login creates a session of kind for user directly through the manager and
// returns its credential and public id.
func (e *env) login(user int64, kind session.Kind) (token, id string) {
	e.t.Helper()
	res, err := e.mgr.Login(context.Background(), session.LoginRequest{Email: email(user), Password: password(user),
		Kind: kind, IP: netip.MustParseAddr("203.0.113.10"), UserAgent: "test-agent"})
	if err != nil {
		e.t.Fatalf("login %d: %v", user, err)
	}
	e.addSecret(res.Token)
	return res.Token, res.Session.ID
}

// bearer returns a live bearer token of user.
func (e *env) bearer(user int64) string {
	tok, _ := e.login(user, session.KindMobile)
	return tok
}

// request describes one HTTP request to the test server.
type request struct {
	method, path string
	body         string
	bearer       string
	cookie       string
	header       http.Header
	// contentType defaults to application/json when a body is given; "-"
	// sends none.
	contentType string
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (e *env) do(rq request) response {
	e.t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req, err := http.NewRequest(rq.method, e.srv.URL+rq.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range rq.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	switch {
	case rq.contentType == "-":
	case rq.contentType != "":
		req.Header.Set("Content-Type", rq.contentType)
	case rq.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	if rq.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+rq.bearer)
	}
	if rq.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-propsec_session", Value: rq.cookie})
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		e.t.Fatalf("%s %s: body is not JSON: %q", req.Method, req.URL.Path, raw)
	}
	// Every credential the server hands out is a secret: bearer and CSRF
	// tokens in data.token, session cookies.
	if tok, ok := r.data()["token"].(string); ok && tok != "" {
		e.addSecret(tok)
	}
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			e.addSecret(c.Value)
		}
	}
	for _, h := range []string{"Content-Type", "Cache-Control"} {
		want := map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}[h]
		if got := resp.Header.Get(h); got != want {
			e.t.Errorf("%s %s: %s = %q, want %q", req.Method, req.URL.Path, h, got, want)
		}
	}
	return r
}

// csrfToken fetches a CSRF token for the session of bearer.
func (e *env) csrfToken(bearer string) string {
	e.t.Helper()
	return e.csrfTokenFor(request{bearer: bearer})
}

// csrfTokenFor fetches a CSRF token for the session whose credential cred
// carries (bearer or cookie).
func (e *env) csrfTokenFor(cred request) string {
	e.t.Helper()
	r := e.do(request{method: "GET", path: "/api/security/csrf-token", bearer: cred.bearer, cookie: cred.cookie})
	r.ok(e.t, "CSRF token issued")
	tok := r.data()["token"].(string)
	e.addSecret(tok)
	return tok
}

// sessionsPost is a POST /api/security/sessions as bearer with a body of
// fields and a fresh CSRF token.
func (e *env) sessionsPost(bearer string, fields map[string]any) request {
	e.t.Helper()
	return e.csrfPost("/api/security/sessions", bearer, fields)
}

// csrfPost is a POST to path as bearer with a body of fields and a fresh
// CSRF token.
func (e *env) csrfPost(path, bearer string, fields map[string]any) request {
	e.t.Helper()
	f := map[string]any{"csrf_token": e.csrfToken(bearer)}
	for k, v := range fields {
		f[k] = v
	}
	return request{method: "POST", path: path, bearer: bearer, body: jsonBody(f)}
}

// post sends [env.sessionsPost].
func (e *env) post(bearer string, fields map[string]any) response {
	e.t.Helper()
	return e.do(e.sessionsPost(bearer, fields))
}

// refuse sends rq and asserts that it is refused with status and code and
// that it changed nothing.
func (e *env) refuse(t *testing.T, rq request, status int, code string) response {
	t.Helper()
	before := e.snap()
	r := e.do(rq)
	r.refused(t, status, code)
	e.unchanged(t, before)
	return r
}

func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (r response) data() map[string]any {
	d, _ := r.body["data"].(map[string]any)
	return d
}

func (r response) list() []any {
	l, _ := r.body["data"].([]any)
	return l
}

// ok asserts a 200 success with message.
func (r response) ok(t *testing.T, message string) {
	t.Helper()
	if r.status != http.StatusOK || r.body["success"] != true || r.body["message"] != message {
		t.Fatalf("got %d %s, want 200 with message %q", r.status, r.raw, message)
	}
}

// refused asserts an error response with status and code.
func (r response) refused(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status || r.body["success"] != false || r.body["error"] != code {
		t.Fatalf("got %d %s, want %d %q", r.status, r.raw, status, code)
	}
	if msg, _ := r.body["message"].(string); msg == "" {
		t.Fatalf("error response without message: %s", r.raw)
	}
	if _, has := r.body["data"]; has {
		t.Fatalf("error response with data: %s", r.raw)
	}
}

// refuseLogin sends a login rq and asserts that it is refused with status
// and code, sets no cookie, and changes nothing but recording the failed
// attempt.
func (e *env) refuseLogin(t *testing.T, rq request, status int, code string) response {
	t.Helper()
	before := e.snap()
	r := e.do(rq)
	r.refused(t, status, code)
	if r.header.Get("Set-Cookie") != "" {
		t.Fatal("a refused login set a cookie")
	}
	after := e.snap()
	if n := len(before.Events); len(after.Events) != n+1 || !strings.HasPrefix(after.Events[n], string(security.EventLoginFailed)) {
		t.Fatalf("want one login_failed event, got %v", after.Events[n:])
	}
	after.Events = before.Events
	e.compare(t, before, after)
	return r
}

// snapshot is the state a refused request must leave alone.
type snapshot struct {
	Live      []string
	Blacklist []int64
	Events    []string
}

func (e *env) snap() snapshot {
	e.t.Helper()
	ctx := context.Background()
	live, _, err := e.mem.ListSessions(ctx, session.ListQuery{Now: e.clock.Now(), Limit: 1 << 30})
	if err != nil {
		e.t.Fatal(err)
	}
	var s snapshot
	for _, x := range live {
		s.Live = append(s.Live, x.ID)
	}
	slices.Sort(s.Live)
	bl, err := e.mem.Blacklist(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, b := range bl {
		s.Blacklist = append(s.Blacklist, b.UserID)
	}
	events, err := e.mem.Events(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range events {
		s.Events = append(s.Events, fmt.Sprintf("%s %s", ev.Type, ev.Subject))
	}
	return s
}

// unchanged asserts that the state is what before says.
func (e *env) unchanged(t *testing.T, before snapshot) {
	t.Helper()
	e.compare(t, before, e.snap())
}

func (e *env) compare(t *testing.T, before, after snapshot) {
	t.Helper()
	if !slices.Equal(before.Live, after.Live) || !slices.Equal(before.Blacklist, after.Blacklist) ||
		!slices.Equal(before.Events, after.Events) {
		t.Fatalf("a refused request changed the state:\nbefore %+v\nafter  %+v", before, after)
	}
}

// eventsOf counts the recorded events of typ.
func (e *env) eventsOf(typ security.EventType) int {
	e.t.Helper()
	events, err := e.mem.Events(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// live reports whether the session with public id id is live.
func (e *env) live(id string) bool {
	e.t.Helper()
	s, err := e.mem.SessionByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Live(e.clock.Now())
}
