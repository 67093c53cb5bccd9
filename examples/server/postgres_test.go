package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/security"
)

// pgUsers writes a users file: a staff administrator (id 1) and the
// customers bob (2) and carol (3), all with password pgPassword, and then
// the extra users.
func pgUsers(t *testing.T, extra ...map[string]any) string {
	t.Helper()
	users := []map[string]any{
		{"id": 1, "name": "Admin", "email": "admin@example.com", "password": pgPassword, "account_type": "staff",
			"permissions": security.AllPermissions},
		{"id": 2, "name": "Bob", "email": "bob@example.com", "password": pgPassword, "account_type": "customer"},
		{"id": 3, "name": "Carol", "email": "carol@example.com", "password": pgPassword, "account_type": "customer"},
	}
	b, err := json.Marshal(append(users, extra...))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "users.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

const pgPassword = "correct horse battery staple"

// login logs email in with a bearer token at base.
func login(t *testing.T, base, email string) string {
	t.Helper()
	code, env := call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": email, "password": pgPassword})
	require.Equal(t, 200, code, "login %s at %s: %s", email, base, env.Message)
	return token(t, env)
}

// csrfToken fetches a CSRF token for bearer's session at base.
func csrfToken(t *testing.T, base, bearer string) string {
	t.Helper()
	code, env := call(t, "GET", base+"/api/security/csrf-token", bearer, nil)
	require.Equal(t, 200, code, env.Message)
	return token(t, env)
}

// sessionsOf lists the live session ids of user id, as seen at base.
func sessionsOf(t *testing.T, base, admin string, id int) []string {
	t.Helper()
	code, env := call(t, "GET", base+"/api/security/sessions?action=list&user_id="+jsonInt(id), admin, nil)
	require.Equal(t, 200, code, env.Message)
	var list []struct {
		SessionID string `json:"session_id"`
	}
	require.NoError(t, json.Unmarshal(env.Data, &list))
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.SessionID
	}
	return ids
}

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

// Two server processes on one PostgreSQL database: what one does, the
// other enforces at the next request.
func TestMultiInstancePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dsn := pgtest.Schema(t)
	users := pgUsers(t)
	// The two start at once on an empty schema: both must come up (one
	// migrates under the advisory lock, which pgstore's
	// TestMigrateConcurrently checks), and both upsert the same users.
	var a, b string
	var wg sync.WaitGroup
	wg.Go(func() { a, _ = serverProcess(t, "-db", dsn, "-users", users) })
	wg.Go(func() { b, _ = serverProcess(t, "-db", dsn, "-users", users) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	admin := login(t, a, "admin@example.com")
	bob := login(t, b, "bob@example.com")

	// A bearer token terminated on A is refused on B.
	code, _ := call(t, "GET", b+"/api/me", bob, nil)
	require.Equal(t, 200, code)
	code, _ = call(t, "GET", a+"/api/me", bob, nil)
	require.Equal(t, 200, code, "a token issued on B authenticates on A")
	ids := sessionsOf(t, a, admin, 2)
	require.Len(t, ids, 1)
	code, env := call(t, "POST", a+"/api/security/sessions", admin,
		map[string]string{"action": "terminate", "session_id": ids[0], "csrf_token": csrfToken(t, a, admin)})
	require.Equal(t, 200, code, env.Message)
	code, _ = call(t, "GET", b+"/api/me", bob, nil)
	require.Equal(t, 401, code, "B refuses the token A terminated")

	// A blacklisting made on B refuses a login on A, and ends the
	// sessions A had given. (The CSRF token comes from A: the instances
	// share one key, so either checks what the other issued.)
	carol := login(t, a, "carol@example.com")
	code, env = call(t, "POST", b+"/api/security/sessions", admin,
		map[string]any{"action": "blacklist_add", "user_id": 3, "reason": "chargeback fraud", "csrf_token": csrfToken(t, a, admin)})
	require.Equal(t, 200, code, env.Message)
	code, _ = call(t, "GET", a+"/api/me", carol, nil)
	require.Equal(t, 401, code, "A refuses the session of a user B blacklisted")
	code, env = call(t, "POST", a+"/api/security/mobile-auth", "", map[string]string{"email": "carol@example.com", "password": pgPassword})
	require.Equal(t, 403, code, "A refuses the login of a user B blacklisted: %s", env.Message)
	require.Equal(t, "account_blacklisted", env.Error)

	// 50 concurrent replays of one CSRF token, spread over both
	// instances: exactly one passes the check. The request terminates a
	// live session of bob's, so the one that passes answers 200 and every
	// other answers 403 for the token.
	bob2 := login(t, a, "bob@example.com")
	ids = sessionsOf(t, b, admin, 2)
	require.Len(t, ids, 1)
	token := csrfToken(t, b, admin)
	const n = 50
	codes := make([]int, n)
	errs := make([]string, n)
	var start sync.WaitGroup
	start.Add(1)
	for i := range n {
		base := a
		if i%2 == 1 {
			base = b
		}
		wg.Go(func() {
			start.Wait()
			var env envelope
			codes[i], env = call(t, "POST", base+"/api/security/sessions", admin,
				map[string]string{"action": "terminate", "session_id": ids[0], "csrf_token": token})
			errs[i] = env.Error
		})
	}
	start.Done()
	wg.Wait()
	passed := 0
	for i := range n {
		switch {
		case codes[i] == 200:
			passed++
		case codes[i] == 403 && errs[i] == "csrf_invalid":
		default:
			t.Errorf("replay %d: %d %s", i, codes[i], errs[i])
		}
	}
	require.Equal(t, 1, passed, "exactly one of %d replays of one CSRF token passes", n)
	code, _ = call(t, "GET", a+"/api/me", bob2, nil)
	require.Equal(t, 401, code)
}

// Two instances starting at once on an empty database: exactly one creates
// the administrator and prints its password, which works on both.
func TestMultiInstanceBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dsn := pgtest.Schema(t)
	var out [2][]string
	var base [2]string
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { base[i], out[i] = serverProcess(t, "-db", dsn) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	re := regexp.MustCompile(`email (\S+) password (\S+)`)
	var creds [][]string
	for _, lines := range out {
		for _, l := range lines {
			if m := re.FindStringSubmatch(l); m != nil {
				creds = append(creds, m[1:])
			}
		}
	}
	require.Len(t, creds, 1, "one instance prints the administrator's password: %q", out)
	for _, b := range base {
		code, env := call(t, "POST", b+"/api/security/mobile-auth", "", map[string]string{"email": creds[0][0], "password": creds[0][1]})
		require.Equal(t, 200, code, env.Message)
	}
}
