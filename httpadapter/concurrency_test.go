package httpadapter_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/propops/propsec/session"
)

// TestCSRFReplayRace replays one single-use CSRF token from many goroutines
// at once: exactly one request may pass.
func TestCSRFReplayRace(t *testing.T) {
	const n = 50
	e := newEnv(t)
	admin := e.bearer(adminID)
	ids := make([]string, n)
	for i := range ids {
		_, ids[i] = e.login(victimID, session.KindMobile)
	}
	token := e.csrfToken(admin)

	var wg sync.WaitGroup
	responses := make([]response, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			responses[i] = e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin,
				body: jsonBody(map[string]any{"action": "terminate", "session_id": ids[i], "csrf_token": token})})
		})
	}
	close(start)
	wg.Wait()

	ok, terminated := 0, 0
	var statuses []int
	for i, r := range responses {
		statuses = append(statuses, r.status)
		if r.status == http.StatusOK {
			ok++
		} else {
			r.refused(t, http.StatusForbidden, "csrf_invalid")
		}
		if !e.live(ids[i]) {
			terminated++
		}
	}
	if ok != 1 || terminated != 1 {
		t.Fatalf("%d requests succeeded and %d sessions were terminated; want 1 and 1 (statuses %v)", ok, terminated, statuses)
	}
}

// TestRevocationRace sends requests on a session while it is revoked: no
// request that started after the revocation returned may succeed.
func TestRevocationRace(t *testing.T) {
	for _, how := range []string{"terminate", "blacklist"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			admin := e.bearer(adminID)
			bearer, bearerID := e.login(victimID, session.KindMobile)
			cookie, _ := e.login(victimID, session.KindWeb)
			csrf := e.csrfToken(admin)

			var revoked atomic.Bool
			firstOK := make(chan struct{})
			var once sync.Once
			var wg sync.WaitGroup
			const workers = 4
			for w := range workers {
				wg.Go(func() {
					rq := request{method: "GET", path: "/host/whoami", bearer: bearer}
					if w%2 == 1 && how == "blacklist" { // blacklisting ends the cookie session too
						rq = request{method: "GET", path: "/host/whoami", cookie: cookie}
					}
					for i := 0; ; i++ {
						startedAfter := revoked.Load()
						r := e.do(rq)
						switch {
						case r.status == http.StatusOK && startedAfter:
							t.Errorf("request %d of worker %d started after the revocation returned and succeeded", i, w)
							return
						case r.status == http.StatusOK:
							once.Do(func() { close(firstOK) })
						case r.status == http.StatusUnauthorized:
							return
						default:
							t.Errorf("unexpected %d %s", r.status, r.raw)
							return
						}
						if i > 10000 {
							t.Error("the session never stopped working")
							return
						}
					}
				})
			}
			allDone := make(chan struct{})
			go func() { wg.Wait(); close(allDone) }()
			select {
			case <-firstOK: // the workers are running against a live session
			case <-allDone:
				t.Fatal("no request succeeded before the revocation")
			}
			body := map[string]any{"action": "terminate", "session_id": bearerID, "csrf_token": csrf}
			msg := "Session terminated"
			if how == "blacklist" {
				body = map[string]any{"action": "blacklist_add", "user_id": victimID, "reason": "race", "csrf_token": csrf}
				msg = "User blacklisted and all sessions terminated"
			}
			r := e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin, body: jsonBody(body)})
			revoked.Store(true)
			r.ok(t, msg)
			wg.Wait()
			if e.live(bearerID) {
				t.Fatal(fmt.Sprint("session ", bearerID, " still live"))
			}
		})
	}
}
