package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/sqlitestore"
)

// probe asks url with method and returns the status, the decoded answer
// (GET) and the raw body.
func probe(t *testing.T, method, url string) (int, readyAnswer, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var a readyAnswer
	if method == http.MethodGet && resp.StatusCode != http.StatusMethodNotAllowed {
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		require.NoError(t, json.Unmarshal(body, &a), "%s", body)
	}
	return resp.StatusCode, a, string(body)
}

// The running server answers both probes without authentication, with GET
// and HEAD.
func TestServerHealth(t *testing.T) {
	dir := t.TempDir()
	base, _ := server(t, "-db", filepath.Join(dir, "p.db"), "-watch", t.TempDir(),
		"-integrity-key", strings.Repeat("ab", 32))

	code, a, _ := probe(t, "GET", base+"/healthz")
	require.Equal(t, 200, code)
	require.Equal(t, readyAnswer{Status: "ok"}, a)

	code, a, _ = probe(t, "GET", base+"/readyz")
	require.Equal(t, 200, code)
	require.Equal(t, readyAnswer{Status: "ok", Checks: map[string]string{
		"store": "ok", "migrations": "ok", "audit": "ok", "baselines": "ok"}}, a)

	for _, path := range []string{"/healthz", "/readyz"} {
		code, _, body := probe(t, "HEAD", base+path)
		require.Equal(t, 200, code, "HEAD %s", path)
		require.Empty(t, body)
		code, _, _ = probe(t, "POST", base+path)
		require.Equal(t, http.StatusMethodNotAllowed, code, "POST %s", path)
	}
}

// An audit chain that failed verification at start keeps the server
// running but not ready.
func TestServerNotReadyWhenAuditTampered(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	base, _ := server(t, "-db", db, "-audit-anchor", "999:"+strings.Repeat("ab", 32))
	code, a, _ := probe(t, "GET", base+"/readyz")
	require.Equal(t, 503, code)
	require.Equal(t, "not_ready", a.Status)
	require.Equal(t, "tampered", a.Checks["audit"])
	require.Equal(t, "ok", a.Checks["store"])
	code, _, _ = probe(t, "GET", base+"/healthz")
	require.Equal(t, 200, code, "the process is up all the same")
}

// failingStore is a store whose database does not answer; its error holds
// a secret, which must reach the log at most, never the answer.
type failingStore struct{}

func (failingStore) SchemaVersion(context.Context) (int, int, error) {
	return 0, 0, errors.New("connect postgres://app:hunter2@db.internal/propsec: refused")
}

// fixedSchema is a store that answers with a given schema version.
type fixedSchema struct{ current, latest int }

func (f fixedSchema) SchemaVersion(context.Context) (int, int, error) {
	return f.current, f.latest, nil
}

func TestReadiness(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T) *sqlitestore.Store {
		st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	monitor := func(t *testing.T, st integrity.Store, baseline bool) *integrity.Monitor {
		mon, err := integrity.New(integrity.Config{Store: st, Key: bytes.Repeat([]byte{7}, 32), Roots: []string{t.TempDir()}})
		require.NoError(t, err)
		t.Cleanup(func() { mon.Close() })
		if baseline {
			_, err := mon.Init(ctx)
			require.NoError(t, err)
		}
		return mon
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T) *readiness
		code int
		want map[string]string
	}{
		{"all well", func(t *testing.T) *readiness {
			st := open(t)
			return &readiness{store: st, auditOK: true, monitor: monitor(t, st, true)}
		}, 200, map[string]string{"store": "ok", "migrations": "ok", "audit": "ok", "baselines": "ok"}},
		{"no -watch: no baselines check", func(t *testing.T) *readiness {
			return &readiness{store: open(t), auditOK: true}
		}, 200, map[string]string{"store": "ok", "migrations": "ok", "audit": "ok"}},
		{"store closed", func(t *testing.T) *readiness {
			st := open(t)
			require.NoError(t, st.Close())
			return &readiness{store: st, auditOK: true}
		}, 503, map[string]string{"store": "unreachable", "migrations": "unknown", "audit": "ok"}},
		{"store closed, with -watch", func(t *testing.T) *readiness {
			st := open(t)
			mon := monitor(t, st, true)
			require.NoError(t, st.Close())
			return &readiness{store: st, auditOK: true, monitor: mon}
		}, 503, map[string]string{"store": "unreachable", "migrations": "unknown", "audit": "ok", "baselines": "unknown"}},
		{"store refuses, secret in its error", func(t *testing.T) *readiness {
			return &readiness{store: failingStore{}, auditOK: true}
		}, 503, map[string]string{"store": "unreachable", "migrations": "unknown", "audit": "ok"}},
		{"schema behind", func(t *testing.T) *readiness {
			return &readiness{store: fixedSchema{5, 6}, auditOK: true}
		}, 503, map[string]string{"store": "ok", "migrations": "behind", "audit": "ok"}},
		{"schema newer", func(t *testing.T) *readiness {
			return &readiness{store: fixedSchema{7, 6}, auditOK: true}
		}, 503, map[string]string{"store": "ok", "migrations": "newer", "audit": "ok"}},
		{"audit tampered", func(t *testing.T) *readiness {
			return &readiness{store: open(t), auditOK: false}
		}, 503, map[string]string{"store": "ok", "migrations": "ok", "audit": "tampered"}},
		{"a root without baseline", func(t *testing.T) *readiness {
			st := open(t)
			return &readiness{store: st, auditOK: true, monitor: monitor(t, st, false)}
		}, 503, map[string]string{"store": "ok", "migrations": "ok", "audit": "ok", "baselines": "missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := tc.make(t)
			var logs strings.Builder
			rd.log = slog.New(slog.NewTextHandler(&logs, nil))
			mux := http.NewServeMux()
			registerHealth(mux, rd)
			for range 2 {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
				require.Equal(t, tc.code, rec.Code)
				var a readyAnswer
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
				require.Equal(t, tc.want, a.Checks)
				require.Equal(t, map[bool]string{true: "ok", false: "not_ready"}[tc.code == 200], a.Status)
				require.NotContains(t, rec.Body.String(), "hunter2")
				require.NotContains(t, rec.Body.String(), "/", "no path or URL in the answer")
			}
			want := "level=INFO msg=ready"
			if tc.code != 200 {
				want = "level=WARN msg=\"not ready\""
			}
			require.Equal(t, 1, strings.Count(logs.String(), want), "logged once, on the change: %s", logs.String())
		})
	}
}
