package main

import (
	"crypto/sha1"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// The sessions page lists the user's own sessions only, marks this
// browser's, and "sign out everywhere else" ends every other one (web and
// bearer token) and nobody else's, audited.
func TestSessionsSignOutEverywhereElse(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.browser("Browser A on the desk").signedIn(janeEmail, janePassword)
	b := e.browser("Browser B on the phone").signedIn(janeEmail, janePassword)
	app, err := e.mgr.Login(e.ctx, session.LoginRequest{Email: janeEmail, Password: janePassword, Kind: session.KindMobile})
	require.NoError(t, err)
	m := e.browser("Mallory's browser").signedIn(malloryEmail, malloryPassword)

	p := a.get("/sessions")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, "You are signed in at 3 places.")
	require.Contains(t, p.body, "Browser A on the desk <span class=\"badge\">this browser</span>")
	require.Contains(t, p.body, "Browser B on the phone</td>")
	require.Contains(t, p.body, "App (bearer token)")
	require.NotContains(t, p.body, "Mallory", "another user's sessions are not listed")
	require.NotContains(t, p.body, app.Token, "no credential is shown")
	require.NotContains(t, p.body, " disabled>")

	p = a.post(othersPath, url.Values{"csrf_token": {a.token("/sessions")}})
	require.Equal(t, "/sessions", p.url.Path)
	require.Contains(t, p.body, "Signed out of 2 other sessions.")
	require.Contains(t, p.body, "You are signed in at 1 place.")
	require.Contains(t, p.body, " disabled>", "nothing left to sign out")
	require.NotContains(t, a.get("/sessions").body, "Signed out of", "the message is shown once")

	require.False(t, a.signedOut(), "this browser stays signed in")
	require.True(t, b.signedOut(), "the other browser is signed out")
	_, err = e.mgr.Authenticate(e.ctx, app.Token)
	require.ErrorIs(t, err, security.ErrUnauthenticated, "the bearer token is revoked")
	require.False(t, m.signedOut(), "another user is left alone")

	evs := e.events(security.EventSessionTerminated)
	require.Len(t, evs, 2)
	for _, ev := range evs {
		require.Equal(t, int64(janeID), ev.ActorUserID)
		require.Equal(t, session.ReasonSignOutOthers, ev.Details["reason"])
	}

	p = a.post(othersPath, url.Values{"csrf_token": {a.token("/sessions")}})
	require.Contains(t, p.body, "You were signed in nowhere else.")
}

// sha1Hex is the SHA-1 of pw in uppercase hex, as HIBP lists it.
func sha1Hex(pw string) string {
	s := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// breachedPassword is in the fake HIBP's data.
const breachedPassword = "password1234"

// fakeHIBP serves the HIBP range API for breachedPassword; while down is
// set it answers 503.
func fakeHIBP(t *testing.T, down *atomic.Bool) *breach.Checker {
	t.Helper()
	h := sha1Hex(breachedPassword)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/range/"+h[:5] {
			w.Write([]byte(h[5:] + ":3861493\r\n"))
		}
		w.Write([]byte("0000000000000000000000000000000000F:0\r\n"))
	}))
	t.Cleanup(srv.Close)
	c, closeFn, err := openBreach(options{hibpURL: srv.URL}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { closeFn() })
	return c
}

const newPassword = "a brand new passphrase"

// A password change from the form: it changes the password, signs out the
// user's other sessions unless asked not to, and says so on the page.
func TestPasswordChange(t *testing.T) {
	for _, tc := range []struct {
		name       string
		keepOthers bool
		message    string
	}{
		{"signing out the others", false, "Your password was changed. Signed out of 1 other session."},
		{"keeping the others", true, "Your password was changed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var down atomic.Bool
			e := newEnv(t, envOptions{breach: fakeHIBP(t, &down)})
			a := e.browser("Browser A").signedIn(janeEmail, janePassword)
			b := e.browser("Browser B").signedIn(janeEmail, janePassword)
			form := url.Values{"csrf_token": {a.token("/password")}, "current_password": {janePassword},
				"new_password": {newPassword}, "confirm_password": {newPassword}}
			if tc.keepOthers {
				form.Set("keep_other_sessions", "on")
			}
			p := a.post("/password", form)
			require.Equal(t, http.StatusOK, p.status)
			require.Equal(t, "/password", p.url.Path)
			require.Contains(t, p.body, tc.message)
			require.NotContains(t, p.body, newPassword)

			require.False(t, a.signedOut())
			require.Equal(t, !tc.keepOthers, b.signedOut())
			c := e.browser("Browser C")
			require.Equal(t, "/login", c.login(janeEmail, janePassword, "").url.Path, "the old password is gone")
			c.signedIn(janeEmail, newPassword)
			require.Len(t, e.events(session.EventPasswordChanged), 1)
		})
	}
}

// Every refused password change says why on the page, with the fitting
// status, and changes nothing.
func TestPasswordChangeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name          string
		current, next string
		confirm       string // default: next
		hibpDown      bool
		status        int
		message       string
	}{
		{name: "wrong current password", current: "not my password", next: newPassword,
			status: http.StatusBadRequest, message: "Your current password is not correct."},
		{name: "too short", current: janePassword, next: "short",
			status: http.StatusBadRequest, message: "The new password must be at least 8 characters."},
		{name: "same as the current one", current: janePassword, next: janePassword,
			status: http.StatusBadRequest, message: "The new password must differ from the current password."},
		{name: "confirmation differs", current: janePassword, next: newPassword, confirm: newPassword + "!",
			status: http.StatusBadRequest, message: "The new password and its confirmation differ."},
		{name: "no current password", current: "", next: newPassword,
			status: http.StatusBadRequest, message: "The current password is required."},
		{name: "breached new password", current: janePassword, next: breachedPassword,
			status: http.StatusBadRequest, message: "The new password appears in data breaches; choose another password."},
		{name: "breach data unreachable", current: janePassword, next: newPassword, hibpDown: true,
			status: http.StatusServiceUnavailable, message: "could not be checked against known data breaches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var down atomic.Bool
			e := newEnv(t, envOptions{breach: fakeHIBP(t, &down)})
			a := e.browser("Browser A").signedIn(janeEmail, janePassword)
			b := e.browser("Browser B").signedIn(janeEmail, janePassword)
			before := e.passwordHash(janeID)
			down.Store(tc.hibpDown)
			confirm := tc.confirm
			if confirm == "" {
				confirm = tc.next
			}
			p := a.post("/password", url.Values{"csrf_token": {a.token("/password")}, "current_password": {tc.current},
				"new_password": {tc.next}, "confirm_password": {confirm}})
			require.Equal(t, tc.status, p.status)
			require.Equal(t, "/password", p.url.Path, "the form is shown again, not redirected")
			require.Contains(t, p.body, tc.message)
			require.Contains(t, p.body, `role="alert"`)
			require.NotContains(t, p.body, tc.next, "no password is echoed")
			require.Equal(t, before, e.passwordHash(janeID), "the password is unchanged")
			require.False(t, b.signedOut(), "no session was signed out")
			require.Empty(t, e.events(session.EventPasswordChanged))
		})
	}
}

// With the breach source down, a login still works: it is only not
// checked. (A password change is refused then: the "breach data
// unreachable" case of TestPasswordChangeRefusals.)
func TestBreachSourceDownLoginStillWorks(t *testing.T) {
	var down atomic.Bool
	e := newEnv(t, envOptions{breach: fakeHIBP(t, &down)})
	down.Store(true)
	e.browser("Browser A").signedIn(janeEmail, janePassword)
}

// Wrong current passwords are throttled like failed logins: past the
// limit even the right one is refused, with the time to wait.
func TestPasswordChangeThrottled(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.browser("Browser A").signedIn(janeEmail, janePassword)
	before := e.passwordHash(janeID)
	change := func(current string) page {
		return a.post("/password", url.Values{"csrf_token": {a.token("/password")}, "current_password": {current},
			"new_password": {newPassword}, "confirm_password": {newPassword}})
	}
	for range 5 {
		require.Equal(t, http.StatusBadRequest, change("wrong").status)
	}
	p := change(janePassword)
	require.Equal(t, http.StatusTooManyRequests, p.status)
	require.Contains(t, p.body, "Too many wrong passwords. Try again in 15 minutes.")
	require.Equal(t, "900", p.header.Get("Retry-After"))
	require.Equal(t, before, e.passwordHash(janeID))

	// The same lockout holds at the login form.
	p = e.browser("Browser B").login(janeEmail, janePassword, "")
	require.Equal(t, "too_many_attempts", p.url.Query().Get("error"))
}

// The notes form: a form of the app's own, behind Protect.
func TestNotes(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.browser("Browser A").signedIn(janeEmail, janePassword)
	m := e.browser("Mallory's browser").signedIn(malloryEmail, malloryPassword)

	p := a.post("/notes", url.Values{"csrf_token": {a.token("/notes")}, "note": {"buy <milk> & eggs"}})
	require.Equal(t, "/notes", p.url.Path)
	require.Contains(t, p.body, "Note saved.")
	require.Contains(t, p.body, "buy &lt;milk&gt; &amp; eggs", "escaped by html/template")
	require.NotContains(t, m.get("/notes").body, "milk", "notes are per user")

	for _, tc := range []struct{ note, message string }{
		{"   ", "Write something first."},
		{strings.Repeat("x", maxNoteRunes+1), "A note can have at most 280 characters."},
	} {
		p := a.post("/notes", url.Values{"csrf_token": {a.token("/notes")}, "note": {tc.note}})
		require.Equal(t, http.StatusBadRequest, p.status)
		require.Contains(t, p.body, tc.message)
	}
	require.Equal(t, 1, strings.Count(a.get("/notes").body, "<li><p>"))
}
