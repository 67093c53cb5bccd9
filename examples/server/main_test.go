package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/hostsetup"
	"github.com/propops/propsec/internal/pgtest"
)

// server runs the example server in-process on a free port and returns its
// base URL and everything it printed on stdout before it was ready.
func server(t *testing.T, args ...string) (base string, printed []string) {
	t.Helper()
	return serverLogging(t, io.Discard, args...)
}

// serverLogging is [server] with the server's log written to stderr.
func serverLogging(t *testing.T, stderr io.Writer, args ...string) (base string, printed []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "graceful shutdown")
		case <-time.After(20 * time.Second):
			t.Error("server did not shut down")
		}
	})
	return awaitListening(t, pr, func(why string) string {
		if why == "exited" {
			return fmt.Sprintf("server exited before listening: %v", <-done)
		}
		// Fail with the goroutines' stacks rather than hang until the
		// test binary's timeout.
		var buf strings.Builder
		pprof.Lookup("goroutine").WriteTo(&buf, 1)
		return "server not listening after 2 minutes\n" + buf.String()
	})
}

// awaitListening reads the server's stdout, r, until it prints "listening
// on URL", and returns the URL and the lines printed until then; later
// lines are read and dropped. When the output ends first, or after 2
// minutes, it fails t with what failure says for why ("exited" or
// "timeout").
func awaitListening(t *testing.T, r io.Reader, failure func(why string) string) (base string, printed []string) {
	t.Helper()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, r)
	}()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("%s; printed %q", failure("exited"), printed)
			}
			printed = append(printed, line)
			if u, ok := strings.CutPrefix(line, "listening on "); ok {
				go func() {
					for range lines {
					}
				}()
				return u, printed
			}
		case <-deadline:
			t.Fatalf("%s; printed %q", failure("timeout"), printed)
		}
	}
}

type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
	Error   string          `json:"error"`
	Count   *int            `json:"count"`
}

func call(t *testing.T, method, url, bearer string, body any) (int, envelope) {
	t.Helper()
	return callWith(t, method, url, bearer, nil, body)
}

// callWith is [call] with further request headers.
func callWith(t *testing.T, method, url, bearer string, header http.Header, body any) (int, envelope) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var env envelope
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env), "every answer is a JSON envelope")
	return resp.StatusCode, env
}

func token(t *testing.T, env envelope) string {
	t.Helper()
	var d struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(env.Data, &d))
	require.NotEmpty(t, d.Token)
	return d.Token
}

func TestServerTour(t *testing.T) {
	db := filepath.Join(t.TempDir(), "propsec.db")
	base, printed := server(t, "-db", db)
	var email, password string
	re := regexp.MustCompile(`email (\S+) password (\S+)`)
	for _, l := range printed {
		if m := re.FindStringSubmatch(l); m != nil {
			email, password = m[1], m[2]
		}
	}
	require.NotEmpty(t, password, "the first start prints the administrator's credentials: %q", printed)

	code, env := call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": email, "password": password})
	require.Equal(t, 200, code, env.Message)
	require.Equal(t, "Mobile authentication token issued", env.Message)
	bearer := token(t, env)

	code, env = call(t, "GET", base+"/api/security/csrf-token", bearer, nil)
	require.Equal(t, 200, code)
	csrf := token(t, env)

	code, env = call(t, "GET", base+"/api/security/sessions?action=list", bearer, nil)
	require.Equal(t, 200, code, env.Message)
	require.NotNil(t, env.Count)
	require.Equal(t, 1, *env.Count)

	code, env = call(t, "GET", base+"/api/me", bearer, nil)
	require.Equal(t, 200, code, "host routes can sit behind propsec's authentication")
	code, _ = call(t, "GET", base+"/api/me", "", nil)
	require.Equal(t, 401, code)

	// A second token, then terminate it from the first.
	_, env = call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": email, "password": password})
	second := token(t, env)
	_, env = call(t, "GET", base+"/api/security/sessions?action=list", bearer, nil)
	var list []struct {
		SessionID string `json:"session_id"`
		IsCurrent bool   `json:"is_current"`
	}
	require.NoError(t, json.Unmarshal(env.Data, &list))
	require.Len(t, list, 2)
	var other string
	for _, s := range list {
		if !s.IsCurrent {
			other = s.SessionID
		}
	}
	code, env = call(t, "POST", base+"/api/security/sessions", bearer,
		map[string]string{"action": "terminate", "session_id": other, "csrf_token": csrf})
	require.Equal(t, 200, code, env.Message)
	require.Equal(t, "Session terminated", env.Message)
	code, _ = call(t, "GET", base+"/api/security/csrf-token", second, nil)
	require.Equal(t, 401, code, "the terminated token no longer authenticates")

	code, env = call(t, "DELETE", base+"/api/security/mobile-auth", bearer, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "Token revoked", env.Message)
	code, _ = call(t, "GET", base+"/api/security/csrf-token", bearer, nil)
	require.Equal(t, 401, code)
	code, env = call(t, "GET", base+"/api/security/nope", bearer, nil)
	require.Equal(t, 404, code)
	require.False(t, env.Success)
}

func TestServerUsersFile(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	require.NoError(t, os.WriteFile(users, []byte(`[
	 {"id": 42, "name": "Jane Smith", "email": "jane@example.com", "password": "correct horse battery",
	  "account_type": "staff", "permissions": ["api.security.sessions.list"]},
	 {"id": 55, "name": "Joe Tenant", "email": "joe@example.com", "password": "another passphrase",
	  "account_type": "customer", "permissions": []}
	]`), 0o600))
	base, printed := server(t, "-db", filepath.Join(dir, "p.db"), "-users", users)
	for _, l := range printed {
		require.NotContains(t, l, "password", "no administrator is made when users are given")
	}
	code, env := call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": "joe@example.com", "password": "another passphrase"})
	require.Equal(t, 200, code)
	joe := token(t, env)
	code, env = call(t, "GET", base+"/api/security/sessions?action=list", joe, nil)
	require.Equal(t, 403, code, "customers are not staff")
	require.False(t, env.Success)
}

// TestServerTrustedProxy checks -trusted-proxy end to end: the tests'
// requests come from 127.0.0.1, and a login sent with X-Forwarded-For is
// listed with the forwarded client address only when a -trusted-proxy CIDR
// holds 127.0.0.1 (the flag repeats; the rightmost untrusted entry is the
// client, so one the client wrote to its left is ignored). Without the
// flag, or with a CIDR that does not hold the peer, the header is ignored
// and the session's address is the peer's.
func TestServerTrustedProxy(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	require.NoError(t, os.WriteFile(users, []byte(`[
	 {"id": 42, "name": "Jane Smith", "email": "jane@example.com", "password": "correct horse battery",
	  "account_type": "staff", "permissions": ["api.security.sessions.list"]}
	]`), 0o600))
	forwarded := http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.23"}}
	for i, c := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"trusted loopback", []string{"-trusted-proxy", "127.0.0.1/32"}, "198.51.100.23"},
		{"second of two CIDRs", []string{"-trusted-proxy", "10.0.0.0/8", "-trusted-proxy", "127.0.0.0/8"}, "198.51.100.23"},
		{"no flag", nil, "127.0.0.1"},
		{"peer not in the CIDR", []string{"-trusted-proxy", "10.0.0.0/8"}, "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-db", filepath.Join(dir, fmt.Sprintf("p%d.db", i)), "-users", users}, c.flags...)
			base, _ := server(t, args...)
			code, env := callWith(t, "POST", base+"/api/security/mobile-auth", "", forwarded,
				map[string]string{"email": "jane@example.com", "password": "correct horse battery"})
			require.Equal(t, 200, code, env.Message)
			bearer := token(t, env)
			code, env = call(t, "GET", base+"/api/security/sessions?action=list", bearer, nil)
			require.Equal(t, 200, code, env.Message)
			var list []struct {
				IPAddress string `json:"ip_address"`
			}
			require.NoError(t, json.Unmarshal(env.Data, &list))
			require.Len(t, list, 1)
			require.Equal(t, c.want, list[0].IPAddress, "the session's client address")
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-trusted-proxy", "nonsense"}, {"-nope"}, {"extra"}} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		require.Error(t, err, "%q", args)
	}
}

func TestServerIntegrity(t *testing.T) {
	t.Setenv(hostsetup.IntegrityKeyEnv, "")
	db := filepath.Join(t.TempDir(), "p.db")
	integrityScenario(t, func(args ...string) string {
		base, _ := server(t, append([]string{"-db", db}, args...)...)
		return base
	})
	st, err := os.Stat(db + ".integrity-key")
	require.NoError(t, err, "a key file is made beside the database")
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

// The same on PostgreSQL, which needs the key given: no key file is kept
// beside a database URL.
func TestServerIntegrityPostgres(t *testing.T) {
	t.Setenv(hostsetup.IntegrityKeyEnv, "")
	dsn := pgtest.Schema(t)
	_, err := startStop(t, "-db", dsn, "-watch", t.TempDir())
	require.ErrorContains(t, err, "-integrity-key")
	integrityScenario(t, func(args ...string) string {
		base, _ := server(t, append([]string{"-db", dsn, "-integrity-key", strings.Repeat("ab", 32)}, args...)...)
		return base
	})
}

// integrityScenario starts a server with start (given -users and -watch),
// tampers with a watched file, runs a check, and finds the alert, on this
// host, and its diff.
func integrityScenario(t *testing.T, start func(args ...string) string) {
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	require.NoError(t, os.MkdirAll(www, 0o755))
	index := filepath.Join(www, "index.php")
	require.NoError(t, os.WriteFile(index, []byte("<?php\necho 'hello';\n"), 0o644))
	users := filepath.Join(dir, "users.json")
	require.NoError(t, os.WriteFile(users, []byte(`[{"id": 1, "name": "Ada", "email": "ada@example.com",
	  "password": "pw pw pw pw", "account_type": "staff", "permissions": ["api.security.file_integrity_alerts.manage"]}]`), 0o600))
	base := start("-users", users, "-watch", www)

	_, env := call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": "ada@example.com", "password": "pw pw pw pw"})
	bearer := token(t, env)
	// The baseline was made before the server listened: tamper now.
	require.NoError(t, os.WriteFile(index, []byte("<?php\necho 'hello';\nsystem($_GET['c']);\n"), 0o644))

	_, env = call(t, "GET", base+"/api/security/csrf-token", bearer, nil)
	code, env := call(t, "POST", base+"/api/security/run-integrity-check", bearer, map[string]string{"csrf_token": token(t, env)})
	require.Equal(t, 200, code, env.Message)
	require.Equal(t, "File integrity check started", env.Message)
	var started struct {
		CheckID string `json:"check_id"`
	}
	require.NoError(t, json.Unmarshal(env.Data, &started))

	var progress struct {
		Status          string `json:"status"`
		ViolationsFound int    `json:"violations_found"`
	}
	for i := 0; ; i++ {
		code, env = call(t, "GET", base+"/api/security/file-integrity-progress?check_id="+started.CheckID, bearer, nil)
		require.Equal(t, 200, code, env.Message)
		require.NoError(t, json.Unmarshal(env.Data, &progress))
		if progress.Status != "running" {
			break
		}
		require.Less(t, i, 500, "the check never finished")
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, "complete", progress.Status)
	require.Equal(t, 1, progress.ViolationsFound)

	code, env = call(t, "GET", base+"/api/security/file-integrity-alerts?status=0&severity=critical", bearer, nil)
	require.Equal(t, 200, code, env.Message)
	var alerts []struct {
		ID       int64  `json:"id"`
		FilePath string `json:"file_path"`
		Host     string `json:"host"`
	}
	require.NoError(t, json.Unmarshal(env.Data, &alerts))
	require.Len(t, alerts, 1)
	require.Equal(t, index, alerts[0].FilePath)
	host, err := os.Hostname()
	require.NoError(t, err)
	require.Equal(t, host, alerts[0].Host, "the alert names the machine that scanned")

	code, env = call(t, "GET", base+"/api/security/file-diff?alert_id="+strconv.FormatInt(alerts[0].ID, 10), bearer, nil)
	require.Equal(t, 200, code, env.Message)
	var diff struct {
		Diff       string `json:"diff"`
		LinesAdded int    `json:"lines_added"`
	}
	require.NoError(t, json.Unmarshal(env.Data, &diff))
	require.Equal(t, 1, diff.LinesAdded)
	require.Contains(t, diff.Diff, "+system($_GET['c']);")
}

func TestIntegrityFlags(t *testing.T) {
	for _, args := range [][]string{{"-scan-interval", "1m"}, {"-watch", "x", "-scan-interval", "-1s"}, {"-realtime"}} {
		_, err := parseFlags(args, io.Discard)
		require.Error(t, err, "%q", args)
	}
	o, err := parseFlags([]string{"-watch", "x", "-realtime"}, io.Discard)
	require.NoError(t, err)
	require.True(t, o.realtime)
	require.Equal(t, time.Hour, o.scanInterval, "real-time detection keeps periodic scans")
}

// cancelOnListen cancels a context once the server says it is listening.
type cancelOnListen struct{ cancel context.CancelFunc }

func (c cancelOnListen) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "listening on") {
		c.cancel()
	}
	return len(p), nil
}

// startStop runs the server until it listens, then shuts it down, and
// returns its log.
func startStop(t *testing.T, args ...string) (string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs strings.Builder
	err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), cancelOnListen{cancel}, &logs)
	return logs.String(), err
}

func TestServerVerifiesAuditAtStart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	logs, err := startStop(t, "-db", db)
	require.NoError(t, err)
	require.Contains(t, logs, "audit log verified")
	_, err = startStop(t, "-db", db, "-audit-anchor", "nonsense")
	require.Error(t, err)
	// An anchor from a longer log than this one: the log was truncated.
	logs, err = startStop(t, "-db", db, "-audit-anchor", "999:"+strings.Repeat("ab", 32))
	require.NoError(t, err, "a broken chain is reported, not fatal")
	require.Contains(t, logs, "AUDIT LOG TAMPERED")
}

func TestServerMetrics(t *testing.T) {
	db := filepath.Join(t.TempDir(), "propsec.db")
	base, printed := server(t, "-db", db, "-metrics-addr", "127.0.0.1:0")
	var metrics, email, password string
	re := regexp.MustCompile(`email (\S+) password (\S+)`)
	for _, l := range printed {
		if u, ok := strings.CutPrefix(l, "metrics on "); ok {
			metrics = u
		}
		if m := re.FindStringSubmatch(l); m != nil {
			email, password = m[1], m[2]
		}
	}
	require.NotEmpty(t, metrics, "printed %q", printed)
	require.NotContains(t, metrics, strings.TrimPrefix(base, "http://"), "a listener of its own")

	code, _ := call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": email, "password": password})
	require.Equal(t, 200, code)
	code, _ = call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": email, "password": "wrong"})
	require.Equal(t, 401, code)

	resp, err := http.Get(metrics)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	for _, want := range []string{`propsec_logins_total{result="ok"} 1`, `propsec_logins_total{result="bad_credentials"} 1`,
		`propsec_sessions_live 1`, `propsec_alerts_open{severity="critical"} 0`, "go_goroutines"} {
		require.Contains(t, string(body), want)
	}
	require.NotContains(t, string(body), email)

	// The API's listener does not serve the metrics.
	resp, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 404, resp.StatusCode)
}

func TestServerNoMetricsByDefault(t *testing.T) {
	_, printed := server(t, "-db", filepath.Join(t.TempDir(), "propsec.db"))
	for _, l := range printed {
		require.NotContains(t, l, "metrics on")
	}
}
