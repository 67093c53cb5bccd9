package promexport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/promexport"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

const (
	adminEmail = "alice.secret@example.com"
	bobEmail   = "bob.private@example.com"
	carolEmail = "carol.hidden@example.com"
	clientIP   = "203.0.113.99"
)

// env is a real adapter on memstore, measured by an Exporter.
type env struct {
	t   *testing.T
	srv *httptest.Server
	reg *prometheus.Registry
	mgr *session.Manager
	// secrets are values no label may contain.
	secrets []string
}

func newEnv(t *testing.T) *env {
	ctx := context.Background()
	st := memstore.New()
	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1}
	users := []struct {
		id    int64
		email string
	}{{4242, adminEmail}, {7777, bobEmail}, {9191, carolEmail}}
	for _, u := range users {
		hash, err := hasher.Hash("pw-" + u.email)
		require.NoError(t, err)
		require.NoError(t, st.UpsertUser(ctx, session.User{PasswordHash: hash, Principal: security.Principal{
			UserID: u.id, Name: "User " + u.email, Email: u.email, AccountType: security.AccountStaff,
			Permissions: security.AllPermissions}}))
	}
	reg := prometheus.NewRegistry()
	exp, err := promexport.New(promexport.Config{Registerer: reg, Sessions: st, Alerts: st})
	require.NoError(t, err)
	mgr, err := session.New(session.Config{Store: st, Users: st, Hasher: hasher, Observer: exp,
		MaxFailuresPerEmail: 2})
	require.NoError(t, err)
	key, err := st.Secret(ctx, "csrf-key", 32)
	require.NoError(t, err)
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: st})
	require.NoError(t, err)
	h, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf, Observer: exp, Events: st,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { h.Run(runCtx); close(done) }()
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); stop(); <-done })
	return &env{t: t, srv: srv, reg: reg, mgr: mgr,
		secrets: []string{adminEmail, bobEmail, carolEmail, "example.com", clientIP, "4242", "7777", "9191"}}
}

// do sends a JSON request from clientIP and decodes the envelope.
func (e *env) do(method, path, token, body string, hdr ...string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", clientIP)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var env map[string]any
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&env))
	return resp.StatusCode, env
}

func (e *env) login(email, password string) (int, string) {
	e.t.Helper()
	status, body := e.do("POST", "/api/security/mobile-auth", "",
		fmt.Sprintf(`{"email": %q, "password": %q}`, email, password))
	if status != http.StatusOK {
		return status, ""
	}
	tok := body["data"].(map[string]any)["token"].(string)
	e.secrets = append(e.secrets, tok)
	return status, tok
}

func (e *env) csrfToken(token string) string {
	e.t.Helper()
	status, body := e.do("GET", "/api/security/csrf-token", token, "")
	require.Equal(e.t, http.StatusOK, status)
	tok := body["data"].(map[string]any)["token"].(string)
	e.secrets = append(e.secrets, tok)
	return tok
}

// series gathers the registry as "name{label=value}" → value, and checks
// that no label value contains a secret.
func (e *env) series() map[string]float64 {
	e.t.Helper()
	fams, err := e.reg.Gather()
	require.NoError(e.t, err)
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				for _, s := range e.secrets {
					require.NotContains(e.t, l.GetValue(), s, "label %s of %s", l.GetName(), f.GetName())
				}
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = value(f.GetType(), m)
		}
	}
	return out
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return -1
}

func TestExporterThroughTheAdapter(t *testing.T) {
	e := newEnv(t)
	status, admin := e.login(adminEmail, "pw-"+adminEmail)
	require.Equal(t, http.StatusOK, status)
	_, other := e.login(adminEmail, "pw-"+adminEmail)
	_, carol := e.login(carolEmail, "pw-"+carolEmail)
	require.NotEmpty(t, carol)

	for range 2 {
		status, _ = e.login(bobEmail, "wrong")
		require.Equal(t, http.StatusUnauthorized, status)
	}
	status, _ = e.login(bobEmail, "pw-"+bobEmail)
	require.Equal(t, http.StatusTooManyRequests, status, "bob is locked out")

	status, _ = e.do("GET", "/api/security/sessions?action=list", admin, "")
	require.Equal(t, http.StatusOK, status)
	status, _ = e.do("GET", "/api/security/sessions?action=list", security.NewToken(), "")
	require.Equal(t, http.StatusUnauthorized, status)

	// CSRF refusals, one of each reason.
	oa, err := e.mgr.Authenticate(context.Background(), other)
	require.NoError(t, err)
	otherSess := oa.Session.ID
	e.secrets = append(e.secrets, otherSess)
	terminate := func(csrf string) int {
		body := fmt.Sprintf(`{"action": "terminate", "session_id": %q`, otherSess)
		if csrf != "" {
			body += fmt.Sprintf(`, "csrf_token": %q`, csrf)
		}
		status, _ := e.do("POST", "/api/security/sessions", admin, body+"}")
		return status
	}
	require.Equal(t, http.StatusForbidden, terminate(""), "missing")
	require.Equal(t, http.StatusForbidden, terminate(strings.Repeat("z", security.CSRFTokenLen)), "forged")
	require.Equal(t, http.StatusForbidden, terminate(e.csrfToken(other)), "foreign")
	tok := e.csrfToken(admin)
	require.Equal(t, http.StatusOK, terminate(tok))
	require.Equal(t, http.StatusForbidden, terminate(tok), "replayed")
	status, _ = e.do("POST", "/api/security/sessions", admin, `{"action": "terminate"}`,
		"Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, status, "cross-origin")

	// Blacklist carol; her login is then refused.
	status, _ = e.do("POST", "/api/security/sessions", admin,
		fmt.Sprintf(`{"action": "blacklist_add", "user_id": 9191, "reason": "test", "csrf_token": %q}`, e.csrfToken(admin)))
	require.Equal(t, http.StatusOK, status)
	status, _ = e.login(carolEmail, "pw-"+carolEmail)
	require.Equal(t, http.StatusForbidden, status)

	got := e.series()
	want := map[string]float64{
		"propsec_logins_total{result=ok}":                         3,
		"propsec_logins_total{result=bad_credentials}":            2,
		"propsec_logins_total{result=throttled}":                  1,
		"propsec_logins_total{result=blacklisted}":                1,
		"propsec_lockouts_total{key=email}":                       1,
		"propsec_authentications_seconds{result=unauthenticated}": 1,
		"propsec_authentications_seconds{result=ok}":              11, // 10 requests and one direct check
		"propsec_csrf_refusals_total{reason=missing}":             1,
		"propsec_csrf_refusals_total{reason=forged}":              1,
		"propsec_csrf_refusals_total{reason=foreign}":             1,
		"propsec_csrf_refusals_total{reason=replayed}":            1,
		"propsec_csrf_refusals_total{reason=expired}":             0,
		"propsec_csrf_refusals_total{reason=cross_origin}":        1,
		"propsec_sessions_terminated_total{reason=terminated}":    1,
		"propsec_sessions_terminated_total{reason=blacklisted}":   1,
		"propsec_users_blacklisted_total{}":                       1,
		"propsec_sessions_live{}":                                 1, // admin's first
		"propsec_alerts_open{severity=critical}":                  0,
		"propsec_store_errors_total{kind=error}":                  0,
	}
	for k, v := range want {
		require.Contains(t, got, k)
		require.Equal(t, v, got[k], k)
	}
	// Every authenticated request was timed: 1 list, 3 CSRF tokens, 6
	// session changes with a credential (the cross-origin one is refused
	// before authentication).
	var authed float64
	for _, c := range []string{"2xx", "4xx"} {
		authed += got["propsec_authenticated_requests_seconds{class="+c+"}"]
	}
	require.Equal(t, float64(1+3+6), authed)
}

func TestExporterClampsUnknownValues(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := promexport.New(promexport.Config{Registerer: reg})
	require.NoError(t, err)
	exp.Observe(security.Measurement{Kind: security.KindLogin, Result: "alice@example.com"})
	exp.Observe(security.Measurement{Kind: security.KindCSRFRefused, Result: "198.51.100.1"})
	exp.Observe(security.Measurement{Kind: "user:4242"})
	e := &env{t: t, reg: reg, secrets: []string{"alice", "198.51.100.1", "4242"}}
	got := e.series()
	require.Equal(t, 1.0, got["propsec_logins_total{result=other}"])
	require.Equal(t, 1.0, got["propsec_csrf_refusals_total{reason=other}"])
	require.Equal(t, 1.0, got["propsec_unknown_measurements_total{}"])
}

func TestNewNeedsARegisterer(t *testing.T) {
	_, err := promexport.New(promexport.Config{})
	require.Error(t, err)
	reg := prometheus.NewRegistry()
	_, err = promexport.New(promexport.Config{Registerer: reg})
	require.NoError(t, err)
	_, err = promexport.New(promexport.Config{Registerer: reg})
	require.Error(t, err, "registering twice on one registry")
}
