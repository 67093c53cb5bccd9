package httpadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

const newPassword = "a brand new passphrase"

// passwordPost is a POST /api/security/password as cred (bearer or
// cookie) with fields and, unless fields set csrf_token, a fresh CSRF
// token.
func (e *env) passwordPost(cred request, fields map[string]any) request {
	e.t.Helper()
	f := map[string]any{"csrf_token": e.csrfTokenFor(cred)}
	for k, v := range fields {
		if v == nil {
			delete(f, k)
			continue
		}
		f[k] = v
	}
	for _, k := range []string{"current_password", "new_password"} {
		if s, ok := f[k].(string); ok && s != "" {
			e.addSecret(s)
		}
	}
	return request{method: "POST", path: "/api/security/password", bearer: cred.bearer, cookie: cred.cookie, body: jsonBody(f)}
}

// mobileLogin asks for a bearer token with password and returns the answer.
func (e *env) mobileLogin(user int64, pw string) response {
	e.t.Helper()
	return e.do(request{method: "POST", path: "/api/security/mobile-auth",
		body: jsonBody(map[string]string{"email": email(user), "password": pw})})
}

func TestChangePasswordEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name        string
		byCookie    bool
		revoke      any // the revoke_other_sessions member; nil: not sent
		wantRevoked int
	}{
		{"cookie, default revokes", true, nil, 2},
		{"bearer, default revokes", false, nil, 2},
		{"bearer, revoke true", false, true, 2},
		{"cookie, revoke false", true, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			web, webID := e.login(victimID, session.KindWeb)
			mob, mobID := e.login(victimID, session.KindMobile)
			_, otherID := e.login(victimID, session.KindWeb)
			_, adminSess := e.login(adminID, session.KindWeb)
			cred, curID, others := request{bearer: mob}, mobID, []string{webID, otherID}
			if tc.byCookie {
				cred, curID, others = request{cookie: web}, webID, []string{mobID, otherID}
			}
			e.clock.Advance(time.Minute)

			fields := map[string]any{"current_password": password(victimID), "new_password": newPassword}
			if tc.revoke != nil {
				fields["revoke_other_sessions"] = tc.revoke
			}
			r := e.do(e.passwordPost(cred, fields))
			r.ok(t, "Password changed")
			if r.data()["sessions_revoked"] != float64(tc.wantRevoked) {
				t.Fatalf("sessions_revoked: %s", r.raw)
			}
			if !e.live(curID) {
				t.Fatal("the session that changed the password was revoked")
			}
			for _, id := range others {
				if e.live(id) != (tc.wantRevoked == 0) {
					t.Fatalf("session %s live = %v after revoking %d", id, e.live(id), tc.wantRevoked)
				}
			}
			if !e.live(adminSess) {
				t.Fatal("another user's session was revoked")
			}
			e.csrfTokenFor(cred) // the current credential still authenticates

			e.mobileLogin(victimID, password(victimID)).refused(t, http.StatusUnauthorized, "invalid_credentials")
			e.mobileLogin(victimID, newPassword).ok(t, "Mobile authentication token issued")
			if n := e.eventsOf(session.EventPasswordChanged); n != 1 {
				t.Fatalf("%d password_changed events", n)
			}
			if n := e.eventsOf(security.EventSessionTerminated); n != 0 {
				t.Fatalf("%d session_terminated events: a password change's revocations are not terminations", n)
			}
		})
	}
}

func TestChangePasswordEndpointRefusals(t *testing.T) {
	long := strings.Repeat("x", session.MaxPasswordBytes+1)
	right := password(victimID)
	for _, tc := range []struct {
		name    string
		fields  map[string]any // over a right request; nil values remove
		header  http.Header
		status  int
		code    string
		message string // a prefix of the message
	}{
		{name: "no CSRF token", fields: map[string]any{"csrf_token": nil}, status: 403, code: "csrf_invalid"},
		{name: "forged CSRF token", fields: map[string]any{"csrf_token": strings.Repeat("a", security.CSRFTokenLen)},
			status: 403, code: "csrf_invalid"},
		{name: "no current password", fields: map[string]any{"current_password": nil}, status: 400, code: "invalid_request",
			message: "current_password: is required"},
		{name: "no new password", fields: map[string]any{"new_password": nil}, status: 400, code: "invalid_request",
			message: "new_password: is required"},
		{name: "too short", fields: map[string]any{"new_password": "ééééééé"}, status: 400, code: "invalid_request",
			message: "new_password: must be at least 8 characters"},
		{name: "too short, without a CSRF token", fields: map[string]any{"new_password": "short", "csrf_token": nil},
			status: 400, code: "invalid_request", message: "new_password: must be at least 8 characters"},
		{name: "too long", fields: map[string]any{"new_password": long}, status: 400, code: "invalid_request",
			message: "new_password: must be at most 1024 bytes"},
		{name: "current too long", fields: map[string]any{"current_password": long}, status: 400, code: "invalid_request",
			message: "current_password: must be at most 1024 bytes"},
		{name: "same as the current one", fields: map[string]any{"new_password": right}, status: 400,
			code: "invalid_request", message: "new_password: must differ from the current password"},
		{name: "revoke option not a boolean", fields: map[string]any{"revoke_other_sessions": "yes"}, status: 400,
			code: "invalid_request", message: "revoke_other_sessions: must be true or false"},
		{name: "new password a number", fields: map[string]any{"new_password": 12345678}, status: 400,
			code: "invalid_request", message: "new_password: must be a string"},
		{name: "unknown member", fields: map[string]any{"password": right}, status: 400, code: "invalid_request",
			message: `"password": unknown field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tok, _ := e.login(victimID, session.KindMobile)
			e.login(victimID, session.KindWeb)
			fields := map[string]any{"current_password": right, "new_password": newPassword}
			for k, v := range tc.fields {
				fields[k] = v
			}
			rq := e.passwordPost(request{bearer: tok}, fields)
			r := e.refuse(t, rq, tc.status, tc.code)
			if msg, _ := r.body["message"].(string); !strings.HasPrefix(msg, tc.message) {
				t.Fatalf("message %q, want %q", msg, tc.message)
			}
			e.mobileLogin(victimID, right).ok(t, "Mobile authentication token issued")
		})
	}
}

func TestChangePasswordEndpointUnauthenticated(t *testing.T) {
	e := newEnv(t)
	body := jsonBody(map[string]string{"current_password": password(victimID), "new_password": newPassword})
	e.refuse(t, request{method: "POST", path: "/api/security/password", body: body}, 401, "unauthenticated")
	e.refuse(t, request{method: "POST", path: "/api/security/password", body: body, bearer: strings.Repeat("0", 64)},
		401, "unauthenticated")
	e.refuse(t, request{method: "GET", path: "/api/security/password"}, 405, "method_not_allowed")
}

// A wrong current password is a 400 naming the field (the session is
// fine), recorded and counted; past the limit the change is a 429 with
// Retry-After, even with the right password.
func TestChangePasswordEndpointWrongAndThrottled(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.login(victimID, session.KindMobile)
	_, otherID := e.login(victimID, session.KindWeb)
	for i := range 5 {
		r := e.do(e.passwordPost(request{bearer: tok}, map[string]any{"current_password": fmt.Sprint("wrong ", i),
			"new_password": newPassword}))
		r.refused(t, http.StatusBadRequest, "invalid_request")
		if r.body["message"] != "current_password: is incorrect" {
			t.Fatalf("%s", r.raw)
		}
		if r.header.Get("WWW-Authenticate") != "" {
			t.Fatal("a wrong current password is not an authentication failure")
		}
	}
	if n := e.eventsOf(session.EventPasswordChangeFailed); n != 5 {
		t.Fatalf("%d password_change_failed events", n)
	}
	r := e.do(e.passwordPost(request{bearer: tok}, map[string]any{"current_password": password(victimID),
		"new_password": newPassword}))
	r.refused(t, http.StatusTooManyRequests, "too_many_attempts")
	if ra := r.header.Get("Retry-After"); ra != fmt.Sprint(15*60) {
		t.Fatalf("Retry-After = %q", ra)
	}
	if !e.live(otherID) {
		t.Fatal("a refused change revoked a session")
	}
	e.mobileLogin(victimID, password(victimID)).refused(t, http.StatusTooManyRequests, "too_many_attempts")
	e.clock.Advance(15 * time.Minute)
	e.mobileLogin(victimID, password(victimID)).ok(t, "Mobile authentication token issued")
}

func TestChangePasswordEndpointBreach(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		code    string
		message string
	}{
		{"breached", nil, 400, "invalid_request", "new_password: appears in data breaches; choose another password"},
		{"source down", fmt.Errorf("hibp: %w", security.ErrUnavailable), 503, httpadapter.CodeBreachSourceUnavailable,
			"The password breach source is unavailable; the password was not changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(s *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
				s.BreachCheck = func(_ context.Context, pw string) (bool, error) {
					if pw != newPassword {
						return false, nil // the logins
					}
					return true, tc.err
				}
			})
			tok, _ := e.login(victimID, session.KindMobile)
			_, otherID := e.login(victimID, session.KindWeb)
			r := e.do(e.passwordPost(request{bearer: tok}, map[string]any{"current_password": password(victimID),
				"new_password": newPassword}))
			r.refused(t, tc.status, tc.code)
			if r.body["message"] != tc.message {
				t.Fatalf("%s", r.raw)
			}
			if !e.live(otherID) {
				t.Fatal("a refused change revoked a session")
			}
			e.mobileLogin(victimID, password(victimID)).ok(t, "Mobile authentication token issued")
		})
	}
}

// separateUsers is a user directory that is not the session store.
type separateUsers struct{ *memstore.Store }

// Without a store that can change passwords, the route is not there.
func TestChangePasswordEndpointAbsent(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *security.CSRFConfig, _ *httpadapter.Config) {
		s.Users = separateUsers{s.Store.(*memstore.Store)}
	})
	tok, _ := e.login(victimID, session.KindMobile)
	e.refuse(t, e.passwordPost(request{bearer: tok}, map[string]any{"current_password": password(victimID),
		"new_password": newPassword}), 404, "not_found")
}
