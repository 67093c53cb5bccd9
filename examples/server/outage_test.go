package main

import (
	"encoding/json"
	"fmt"
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
		for {
			select {
			case <-stop:
				return
			default:
			}
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
		}
	})

	for acks.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	c.Stop(t)

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
