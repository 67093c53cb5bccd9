package httpadapter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// TestLogoutGetNeedsSameOrigin: GET /logout with the session cookie ends
// the session only when the request shows it is same-origin
// (Sec-Fetch-Site same-origin or none, or an Origin of the same host). A
// request with neither header (an older browser's top-level navigation
// from another site) is refused with a 403 naming POST /logout, and
// changes nothing.
func TestLogoutGetNeedsSameOrigin(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name   string
		header http.Header
		ok     bool
	}{
		{"neither header", nil, false},
		{"same-origin", http.Header{"Sec-Fetch-Site": {"same-origin"}}, true},
		{"typed or bookmarked", http.Header{"Sec-Fetch-Site": {"none"}}, true},
		{"same-site", http.Header{"Sec-Fetch-Site": {"same-site"}}, false},
		{"cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false},
		{"cross-site with own origin", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://" + e.srv.Listener.Addr().String()}}, false},
		{"same-host origin", http.Header{"Origin": {"http://" + e.srv.Listener.Addr().String()}}, true},
		{"other origin", http.Header{"Origin": {"https://evil.example"}}, false},
		{"null origin", http.Header{"Origin": {"null"}}, false},
		{"unknown Sec-Fetch-Site", http.Header{"Sec-Fetch-Site": {"x"}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			web, id := e.login(victimID, session.KindWeb)
			rq := request{method: "GET", path: "/logout", cookie: web, header: c.header}
			if c.ok {
				e.do(rq).ok(t, "Logged out")
				if e.live(id) {
					t.Fatal("session still live")
				}
				return
			}
			r := e.refuse(t, rq, http.StatusForbidden, "cross_origin")
			if msg, _ := r.body["message"].(string); !strings.Contains(msg, "POST /logout") {
				t.Errorf("message %q does not name POST /logout", msg)
			}
			if r.header.Get("Set-Cookie") != "" || !e.live(id) {
				t.Fatal("the refused request logged out")
			}
		})
	}
	// A bearer token is sent by the client itself, never by a browser on
	// another site's behalf: GET /logout with one needs no browser header.
	t.Run("bearer without browser headers", func(t *testing.T) {
		tok, id := e.login(victimID, session.KindMobile)
		e.do(request{method: "GET", path: "/logout", bearer: tok}).ok(t, "Logged out")
		if e.live(id) {
			t.Fatal("still live")
		}
	})
	// The Authorization header is then the only credential: the cookie
	// next to a malformed one is not used, so nothing is logged out.
	t.Run("cookie with a malformed Authorization", func(t *testing.T) {
		web, id := e.login(victimID, session.KindWeb)
		e.refuse(t, request{method: "GET", path: "/logout", cookie: web, header: http.Header{"Authorization": {"Basic x"}}},
			http.StatusUnauthorized, "unauthenticated")
		if !e.live(id) {
			t.Fatal("logged out")
		}
	})
	// POST /logout is unchanged: a CSRF token, no browser header needed.
	t.Run("POST", func(t *testing.T) {
		web, id := e.login(victimID, session.KindWeb)
		csrf := e.csrfTokenFor(request{cookie: web})
		e.do(request{method: "POST", path: "/logout", cookie: web, body: jsonBody(map[string]string{"csrf_token": csrf})}).
			ok(t, "Logged out")
		if e.live(id) || e.eventsOf(security.EventLogout) == 0 {
			t.Fatal("not logged out")
		}
	})
}
