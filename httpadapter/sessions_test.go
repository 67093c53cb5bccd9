package httpadapter_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func TestCSRFTokenIssued(t *testing.T) {
	e := newEnv(t)
	web, _ := e.login(victimID, session.KindWeb)
	for name, rq := range map[string]request{
		"bearer":   {method: "GET", path: "/api/security/csrf-token", bearer: e.bearer(customerID)},
		"cookie":   {method: "GET", path: "/api/security/csrf-token", cookie: web},
		"customer": {method: "GET", path: "/api/security/csrf-token", bearer: e.bearer(victimID)},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do(rq)
			r.ok(t, "CSRF token issued")
			if tok, _ := r.data()["token"].(string); len(tok) != security.CSRFTokenLen {
				t.Fatalf("token %q", tok)
			}
		})
	}
}

var rfc3339UTC = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func TestListSessions(t *testing.T) {
	e := newEnv(t)
	admin, adminSess := e.login(adminID, session.KindMobile)
	e.clock.Advance(2 * time.Minute)
	_, victimWeb := e.login(victimID, session.KindWeb)
	e.clock.Advance(2 * time.Minute)
	_, victimMobile := e.login(victimID, session.KindMobile)

	r := e.do(request{method: "GET", path: "/api/security/sessions?action=list", bearer: admin})
	r.ok(t, "Sessions retrieved")
	if r.body["count"] != 3.0 || r.body["page"] != 1.0 {
		t.Fatalf("count/page: %s", r.raw)
	}
	items := r.list()
	if len(items) != 3 {
		t.Fatalf("want 3 sessions: %s", r.raw)
	}
	byID := map[string]map[string]any{}
	for _, it := range items {
		m := it.(map[string]any)
		byID[m["session_id"].(string)] = m
		for _, k := range []string{"session_id", "user_id", "user_name", "ip_address", "user_agent", "location",
			"last_active", "is_current", "created_at", "kind"} {
			if _, ok := m[k]; !ok {
				t.Errorf("entry without %s: %v", k, m)
			}
		}
		for _, k := range []string{"last_active", "created_at"} {
			if !rfc3339UTC.MatchString(m[k].(string)) {
				t.Errorf("%s = %q, want RFC 3339 UTC", k, m[k])
			}
		}
	}
	// The request authenticated the admin session 4 minutes after its
	// login, which refreshed its last_active.
	want := map[string]map[string]any{
		adminSess:    {"user_id": float64(adminID), "user_name": "Ada Admin", "is_current": true, "kind": "mobile", "created_at": "2024-06-14T10:00:00Z", "last_active": "2024-06-14T10:04:00Z"},
		victimWeb:    {"user_id": float64(victimID), "user_name": "Vic Victim", "is_current": false, "kind": "web", "created_at": "2024-06-14T10:02:00Z", "last_active": "2024-06-14T10:02:00Z"},
		victimMobile: {"user_id": float64(victimID), "user_name": "Vic Victim", "is_current": false, "kind": "mobile", "created_at": "2024-06-14T10:04:00Z", "ip_address": "203.0.113.10", "user_agent": "test-agent"},
	}
	for id, fields := range want {
		got, ok := byID[id]
		if !ok {
			t.Fatalf("session %s missing: %s", id, r.raw)
		}
		for k, v := range fields {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", id, k, got[k], v)
			}
		}
	}

	t.Run("user filter and paging", func(t *testing.T) {
		r := e.do(request{method: "GET", path: "/api/security/sessions?action=list&user_id=5&limit=1&page=2", bearer: admin})
		r.ok(t, "Sessions retrieved")
		if r.body["count"] != 2.0 || r.body["page"] != 2.0 || len(r.list()) != 1 {
			t.Fatalf("%s", r.raw)
		}
		// Newest last_active first: page 2 of 1 is the older web session.
		if id := r.list()[0].(map[string]any)["session_id"]; id != victimWeb {
			t.Fatalf("page 2 holds %v, want %s", id, victimWeb)
		}
		r = e.do(request{method: "GET", path: "/api/security/sessions?action=list&page=9", bearer: admin})
		r.ok(t, "Sessions retrieved")
		if r.raw == "" || len(r.list()) != 0 || !strings.Contains(r.raw, `"data":[]`) {
			t.Fatalf("an empty page must be []: %s", r.raw)
		}
	})
	t.Run("the list permission is enough", func(t *testing.T) {
		r := e.do(request{method: "GET", path: "/api/security/sessions?action=list", bearer: e.bearer(listerID)})
		r.ok(t, "Sessions retrieved")
	})
}

func TestTerminate(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	victimTok, victimSess := e.login(victimID, session.KindMobile)

	r := e.post(admin, map[string]any{"action": "terminate", "session_id": victimSess})
	r.ok(t, "Session terminated")
	if _, has := r.body["data"]; has {
		t.Fatalf("terminate returns no data: %s", r.raw)
	}
	if e.live(victimSess) {
		t.Fatal("the session is still live")
	}
	e.do(request{method: "GET", path: "/api/security/csrf-token", bearer: victimTok}).
		refused(t, http.StatusUnauthorized, "unauthenticated")
	if n := e.eventsOf(security.EventSessionTerminated); n != 1 {
		t.Fatalf("%d session_terminated events", n)
	}

	t.Run("again is 404", func(t *testing.T) {
		r := e.refuse(t, e.sessionsPost(admin, map[string]any{"action": "terminate", "session_id": victimSess}), http.StatusNotFound, "not_found")
		if r.body["message"] != "Session not found" {
			t.Fatalf("%s", r.raw)
		}
	})
	t.Run("unknown session is 404", func(t *testing.T) {
		e.refuse(t, e.sessionsPost(admin, map[string]any{"action": "terminate", "session_id": security.NewID(session.IDPrefix)}), http.StatusNotFound, "not_found")
	})
}

func TestTerminateOwnSessions(t *testing.T) {
	e := newEnv(t)
	// A staff user without api.security.sessions.terminate.
	current, currentID := e.login(staffID, session.KindMobile)
	_, otherID := e.login(staffID, session.KindWeb)

	t.Run("own current session is 400", func(t *testing.T) {
		r := e.refuse(t, e.sessionsPost(current, map[string]any{"action": "terminate", "session_id": currentID}), http.StatusBadRequest, "invalid_request")
		if !strings.Contains(r.body["message"].(string), "session_id") {
			t.Fatalf("%s", r.raw)
		}
		if !e.live(currentID) {
			t.Fatal("current session revoked")
		}
	})
	t.Run("own other session needs no permission", func(t *testing.T) {
		e.post(current, map[string]any{"action": "terminate", "session_id": otherID}).ok(t, "Session terminated")
		if e.live(otherID) || !e.live(currentID) {
			t.Fatal("wrong session terminated")
		}
	})
	t.Run("another user's session needs the permission", func(t *testing.T) {
		_, victimSess := e.login(victimID, session.KindWeb)
		e.refuse(t, e.sessionsPost(current, map[string]any{"action": "terminate", "session_id": victimSess}), http.StatusForbidden, "forbidden")
	})
}

func TestBlacklistLifecycle(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	victimWeb, victimWebID := e.login(victimID, session.KindWeb)
	victimBearer, victimBearerID := e.login(victimID, session.KindMobile)
	_, otherID := e.login(customerID, session.KindMobile)

	r := e.post(admin, map[string]any{"action": "blacklist_add", "user_id": victimID, "reason": "Suspicious login activity detected"})
	r.ok(t, "User blacklisted and all sessions terminated")
	if r.data()["sessions_revoked"] != 2.0 {
		t.Fatalf("sessions_revoked: %s", r.raw)
	}
	// Both credentials stop working at once; nobody else's do.
	if e.live(victimWebID) || e.live(victimBearerID) || !e.live(otherID) {
		t.Fatal("wrong sessions revoked")
	}
	e.do(request{method: "GET", path: "/api/security/csrf-token", bearer: victimBearer}).refused(t, http.StatusUnauthorized, "unauthenticated")
	e.do(request{method: "GET", path: "/api/security/csrf-token", cookie: victimWeb}).refused(t, http.StatusUnauthorized, "unauthenticated")

	creds := jsonBody(map[string]string{"email": email(victimID), "password": password(victimID)})
	for _, path := range []string{"/api/security/mobile-auth", "/login"} {
		e.refuseLogin(t, request{method: "POST", path: path, body: creds}, http.StatusForbidden, "account_blacklisted")
	}

	r = e.do(request{method: "GET", path: "/api/security/sessions?action=blacklist_list", bearer: admin})
	r.ok(t, "Blacklist retrieved")
	if r.body["count"] != 1.0 || len(r.list()) != 1 {
		t.Fatalf("%s", r.raw)
	}
	entry := r.list()[0].(map[string]any)
	want := map[string]any{"user_id": float64(victimID), "user_name": "Vic Victim", "reason": "Suspicious login activity detected",
		"blacklisted_by": float64(adminID), "blacklisted_by_name": "Ada Admin", "created_at": "2024-06-14T10:00:00Z"}
	for k, v := range want {
		if entry[k] != v {
			t.Errorf("%s = %v, want %v", k, entry[k], v)
		}
	}

	t.Run("twice is 409", func(t *testing.T) {
		e.refuse(t, e.sessionsPost(admin, map[string]any{"action": "blacklist_add", "user_id": victimID, "reason": "again"}),
			http.StatusConflict, "conflict")
	})

	r = e.post(admin, map[string]any{"action": "blacklist_remove", "user_id": victimID})
	r.ok(t, "User removed from blacklist")
	// Removal revives nothing…
	if e.live(victimWebID) || e.live(victimBearerID) {
		t.Fatal("removal revived a session")
	}
	e.do(request{method: "GET", path: "/api/security/csrf-token", bearer: victimBearer}).refused(t, http.StatusUnauthorized, "unauthenticated")
	// …but lets the user log in again.
	e.do(request{method: "POST", path: "/api/security/mobile-auth", body: creds}).ok(t, "Mobile authentication token issued")
	e.do(request{method: "POST", path: "/login", body: creds}).ok(t, "Logged in")

	t.Run("removing again is 404", func(t *testing.T) {
		r := e.refuse(t, e.sessionsPost(admin, map[string]any{"action": "blacklist_remove", "user_id": victimID}), http.StatusNotFound, "not_found")
		if r.body["message"] != "User is not blacklisted" {
			t.Fatalf("%s", r.raw)
		}
	})
	t.Run("unknown user is 404", func(t *testing.T) {
		r := e.refuse(t, e.sessionsPost(admin, map[string]any{"action": "blacklist_add", "user_id": unknownID, "reason": "x"}), http.StatusNotFound, "not_found")
		if r.body["message"] != "User not found" {
			t.Fatalf("%s", r.raw)
		}
	})
	t.Run("oneself is 400", func(t *testing.T) {
		e.refuse(t, e.sessionsPost(admin, map[string]any{"action": "blacklist_add", "user_id": adminID, "reason": "x"}), http.StatusBadRequest, "invalid_request")
	})
	if n := e.eventsOf(security.EventBlacklistAdded); n != 1 {
		t.Fatalf("%d blacklist_added events", n)
	}
}

func TestBlacklistListEmpty(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: "GET", path: "/api/security/sessions?action=blacklist_list", bearer: e.bearer(adminID)})
	r.ok(t, "Blacklist retrieved")
	if !strings.Contains(r.raw, `"data":[]`) || r.body["count"] != 0.0 {
		t.Fatalf("want an empty list and count 0: %s", r.raw)
	}
}
