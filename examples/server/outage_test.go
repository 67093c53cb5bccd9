package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/pgtest"
)

// PostgreSQL stops (as in a crash) while the server is busy, then comes
// back. While it is down every request that needs it fails with 503 (never
// a 200 with wrong data, never a 401 or 404 that would take the outage for
// a bad token or a missing row); after it is back everything works, and
// every revocation the server acknowledged is still there.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster and a server process")
	}
	c := pgtest.NewCluster(t)
	base, _ := serverProcess(t, "-db", c.DSN, "-users", pgUsers(t))
	admin := login(t, base, "admin@example.com")
	const n = 24
	bobs := make([]string, n)
	for i := range bobs {
		bobs[i] = login(t, base, "bob@example.com")
	}

	// A writer revokes bob's tokens one after another, noting which
	// revocations were acknowledged; a reader keeps asking who the admin
	// is. Both run across the outage.
	var acked sync.Map // token → true, revocation answered 200
	var attempted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopAll := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer stopAll() // also when a check below fails
	var bad []string
	var badMu sync.Mutex
	note := func(format string, args ...any) {
		badMu.Lock()
		bad = append(bad, fmt.Sprintf(format, args...))
		badMu.Unlock()
	}
	var acks atomic.Int64
	wg.Go(func() {
		for _, tok := range bobs[:n/2] {
			select {
			case <-stop:
				return
			default:
			}
			attempted.Add(1)
			code, env := call(t, "DELETE", base+"/api/security/mobile-auth", tok, nil)
			switch {
			case code == 200:
				acked.Store(tok, true)
				acks.Add(1)
			case code == 503 && env.Error == "unavailable":
			default:
				note("revoke: %d %s %s", code, env.Error, env.Message)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	var readerOK, reader503 atomic.Int64
	wg.Go(func() {
		repeat(stop, func() {
			code, env := call(t, "GET", base+"/api/me", admin, nil)
			switch {
			case code == 200:
				var me struct {
					UserID int64 `json:"user_id"`
				}
				if err := json.Unmarshal(env.Data, &me); err != nil || me.UserID != 1 {
					note("me: 200 with %s", env.Data)
				}
				readerOK.Add(1)
			case code == 503 && env.Error == "unavailable":
				reader503.Add(1)
			default:
				note("me: %d %s %s", code, env.Error, env.Message)
			}
			time.Sleep(5 * time.Millisecond)
		})
	})

	for acks.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	code, ready, _ := probe(t, "GET", base+"/readyz")
	require.Equal(t, 200, code, "ready before the outage: %v", ready.Checks)
	c.Stop(t)
	// Not ready while down, without a word of the DSN; the process is up.
	code, ready, body := probe(t, "GET", base+"/readyz")
	require.Equal(t, 503, code)
	require.Equal(t, map[string]string{"store": "unreachable", "migrations": "unknown", "audit": "ok"}, ready.Checks)
	require.NotContains(t, body, c.DSN)
	code, _, _ = probe(t, "GET", base+"/healthz")
	require.Equal(t, 200, code)

	// Down: each kind of request answers 503 with the JSON error.
	for _, r := range []struct {
		method, path, bearer string
		body                 any
	}{
		{"GET", "/api/me", admin, nil},
		{"GET", "/api/security/csrf-token", admin, nil},
		{"GET", "/api/security/sessions?action=list", admin, nil},
		{"DELETE", "/api/security/mobile-auth", bobs[n-1], nil},
		{"POST", "/api/security/mobile-auth", "", map[string]string{"email": "carol@example.com", "password": pgPassword}},
		{"POST", "/api/security/mobile-auth", "", map[string]string{"email": "carol@example.com", "password": "wrong password"}},
	} {
		code, env := call(t, r.method, base+r.path, r.bearer, r.body)
		require.Equal(t, 503, code, "%s %s while PostgreSQL is down: %s %s", r.method, r.path, env.Error, env.Message)
		require.Equal(t, "unavailable", env.Error)
		require.False(t, env.Success)
	}

	c.Start(t)
	deadline := time.Now().Add(time.Minute)
	for {
		code, _ := call(t, "GET", base+"/api/me", admin, nil)
		if code == 200 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the server did not recover within a minute of PostgreSQL's restart (last %d)", code)
		time.Sleep(50 * time.Millisecond)
	}
	code, ready, _ = probe(t, "GET", base+"/readyz")
	require.Equal(t, 200, code, "ready again: %v", ready.Checks)
	stopAll()
	require.Empty(t, bad, "answers other than 200 or 503 across the outage")
	t.Logf("revocations: %d attempted, %d acknowledged; reader: %d ok, %d unavailable",
		attempted.Load(), acks.Load(), readerOK.Load(), reader503.Load())
	require.Positive(t, reader503.Load(), "the reader saw the outage")

	// Back: every acknowledged revocation held; the tokens nobody touched
	// still work, including the one whose revocation failed while down.
	for i, tok := range bobs {
		code, env := call(t, "GET", base+"/api/me", tok, nil)
		if _, ok := acked.Load(tok); ok {
			require.Equal(t, 401, code, "token %d: its acknowledged revocation was lost", i)
		} else if i >= n/2 {
			require.Equal(t, 200, code, "token %d, never revoked: %s", i, env.Message)
		}
	}
	code, env := call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": "carol@example.com", "password": pgPassword})
	require.Equal(t, 200, code, env.Message)
}

// The phases of an outage round, in the order they come; phase numbers
// count up through them (phase%4 is the kind), so two equal readings mean
// no change in between.
const (
	phaseUp       = iota // PostgreSQL runs: every answer is 2xx
	phaseStopping        // pg_ctl stop is under way: 2xx or 503
	phaseDown            // PostgreSQL is stopped: every answer is 503
	phaseStarting        // pg_ctl start is under way: 2xx or 503
)

// dave (4) is the user the blacklist requests of TestPostgresOutageRounds
// add and remove.
var dave = map[string]any{"id": 4, "name": "Dave", "email": "dave@example.com", "password": pgPassword,
	"account_type": "customer"}

// outageRounds is how many times TestPostgresOutageRounds stops and starts
// PostgreSQL.
const outageRounds = 20

// TestPostgresOutageRounds stops PostgreSQL (pg_ctl stop -m immediate,
// as in a crash) and starts it again, 20 times, while requests of every
// kind run concurrently against the in-process server: logins and token
// revocations, authenticated reads, the sessions list, a CSRF token and a
// terminate, blacklist additions and removals, the integrity alerts list
// and the security report. While PostgreSQL is down every answer is 503
// with the JSON envelope (never a 500, never a 401 or 404 that would take
// the outage for a bad token or a missing row); once it is back, every
// request succeeds, the first one of each kind included: no stale pooled
// connection is handed out and no lost connection escapes as a 500.
func TestPostgresOutageRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster and stops it 20 times")
	}
	c := pgtest.NewCluster(t)
	www := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(www, "index.php"), []byte("<?php echo 'hello';\n"), 0o644))
	log := new(lockedBuffer)
	base, _ := serverLogging(t, log, "-db", c.DSN, "-users", pgUsers(t, dave), "-watch", www,
		"-integrity-key", strings.Repeat("ab", 32), "-trusted-proxy", "127.0.0.1/32")
	o := &outage{base: base, client: &http.Client{Timeout: time.Minute}}
	o.admin = login(t, base, "admin@example.com")

	kinds := []*kind{
		{name: "login and revoke", op: o.loginRevoke},
		{name: "me", op: func(k *kind) bool { _, ok := o.do(k, "GET", "/api/me", o.admin, nil); return ok }},
		{name: "sessions list", op: func(k *kind) bool {
			_, ok := o.do(k, "GET", "/api/security/sessions?action=list", o.admin, nil)
			return ok
		}},
		{name: "csrf and terminate", op: o.terminate},
		{name: "blacklist", op: o.blacklist, blacklisted: -1},
		{name: "integrity alerts", op: func(k *kind) bool {
			_, ok := o.do(k, "GET", "/api/security/file-integrity-alerts", o.admin, nil)
			return ok
		}},
		{name: "report", op: func(k *kind) bool {
			_, ok := o.do(k, "GET", "/api/admin/security-report", o.admin, nil)
			return ok
		}},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopAll := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer stopAll() // also when a check below fails
	for i, k := range kinds {
		k.index = i
		wg.Go(func() {
			repeat(stop, func() {
				p := o.phase.Load()
				if k.op(k) && o.phase.Load() == p && p%4 == phaseUp {
					k.ok.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			})
		})
	}

	// await waits until counter of every kind has grown, or fails.
	await := func(what string, counter func(*kind) *atomic.Int64) {
		t.Helper()
		from := make([]int64, len(kinds))
		for i, k := range kinds {
			from[i] = counter(k).Load()
		}
		deadline := time.Now().Add(time.Minute)
		for i, k := range kinds {
			for counter(k).Load() == from[i] && len(o.violations()) == 0 {
				if time.Now().After(deadline) {
					stopAll()
					t.Fatalf("%s: no %s within a minute; violations: %q\nserver errors:\n%s",
						k.name, what, o.violations(), serverErrors(log.String()))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		if v := o.violations(); len(v) > 0 {
			stopAll()
			t.Fatalf("answers against the rule:\n%s\nserver errors:\n%s", strings.Join(v, "\n"), serverErrors(log.String()))
		}
	}
	ok := func(k *kind) *atomic.Int64 { return &k.ok }
	down := func(k *kind) *atomic.Int64 { return &k.down }
	for range outageRounds {
		await("success while PostgreSQL is up", ok)
		o.phase.Add(1) // stopping
		c.Stop(t)
		o.phase.Add(1) // down
		await("503 while PostgreSQL is down", down)
		o.phase.Add(1) // starting
		c.Start(t)
		o.phase.Add(1) // up
	}
	await("success after the last restart", ok)
	stopAll()
	require.Empty(t, o.violations())
	for _, k := range kinds {
		t.Logf("%s: %d operations succeeded while up, %d answers 503 while down", k.name, k.ok.Load(), k.down.Load())
	}
}

// serverErrors returns the ERROR lines of a server log.
func serverErrors(log string) string {
	var out []string
	for l := range strings.Lines(log) {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}

// outage is the state the request kinds of TestPostgresOutageRounds share.
type outage struct {
	base   string
	client *http.Client
	admin  string       // the staff user's bearer token
	phase  atomic.Int64 // see phaseUp
	ips    atomic.Int64 // numbers each login's client address

	mu  sync.Mutex
	bad []string
}

// kind is one kind of request sequence, run over and over by a goroutine
// of its own.
type kind struct {
	name  string
	index int
	op    func(*kind) bool // reports whether every request of it was 2xx
	ok    atomic.Int64     // operations that succeeded while PostgreSQL was up
	down  atomic.Int64     // answers 503 while PostgreSQL was down

	blacklisted int // for the blacklist kind: 1 dave is, 0 he is not, -1 unknown
}

func (o *outage) note(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bad = append(o.bad, fmt.Sprintf(format, args...))
}

func (o *outage) violations() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.bad...)
}

// do sends one request and checks its answer against the phase it was
// sent and answered in: 2xx while PostgreSQL was up throughout, 503 with
// the envelope's "unavailable" while it was down throughout, one of the
// two across a change. It reports whether the answer was 2xx.
func (o *outage) do(k *kind, method, path, bearer string, body any) (envelope, bool) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			panic(err)
		}
	}
	req, err := http.NewRequest(method, o.base+path, bytes.NewReader(b))
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	// Each request comes from an address of its own, so that logins cut
	// short by the outage (a reserved attempt never released) do not add up
	// to the per-IP lockout.
	n := o.ips.Add(1)
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", k.index, n/250%250, n%250+1))

	before := o.phase.Load()
	resp, err := o.client.Do(req)
	var env envelope
	if err == nil {
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
	}
	after := o.phase.Load()
	if err != nil {
		o.note("%s: %s %s: %v", k.name, method, path, err)
		return env, false
	}
	code := resp.StatusCode
	success := code/100 == 2 && env.Success
	unavailable := code == http.StatusServiceUnavailable && !env.Success && env.Error == "unavailable"
	switch {
	case before == after && before%4 == phaseUp && !success:
		o.note("%s: %s %s while PostgreSQL was up: %d %s %q", k.name, method, path, code, env.Error, env.Message)
	case before == after && before%4 == phaseDown && !unavailable:
		o.note("%s: %s %s while PostgreSQL was down: %d %s %q", k.name, method, path, code, env.Error, env.Message)
	case !success && !unavailable:
		o.note("%s: %s %s while PostgreSQL stopped or started: %d %s %q", k.name, method, path, code, env.Error, env.Message)
	}
	if before == after && before%4 == phaseDown && unavailable {
		k.down.Add(1)
	}
	return env, success
}

// loginRevoke logs carol in with a bearer token and revokes it.
func (o *outage) loginRevoke(k *kind) bool {
	tok, ok := o.login(k, "carol@example.com")
	if !ok {
		return false
	}
	_, ok = o.do(k, "DELETE", "/api/security/mobile-auth", tok, nil)
	return ok
}

// terminate logs bob in, finds his new session's id, and has the staff
// user terminate it with a fresh CSRF token.
func (o *outage) terminate(k *kind) bool {
	tok, ok := o.login(k, "bob@example.com")
	if !ok {
		return false
	}
	env, ok := o.do(k, "GET", "/api/me", tok, nil)
	if !ok {
		return false
	}
	var me struct {
		SessionID string `json:"session_id"`
	}
	if err := json.Unmarshal(env.Data, &me); err != nil || me.SessionID == "" {
		o.note("%s: /api/me answered %s", k.name, env.Data)
		return false
	}
	csrf, ok := o.csrf(k)
	if !ok {
		return false
	}
	_, ok = o.do(k, "POST", "/api/security/sessions", o.admin,
		map[string]string{"action": "terminate", "session_id": me.SessionID, "csrf_token": csrf})
	return ok
}

// login logs email in with a bearer token.
func (o *outage) login(k *kind, email string) (string, bool) {
	env, ok := o.do(k, "POST", "/api/security/mobile-auth", "", map[string]string{"email": email, "password": pgPassword})
	return o.token(k, env, ok)
}

// csrf fetches a CSRF token for the staff user's session.
func (o *outage) csrf(k *kind) (string, bool) {
	env, ok := o.do(k, "GET", "/api/security/csrf-token", o.admin, nil)
	return o.token(k, env, ok)
}

// token returns data.token of a successful answer env (ok).
func (o *outage) token(k *kind, env envelope, ok bool) (string, bool) {
	if !ok {
		return "", false
	}
	var d struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.Token == "" {
		o.note("%s: answered %s with no token", k.name, env.Data)
		return "", false
	}
	return d.Token, true
}

// blacklist adds dave to the blacklist, or removes him when he is on it.
// After an answer 503 whether the change was made is unknown, so the list
// is read first.
func (o *outage) blacklist(k *kind) bool {
	if k.blacklisted < 0 {
		env, ok := o.do(k, "GET", "/api/security/sessions?action=blacklist_list", o.admin, nil)
		if !ok {
			return false
		}
		var list []struct {
			UserID int64 `json:"user_id"`
		}
		if err := json.Unmarshal(env.Data, &list); err != nil {
			o.note("%s: blacklist_list answered %s", k.name, env.Data)
			return false
		}
		k.blacklisted = 0
		for _, e := range list {
			if e.UserID == 4 {
				k.blacklisted = 1
			}
		}
	}
	csrf, ok := o.csrf(k)
	if !ok {
		return false
	}
	body := map[string]any{"action": "blacklist_add", "user_id": 4, "reason": "outage test", "csrf_token": csrf}
	if k.blacklisted == 1 {
		body = map[string]any{"action": "blacklist_remove", "user_id": 4, "csrf_token": csrf}
	}
	if _, ok = o.do(k, "POST", "/api/security/sessions", o.admin, body); !ok {
		k.blacklisted = -1
		return false
	}
	k.blacklisted = 1 - k.blacklisted
	return true
}

// repeat calls fn over and over until stop is closed.
func repeat(stop <-chan struct{}, fn func()) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		fn()
	}
}
