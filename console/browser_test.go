package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/browsertest"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// The console in a real Chromium (internal/browsertest): each test drives
// the console of an env (helpers_test.go) the way a person does, runs
// axe-core on every view at desktop and phone width and saves screenshots
// of each into the directory the test output names.

// ui is a browser tab on an env's console.
type ui struct {
	*browsertest.Page
	e *env
}

// openConsole starts a browser on e's console, signed out.
func openConsole(t *testing.T, e *env) *ui {
	t.Helper()
	return &ui{Page: browsertest.Start(t, browsertest.Options{}), e: e}
}

// another is a second person's browser (its own cookies) on the console.
func (u *ui) another() *ui { return &ui{Page: u.NewPage(), e: u.e} }

// url is the address of a console path (relative to the prefix).
func (u *ui) url(rel string) string { return u.e.srv.URL + u.e.prefix + rel }

// open loads a console path and waits for its heading.
func (u *ui) open(rel, h1 string) {
	u.T().Helper()
	u.Navigate(u.url(rel))
	u.WaitText("main h1", h1)
}

// signIn signs in through the console's form, typed as a person does,
// and waits for the first view.
func (u *ui) signIn(email string) {
	u.T().Helper()
	u.Navigate(u.url(""))
	u.Fill("email", email)
	u.Fill("password", password)
	u.ClickText("Sign in")
	u.WaitVisible("form[name=signout]")
}

// look checks the current view at desktop and phone width: axe-core finds
// no serious or critical violation, nothing scrolls sideways on a phone;
// and saves a screenshot of each.
func (u *ui) look(name string) {
	u.T().Helper()
	u.Axe()
	u.Screenshot(name)
	u.SetViewport(browsertest.Phone)
	defer u.SetViewport(browsertest.Desktop)
	u.WaitTrue("the phone layout", `document.documentElement.clientWidth <= 390`)
	wide := browsertest.Eval[int](u.Page, `document.documentElement.scrollWidth`)
	require.LessOrEqual(u.T(), wide, int(browsertest.Phone.Width), "%s scrolls sideways at phone width: %d px", name, wide)
	u.Axe()
	u.Screenshot(name + "-phone")
}

// rowOf is the CSS selector of a session's row.
func rowOf(id string) string { return fmt.Sprintf(`tr[data-session-id=%q]`, id) }

// Signed out, the console is a sign-in form; a wrong password says so; a
// customer account sees that a staff account is required; a staff account
// lands on its first view and signs out again.
func TestBrowserSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.admin()
	customer := e.user(7, "carol", security.AccountCustomer)
	u := openConsole(t, e)

	u.open("sessions", "Sign in")
	require.Equal(t, "Sign in · Security console", u.Title())
	u.look("signin")

	u.Fill("email", admin)
	u.Fill("password", "not the password")
	u.ClickText("Sign in")
	require.Contains(t, u.WaitText("[role=alert]", "wrong"), "The email or password is wrong.")
	require.False(t, u.Has("form[name=signout]"))

	u.signIn(customer)
	u.WaitText("main h1", "Staff account required")
	require.False(t, u.Has("nav.nav"), "a customer gets no navigation")
	u.look("customer")
	u.ClickText("Sign out")
	u.WaitText("[role=status]", "You are signed out.")

	u.signIn(admin)
	u.WaitText("main h1", "Sessions")
	require.True(t, strings.HasSuffix(u.URL(), e.prefix+"sessions"), u.URL())
	u.ClickText("Sign out")
	u.WaitText("[role=status]", "You are signed out.")
	u.Navigate(u.url("sessions"))
	u.WaitText("main h1", "Sign in")
}

// The Sessions view lists every active session with user, device, IP and
// last seen, marks the current one and offers no Terminate on it; it
// filters by user and pages; Terminate asks first, then ends the other
// device's session at once; a blacklisting with a reason signs the user
// out everywhere and lists them, and Remove takes them off the list.
func TestBrowserSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.admin()
	bob := e.user(20, "bob", security.AccountStaff, security.PermSessionsList)
	mallory := e.user(30, "mallory", security.AccountCustomer)
	bobPhone := e.login(bob, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile Safari")
	bobDesk := e.login(bob, "Mozilla/5.0 (Windows NT 10.0) Firefox/140.0")
	for i := range 27 {
		e.login(mallory, fmt.Sprintf("Mallory's script %02d", i))
	}
	u := openConsole(t, e)
	u.signIn(admin)
	u.WaitText("main h1", "Sessions")

	require.Contains(t, u.Text("p.count"), "30 active session(s)")
	require.Contains(t, u.Text("nav.pager"), "Page 1 of 2")
	mine := u.Text("tr.current")
	require.Contains(t, mine, "This session")
	require.Contains(t, mine, "admin")
	require.False(t, u.Has("tr.current a.danger"), "no Terminate on the current session")
	u.look("sessions")

	u.ClickText("Next page")
	u.WaitText("nav.pager", "Page 2 of 2")
	require.Equal(t, 5, u.Count("table.sessions tbody tr"))
	u.ClickText("Previous page")
	u.WaitText("nav.pager", "Page 1 of 2")

	u.Fill("user_id", "20")
	u.ClickText("Filter")
	u.WaitText("p.count", "2 active session(s) of user 20")
	row := u.Text(rowOf(bobPhone.Session.ID))
	for _, want := range []string{"bob", "#20", "iPhone"} {
		require.Contains(t, row, want)
	}

	// Terminate, confirmed on its own page; Cancel first changes nothing.
	u.Click(rowOf(bobPhone.Session.ID) + " a.danger")
	u.WaitText("main h1", "Terminate session")
	require.Contains(t, u.Text("main .card"), "bob (user 20)")
	u.look("terminate")
	u.ClickText("Cancel")
	u.WaitText("main h1", "Sessions")
	_, err := e.mgr.Authenticate(e.ctx, bobPhone.Token)
	require.NoError(t, err, "Cancel terminates nothing")
	u.Navigate(u.url("sessions?user_id=20"))
	u.Click(rowOf(bobPhone.Session.ID) + " a.danger")
	u.ClickText("Terminate session")
	u.WaitText("[role=status]", "Session terminated.")
	require.False(t, u.Has(rowOf(bobPhone.Session.ID)))
	_, err = e.mgr.Authenticate(e.ctx, bobPhone.Token)
	require.ErrorIs(t, err, security.ErrUnauthenticated, "the phone is signed out at once")
	_, err = e.mgr.Authenticate(e.ctx, bobDesk.Token)
	require.NoError(t, err, "the other device is not")

	// Blacklist with a reason, then remove.
	u.Type("#bl-user", "30")
	u.Fill("reason", "Scripted logins from many devices")
	u.ClickText("Blacklist user")
	u.WaitText("[role=status]", "User blacklisted; 27 session(s) terminated.")
	listed := u.Text("table.blacklist")
	require.Contains(t, listed, "mallory")
	require.Contains(t, listed, "Scripted logins from many devices")
	require.Contains(t, listed, "admin")
	list, _, err := e.mgr.List(e.ctx, session.Auth{Principal: security.Principal{UserID: 1, AccountType: security.AccountStaff,
		Permissions: security.AllPermissions}}, session.ListOptions{UserID: 30})
	require.NoError(t, err)
	require.Empty(t, list, "every session of the user is gone")
	u.look("blacklist")

	u.Click(`tr[data-user-id="30"] button`)
	u.WaitText("[role=status]", "User removed from the blacklist.")
	require.False(t, u.Has(`tr[data-user-id="30"]`))
	require.True(t, u.HasText("No user is blacklisted."))
	_, err = e.mgr.Login(e.ctx, session.LoginRequest{Email: mallory, Password: password, Kind: session.KindWeb})
	require.NoError(t, err, "removed from the blacklist, the user can log in again")
}

// A staff user holding only sessions.list sees the sessions but no
// Terminate button on others' sessions, no blacklist form, and no Alerts,
// Checks or Report in the navigation; a terminate request forged with the
// page's own token (from the page's script) is refused and changes
// nothing, as is a blacklisting posted with a forged token by an admin.
func TestBrowserRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.admin()
	viewer := e.user(20, "vera", security.AccountStaff, security.PermSessionsList)
	victim := e.login(admin, "Admin's laptop")
	own := e.login(viewer, "Vera's other browser")
	u := openConsole(t, e)
	u.signIn(viewer)
	u.WaitText("main h1", "Sessions")

	nav := u.Text("nav.nav")
	require.Contains(t, nav, "Sessions")
	require.Contains(t, nav, "Password check")
	for _, hidden := range []string{"Alerts", "Checks", "Report"} {
		require.NotContains(t, nav, hidden)
	}
	require.True(t, u.Has(rowOf(victim.Session.ID)), "the viewer lists every session")
	require.False(t, u.Has(rowOf(victim.Session.ID)+" a.danger"), "but may not terminate others'")
	require.True(t, u.Has(rowOf(own.Session.ID)+" a.danger"), "her own other session she may")
	require.False(t, u.Has("form[name=blacklist-add]"))
	require.False(t, u.Has("#blacklist-h"))
	u.look("sessions-viewer")

	status := browsertest.Eval[int](u.Page, fmt.Sprintf(`(async () => {
		const token = document.querySelector('input[name=csrf_token]').value;
		const r = await fetch(%q, {method: 'POST', body: new URLSearchParams({csrf_token: token, session_id: %q}),
			headers: {'Content-Type': 'application/x-www-form-urlencoded'}});
		return r.status;
	})()`, e.prefix+"sessions/terminate", victim.Session.ID))
	require.Equal(t, http.StatusForbidden, status)
	_, err := e.mgr.Authenticate(e.ctx, victim.Token)
	require.NoError(t, err, "the refused terminate changed nothing")

	// The pages a viewer has no link to answer 403 or 404 when typed in.
	for _, rel := range []string{"alerts", "checks", "report"} {
		resp := browsertest.Eval[int](u.Page, fmt.Sprintf(`fetch(%q).then(r => r.status)`, e.prefix+rel))
		require.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, resp, rel)
	}

	a := u.another()
	au := &ui{Page: a.Page, e: e}
	au.signIn(admin)
	au.WaitText("main h1", "Sessions")
	au.Type("#bl-user", "20")
	au.Fill("reason", "forged")
	au.Eval(`document.querySelector('form[name=blacklist-add] [name=csrf_token]').value = 'f'.repeat(64)`)
	au.ClickText("Blacklist user")
	au.WaitText("body", "This form has expired, or it was not sent from this site.")
	au.Screenshot("forged-refused")
	_, err = e.mgr.Authenticate(e.ctx, own.Token)
	require.NoError(t, err, "the forged blacklisting changed nothing")
	au.Navigate(au.url("sessions"))
	au.WaitText("main h1", "Sessions")
	require.True(t, au.HasText("No user is blacklisted."))
}

// Keyboard alone: sign in, reach the Sessions view's Terminate link of
// another session, confirm, and see it gone, without a mouse.
func TestBrowserKeyboard(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.admin()
	other := e.login(admin, "Admin's old laptop")
	u := openConsole(t, e)
	u.Navigate(u.url(""))
	u.TabTo("input[name=email]", 10)
	u.Press(admin)
	u.TabTo("input[name=password]", 3)
	u.Press(password + kb.Enter)
	u.WaitText("main h1", "Sessions")

	// The skip link comes first and moves focus to the content.
	u.TabTo("a.skip", 3)
	u.Press(kb.Enter)
	u.TabTo(rowOf(other.Session.ID)+" a.danger", 40)
	u.Press(kb.Enter)
	u.WaitText("main h1", "Terminate session")
	u.TabTo("form[name=terminate] button", 30)
	u.Press(kb.Enter)
	u.WaitText("[role=status]", "Session terminated.")
	_, err := e.mgr.Authenticate(e.ctx, other.Token)
	require.ErrorIs(t, err, security.ErrUnauthenticated)
}

// Eval runs a statement in the page.
func (u *ui) Eval(js string) {
	u.T().Helper()
	browsertest.Eval[bool](u.Page, "(() => {"+js+"; return true})()")
}
