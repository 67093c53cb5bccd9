package console_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/console"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

// allBut is every permission except p.
func allBut(p security.Permission) []security.Permission {
	return slices.DeleteFunc(slices.Clone(security.AllPermissions), func(q security.Permission) bool { return q == p })
}

// A staff user lacking a permission sees no action that needs it, and a
// forged request for it (with a valid token of their own) is refused with
// nothing changed.
func TestActionsNeedTheirPermission(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.admin()
	bob := e.user(2, "bob", security.AccountCustomer)
	eve := e.user(3, "eve", security.AccountCustomer)
	alerts := e.raise()
	php := strconv.FormatInt(alertOn(t, alerts, "index.php").ID, 10)
	admin := mustAuth(t, e, "admin@example.com")
	_, err := e.mgr.Blacklist(e.ctx, admin, 3, "already", netipZero)
	require.NoError(t, err)

	t.Run("terminate", func(t *testing.T) {
		email := e.user(20, "noterm", security.AccountStaff, allBut(security.PermSessionsTerminate)...)
		b := e.browser().signIn(email)
		target := e.login(bob, "BobPhone")
		p := b.get("/console/sessions")
		require.Contains(t, p.body, "BobPhone")
		require.NotContains(t, p.body, "session_id="+target.Session.ID, "no Terminate offered")
		tok := tokenRE.FindStringSubmatch(p.body)[1]
		p = b.get("/console/sessions/terminate?session_id=" + target.Session.ID + "&user_id=2")
		require.Equal(t, http.StatusForbidden, p.status)
		require.NotContains(t, p.body, `name="terminate"`)
		p = b.post("/console/sessions/terminate", url.Values{"csrf_token": {tok}, "session_id": {target.Session.ID}})
		require.Equal(t, http.StatusForbidden, p.status)
		_, err := e.mgr.Authenticate(e.ctx, target.Token)
		require.NoError(t, err, "still live")
		// One's own other session needs no permission.
		own := e.login(email, "OwnOther")
		p = b.get("/console/sessions?user_id=20")
		require.Contains(t, p.body, "session_id="+own.Session.ID)
		p = b.post("/console/sessions/terminate", url.Values{"csrf_token": {tok}, "session_id": {own.Session.ID}})
		require.Contains(t, p.body, "Session terminated.")
	})
	t.Run("list", func(t *testing.T) {
		b := e.browser().signIn(e.user(21, "nolist", security.AccountStaff, allBut(security.PermSessionsList)...))
		p := b.get("/console/sessions")
		require.Equal(t, http.StatusOK, p.status)
		require.NotContains(t, p.body, "Active sessions")
		require.Contains(t, p.body, `name="blacklist-add"`)
	})
	t.Run("blacklist", func(t *testing.T) {
		b := e.browser().signIn(e.user(22, "nomanage", security.AccountStaff, allBut(security.PermSessionsManage)...))
		p := b.get("/console/sessions")
		require.NotContains(t, p.body, `name="blacklist-add"`)
		require.NotContains(t, p.body, `name="blacklist-remove"`)
		require.NotContains(t, p.body, "Blacklist")
		tok := tokenRE.FindStringSubmatch(p.body)[1]
		p = b.post("/console/blacklist/add", url.Values{"csrf_token": {tok}, "user_id": {"2"}, "reason": {"forged"}})
		require.Equal(t, http.StatusForbidden, p.status)
		p = b.post("/console/blacklist/remove", url.Values{"csrf_token": {tok}, "user_id": {"3"}})
		require.Equal(t, http.StatusForbidden, p.status)
		list, err := e.mgr.ListBlacklist(e.ctx, admin)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, int64(3), list[0].UserID, "eve still blacklisted, bob not")
		_ = eve
	})
	t.Run("integrity", func(t *testing.T) {
		b := e.browser().signIn(e.user(23, "nointegrity", security.AccountStaff, allBut(security.PermFileIntegrityAlertsManage)...))
		p := b.get("/console/sessions")
		require.NotContains(t, p.body, `href="/console/alerts"`)
		require.NotContains(t, p.body, `href="/console/checks"`)
		tok := tokenRE.FindStringSubmatch(p.body)[1]
		for _, path := range []string{"/console/alerts", "/console/alerts/" + php, "/console/checks"} {
			require.Equal(t, http.StatusForbidden, b.get(path).status, path)
		}
		for _, action := range []string{"resolve", "ignore", "delete"} {
			p := b.post("/console/alerts", url.Values{"csrf_token": {tok}, "action": {action}, "alert_id": {php}})
			require.Equal(t, http.StatusForbidden, p.status, action)
		}
		id, _ := strconv.ParseInt(php, 10, 64)
		a, err := e.mon.Alert(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, integrity.StatusNew, a.Status)
		require.Equal(t, http.StatusForbidden, b.post("/console/checks/run", url.Values{"csrf_token": {tok}}).status)
		_, running := e.mon.Current()
		require.False(t, running, "no check started")
		p = b.post("/console/deployments/begin", url.Values{"csrf_token": {tok}, "description": {"forged"}})
		require.Equal(t, http.StatusForbidden, p.status)
		require.Equal(t, http.StatusForbidden, b.post("/console/deployments/end", url.Values{"csrf_token": {tok}}).status)
		_, open, err := e.mon.Deployment(e.ctx)
		require.NoError(t, err)
		require.False(t, open)
		r := b.do("GET", "/console/checks/progress?check_id=chk_aaaaaaaaaaaaaaaaaaaa", nil, map[string]string{"Accept": "application/json"})
		require.Equal(t, http.StatusForbidden, r.status)
	})
	t.Run("report", func(t *testing.T) {
		b := e.browser().signIn(e.user(24, "noreport", security.AccountStaff, allBut(security.PermSecurityReportManage)...))
		p := b.get("/console/sessions")
		require.NotContains(t, p.body, `href="/console/report"`)
		require.Equal(t, http.StatusForbidden, b.get("/console/report").status)
		require.Equal(t, http.StatusForbidden, b.get("/console/report.csv").status)
	})
	t.Run("no permission at all", func(t *testing.T) {
		b := e.browser().signIn(e.user(25, "none", security.AccountStaff))
		p := b.get("/console/")
		require.Equal(t, "/console/password", p.url.Path)
		require.Equal(t, 2, strings.Count(p.body, "<li><a href="), "only the password check and their own Security")
		require.Contains(t, p.body, `<li><a href="/console/security">Security</a>`)
	})
}

// A form post without a token, with another session's token or from
// another site is refused and changes nothing.
func TestForgedRequestsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	email := e.admin()
	bob := e.user(2, "bob", security.AccountCustomer)
	target := e.login(bob, "BobPhone")
	b := e.browser().signIn(email)
	other := e.browser().signIn(e.user(5, "otheradmin", security.AccountStaff, security.AllPermissions...))
	foreign := other.token("/console/sessions")
	alerts := e.raise()
	php := strconv.FormatInt(alertOn(t, alerts, "index.php").ID, 10)

	posts := []struct {
		path string
		form url.Values
	}{
		{"/console/sessions/terminate", url.Values{"session_id": {target.Session.ID}}},
		{"/console/blacklist/add", url.Values{"user_id": {"2"}, "reason": {"forged"}}},
		{"/console/alerts", url.Values{"action": {"delete"}, "alert_id": {php}}},
		{"/console/checks/run", url.Values{}},
		{"/console/deployments/begin", url.Values{"description": {"forged"}}},
		{"/console/logout", url.Values{}},
	}
	for _, tc := range posts {
		t.Run(tc.path, func(t *testing.T) {
			p := b.post(tc.path, tc.form)
			require.Equal(t, http.StatusForbidden, p.status, "no token")
			// A console page that says why, not the adapter's bare one.
			require.Contains(t, p.body, "This form has expired, or it was not sent from this console.")
			require.Contains(t, p.body, `<a href="/console/">Security console</a>`, "the console's layout")
			require.Equal(t, console.ContentSecurityPolicy, p.header.Get("Content-Security-Policy"))
			f := url.Values{"csrf_token": {foreign}}
			for k, v := range tc.form {
				f[k] = v
			}
			p = b.post(tc.path, f)
			require.Equal(t, http.StatusForbidden, p.status, "another session's token")
			f.Set("csrf_token", b.token("/console/sessions"))
			p = b.do("POST", tc.path, f, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
			require.Equal(t, http.StatusForbidden, p.status, "cross-site")
			require.Contains(t, p.body, "This request came from another site and was refused.")
		})
	}
	_, err := e.mgr.Authenticate(e.ctx, target.Token)
	require.NoError(t, err, "bob's session lives")
	id, _ := strconv.ParseInt(php, 10, 64)
	_, err = e.mon.Alert(e.ctx, id)
	require.NoError(t, err, "the alert is there")
	_, running := e.mon.Current()
	require.False(t, running)
	_, open, err := e.mon.Deployment(e.ctx)
	require.NoError(t, err)
	require.False(t, open)
	require.Equal(t, http.StatusOK, b.get("/console/sessions").status, "still signed in")
	list, err := e.mgr.ListBlacklist(e.ctx, mustAuth(t, e, email))
	require.NoError(t, err)
	require.Empty(t, list)
}

var netipZero = netip.Addr{}
