package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func TestSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.admin()
	b := e.browser()

	p := b.get("/console/")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `name="email"`)
	require.Contains(t, p.body, `name="password"`)
	require.NotContains(t, p.body, "Sign out")

	t.Run("wrong password comes back to the console", func(t *testing.T) {
		p := b.post("/console/login", url.Values{"email": {admin}, "password": {"wrong password"}})
		require.Equal(t, "/console/", p.url.Path)
		require.Equal(t, "invalid_credentials", p.url.Query().Get("error"))
		require.Contains(t, p.body, "The email or password is wrong.")
	})
	t.Run("a deep link survives the sign-in", func(t *testing.T) {
		nb := e.browser()
		p := nb.get("/console/sessions?page=1")
		require.Equal(t, "/console/", p.url.Path)
		require.Contains(t, p.body, `name="next" value="/console/sessions?page=1"`)
		p = nb.post("/console/login", url.Values{"email": {admin}, "password": {password}, "next": {"/console/sessions?page=1"}})
		require.Equal(t, "/console/sessions", p.url.Path)
		require.Contains(t, p.body, "<h1>Sessions</h1>")
	})

	require.Equal(t, "/console/", b.get("/console/login").url.Path, "a typed form address leads to the console")
	b.signIn(admin)
	require.Equal(t, "/console/sessions", b.get("/console/logout").url.Path, "GET does not sign out")
	p = b.get("/console/")
	require.Equal(t, "/console/sessions", p.url.Path)

	t.Run("sign out", func(t *testing.T) {
		tok := b.token("/console/sessions")
		p := b.post("/console/logout", url.Values{"csrf_token": {tok}})
		require.Equal(t, "/console/", p.url.Path)
		require.Contains(t, p.body, "You are signed out.")
		require.Contains(t, p.body, `name="password"`)
		p = b.get("/console/sessions")
		require.Equal(t, "/console/", p.url.Path)
	})
}

func TestCustomerSeesStaffRequired(t *testing.T) {
	e := newEnv(t, envOptions{})
	cust := e.user(7, "carol", security.AccountCustomer)
	b := e.browser().signIn(cust)
	for _, path := range []string{"/console/", "/console/sessions", "/console/password", "/console/alerts"} {
		p := b.get(path)
		require.Contains(t, p.body, "needs a staff account", path)
		require.Contains(t, p.body, "Sign out", path)
		require.NotContains(t, p.body, `aria-label="Console"`, path)
	}
}

func TestSessionsView(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.admin()
	bob := e.user(2, "bob", security.AccountCustomer)
	other := e.login(bob, "BobPhone/1.0")
	b := e.browser().signIn(admin)

	p := b.get("/console/sessions")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, "BobPhone/1.0")
	require.Contains(t, p.body, "This session")
	require.Contains(t, p.body, `aria-current="page"`)
	// Terminate is offered for bob's session, not for the current one.
	require.Contains(t, p.body, "session_id="+other.Session.ID)
	require.Equal(t, 1, strings.Count(p.body, "sessions/terminate?session_id="))

	p = b.get("/console/sessions?user_id=2")
	require.Contains(t, p.body, "BobPhone/1.0")
	require.NotContains(t, p.body, "This session")
	p = b.get("/console/sessions?user_id=x")
	require.Equal(t, http.StatusBadRequest, p.status)

	t.Run("terminate with confirmation", func(t *testing.T) {
		p := b.get("/console/sessions/terminate?session_id=" + other.Session.ID + "&user_id=2")
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, "BobPhone/1.0")
		require.Contains(t, p.body, `name="terminate"`)
		tok := tokenRE.FindStringSubmatch(p.body)[1]
		p = b.post("/console/sessions/terminate", url.Values{"csrf_token": {tok}, "session_id": {other.Session.ID}})
		require.Equal(t, "/console/sessions", p.url.Path)
		require.Contains(t, p.body, "Session terminated.")
		_, err := e.mgr.Authenticate(e.ctx, other.Token)
		require.ErrorIs(t, err, security.ErrUnauthenticated)
	})
	t.Run("never one's own current session", func(t *testing.T) {
		tok := b.token("/console/sessions")
		p := b.get("/console/sessions")
		require.Equal(t, http.StatusOK, p.status)
		list, _, err := e.mgr.List(e.ctx, mustAuth(t, e, admin), session.ListOptions{UserID: 1})
		require.NoError(t, err)
		var current string
		for _, s := range list {
			if s.UserAgent == "Mozilla/5.0 (X11; Linux x86_64) ConsoleTest" {
				current = s.ID
			}
		}
		require.NotEmpty(t, current)
		p = b.get("/console/sessions/terminate?session_id=" + current)
		require.Contains(t, p.body, "sign out instead")
		require.NotContains(t, p.body, `name="terminate"`)
		p = b.post("/console/sessions/terminate", url.Values{"csrf_token": {tok}, "session_id": {current}})
		require.Equal(t, http.StatusBadRequest, p.status)
		require.Equal(t, http.StatusOK, b.get("/console/sessions").status, "still signed in")
	})
	t.Run("a row's Blacklist link fills in the form", func(t *testing.T) {
		e.login(bob, "BobTablet")
		p := b.get("/console/sessions")
		require.Contains(t, p.body, `href="/console/sessions?blacklist_user=2#blacklist-h"`)
		require.NotContains(t, p.body, "blacklist_user=1#", "not oneself")
		p = b.get("/console/sessions?blacklist_user=2")
		require.Contains(t, p.body, `name="user_id" inputmode="numeric" pattern="[0-9]*" required maxlength="19" value="2"`)
	})
	t.Run("blacklist and remove", func(t *testing.T) {
		again := e.login(bob, "BobLaptop/2.0")
		tok := b.token("/console/sessions")
		p := b.post("/console/blacklist/add", url.Values{"csrf_token": {tok}, "user_id": {"2"}, "reason": {""}})
		require.Equal(t, http.StatusBadRequest, p.status)
		require.Contains(t, p.body, "Give a reason")
		p = b.post("/console/blacklist/add", url.Values{"csrf_token": {tok}, "user_id": {"2"}, "reason": {"fraud <b>"}})
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, "User blacklisted; 2 session(s) terminated.") // BobTablet and BobLaptop
		require.Contains(t, p.body, "fraud &lt;b&gt;")
		_, err := e.mgr.Authenticate(e.ctx, again.Token)
		require.Error(t, err)
		p = b.post("/console/blacklist/add", url.Values{"csrf_token": {tok}, "user_id": {"2"}, "reason": {"again"}})
		require.Equal(t, http.StatusConflict, p.status)
		p = b.post("/console/blacklist/remove", url.Values{"csrf_token": {tok}, "user_id": {"2"}})
		require.Contains(t, p.body, "User removed from the blacklist.")
		require.Contains(t, p.body, "No user is blacklisted.")
	})
}

// mustAuth signs email in directly and returns its Auth.
func mustAuth(t *testing.T, e *env, email string) session.Auth {
	t.Helper()
	res := e.login(email, "direct")
	a, err := e.mgr.Authenticate(e.ctx, res.Token)
	require.NoError(t, err)
	return a
}
