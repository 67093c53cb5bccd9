package console_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/integrity"
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
	u.submitSignIn(email)
	u.WaitVisible("form[name=signout]")
}

// submitSignIn fills in and submits the sign-in form.
func (u *ui) submitSignIn(email string) {
	u.T().Helper()
	u.Navigate(u.url(""))
	u.Fill("email", email)
	u.Fill("password", password)
	u.ClickText("Sign in")
}

// look checks the current view at desktop and phone width: axe-core finds
// no serious or critical violation, nothing scrolls sideways on a phone;
// and saves a screenshot of each.
func (u *ui) look(name string) {
	u.T().Helper()
	u.Axe()
	u.Screenshot(name)
	u.readme(name, 0.625, 1100)
	u.SetViewport(browsertest.Phone)
	defer u.SetViewport(browsertest.Desktop)
	u.WaitTrue("the phone layout", `document.documentElement.clientWidth <= 390`)
	wide := browsertest.Eval[int](u.Page, `document.documentElement.scrollWidth`)
	require.LessOrEqual(u.T(), wide, int(browsertest.Phone.Width), "%s scrolls sideways at phone width: %d px", name, wide)
	u.Axe()
	u.Screenshot(name + "-phone")
	u.readme(name+"-phone", 1, 844)
}

// readmeShots are the views the README shows: the name of the view's
// screenshot here, and its file in docs/console/.
var readmeShots = map[string]string{"signin": "signin", "blacklist": "sessions", "blacklist-phone": "sessions-phone",
	"alerts": "alerts", "alert-diff": "alert-diff", "check-complete": "checks", "report": "report",
	"password-breached": "password-check", "security-codes": "security", "verify": "verify"}

// readme saves the top of the view (height CSS pixels, at scale) into
// docs/console/<name>.png when PROPSEC_UPDATE_SCREENSHOTS=1 and the README
// shows that view.
func (u *ui) readme(name string, scale float64, height int) {
	u.T().Helper()
	file, ok := readmeShots[name]
	if os.Getenv("PROPSEC_UPDATE_SCREENSHOTS") != "1" || !ok {
		return
	}
	small, err := browsertest.SmallPNG(u.ScreenshotTop(scale, height), 96)
	require.NoError(u.T(), err)
	path := filepath.Join("..", "docs", "console", file+".png")
	require.NoError(u.T(), os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(u.T(), os.WriteFile(path, small, 0o644))
	u.T().Logf("README screenshot %s: %d bytes", path, len(small))
}

// rowOf is the CSS selector of a session's row.
func rowOf(id string) string { return fmt.Sprintf(`tr[data-session-id=%q]`, id) }

// Signed out, the console is a sign-in form; a wrong password says so; a
// customer account sees that a staff account is required; a staff account
// lands on its first view and signs out again.
func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	au.WaitText("body", "This form has expired, or it was not sent from this console.")
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
	t.Parallel()
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

// manyFiles puts n small files under dir (in subdirectories of 100), so
// that an integrity check has something to count through.
func manyFiles(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("lib%02d", i/100))
		require.NoError(t, os.MkdirAll(sub, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%04d.php", i)),
			[]byte(fmt.Sprintf("<?php // file %d\nreturn %d;\n", i, i)), 0o644))
	}
}

// The Alerts view, on alerts raised by a real scan of real files: filter
// by status and severity, the three sorts, details with the diff shown as
// a diff (line numbers, + and − marked in text, not only by colour), a
// "not diffed" reason shown as such, and selecting several alerts to
// resolve, ignore or delete.
func TestBrowserAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.admin()
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 80_000) // 1.3 MB: over the diff cap
	e.accept(func() { require.NoError(t, os.WriteFile(filepath.Join(e.root, "big.log"), big, 0o644)) })
	require.NoError(t, os.WriteFile(filepath.Join(e.root, "big.log"), append(big, "tail\n"...), 0o644))
	list := e.raise() // index.php changed, new.js added
	php, js := alertOn(t, list, "index.php"), alertOn(t, list, "new.js")
	bigAlert := alertOn(t, list, "big.log")
	total := len(list)

	u := openConsole(t, e)
	u.signIn(admin)
	u.ClickText("Alerts")
	u.WaitText("main h1", "Alerts")
	require.Contains(t, u.Text("p.count"), fmt.Sprintf("%d alert(s).", total))
	u.look("alerts")

	// Filters and sorts are links a person can keep: the URL holds them.
	u.Select("severity", string(php.Severity))
	u.ClickText("Apply")
	u.WaitURL(`severity=` + string(php.Severity))
	for _, sev := range u.texts("table.alerts td[data-label=Severity]") {
		require.Equal(t, string(php.Severity), sev)
	}
	u.Navigate(u.url("alerts"))
	for _, sort := range []string{"created_at_asc", "created_at_desc", "severity_desc"} {
		u.Select("sort", sort)
		u.ClickText("Apply")
		u.WaitURL(`sort=` + sort)
		require.Equal(t, total, u.Count("table.alerts tbody tr"), sort)
		if sort == "severity_desc" {
			sevs := u.texts("table.alerts td[data-label=Severity]")
			rank := map[string]int{"critical": 4, "high": 3, "medium": 2, "low": 1}
			for i := 1; i < len(sevs); i++ {
				require.GreaterOrEqual(t, rank[sevs[i-1]], rank[sevs[i]], "most severe first: %v", sevs)
			}
		}
	}
	u.Eval(`history.back()`)
	u.WaitURL(`sort=created_at_desc`)
	u.WaitText("main h1", "Alerts")

	// The details and the diff.
	u.Navigate(u.url("alerts"))
	u.Click(fmt.Sprintf(`tr[data-alert-id="%d"] td[data-label=Alert] a`, php.ID))
	u.WaitText("main h1", fmt.Sprintf("Alert %d", php.ID))
	require.Contains(t, u.Text("dl.details"), "index.php")
	diff := flat(u.Text("table.diff"))
	require.Contains(t, diff, "removed: line two")
	require.Contains(t, diff, "added: line 2 <b>changed</b>", "the file's text shown as text, not markup")
	require.Equal(t, 1, u.Count("table.diff tr.add"))
	require.Equal(t, 1, u.Count("table.diff tr.del"))
	require.Equal(t, "2", u.Text("table.diff tr.del td.ln"), "the old line number")
	require.Equal(t, "+", u.Text("table.diff tr.add td.sign"), "added lines are marked by more than colour")
	require.True(t, u.HasText("1 line(s) added, 1 line(s) removed."))
	u.look("alert-diff")

	u.Navigate(u.url(fmt.Sprintf("alerts/%d", bigAlert.ID)))
	require.Contains(t, u.WaitText("[data-testid=diff-note]", "not diffed"), "not diffed: ")
	require.False(t, u.Has("table.diff"))
	u.look("alert-not-diffed")

	// Resolve from the details page.
	u.Navigate(u.url(fmt.Sprintf("alerts/%d", js.ID)))
	u.ClickText("Resolve")
	u.WaitText("[role=status]", "1 alert(s) resolved.")
	a, err := e.mon.Alert(e.ctx, js.ID)
	require.NoError(t, err)
	require.Equal(t, integrity.StatusResolved, a.Status)

	// Select several on the list: ignore two, then delete them.
	u.Navigate(u.url("alerts?status=new"))
	u.WaitText("main h1", "Alerts")
	require.Equal(t, total-1, u.Count("table.alerts tbody tr"))
	u.Click(fmt.Sprintf(`#sel-%d`, php.ID))
	u.Click(fmt.Sprintf(`#sel-%d`, bigAlert.ID))
	u.ClickText("Ignore selected")
	u.WaitText("[role=status]", "2 alert(s) ignored.")
	require.True(t, strings.Contains(u.URL(), "status=new"), "the filter is kept: %s", u.URL())
	require.Equal(t, total-3, u.Count("table.alerts tbody tr"))
	u.Navigate(u.url("alerts?status=ignored"))
	u.WaitText("p.count", "2 alert(s).")
	u.Click(fmt.Sprintf(`#sel-%d`, php.ID))
	u.Click(fmt.Sprintf(`#sel-%d`, bigAlert.ID))
	u.ClickText("Delete selected")
	u.WaitText("[role=status]", "2 alert(s) deleted.")
	_, err = e.mon.Alert(e.ctx, php.ID)
	require.ErrorIs(t, err, security.ErrNotFound)

	// Nothing selected: refused with a message, nothing changed.
	u.Navigate(u.url("alerts"))
	u.ClickText("Resolve selected")
	u.WaitTrue("a refusal", `document.querySelector('[role=alert]') !== null`)
	u.look("alerts-refused")
	left, _, err := e.mon.Alerts(e.ctx, integrity.ListOptions{Limit: 100})
	require.NoError(t, err)
	require.Len(t, left, total-2)
}

// texts are the visible texts of every element matching the CSS selector.
func (u *ui) texts(css string) []string {
	u.T().Helper()
	return browsertest.Eval[[]string](u.Page, fmt.Sprintf(
		`[...document.querySelectorAll(%q)].map(e => e.innerText.trim())`, css))
}

// accept makes the changes of change part of the baseline, as a
// deployment does.
func (e *env) accept(change func()) {
	e.t.Helper()
	actor := integrity.Actor{UserID: 1}
	_, err := e.mon.BeginDeployment(e.ctx, actor, "test files")
	require.NoError(e.t, err)
	change()
	_, err = e.mon.EndDeployment(e.ctx, actor)
	require.NoError(e.t, err)
}

// waitCheckDone waits for the Checks view as the server renders it once
// the check has completed (the page's script reloads it then).
func (u *ui) waitCheckDone() {
	u.T().Helper()
	u.WaitTrue("the completed check's page", `document.readyState === 'complete' &&
		document.getElementById('check') !== null && document.getElementById('check').dataset.status === 'complete'`)
}

// flat is s with every run of white space made one space.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// The Checks view: Run starts a check on 3,000 real files and the page
// follows it with a live progress bar (the script polls the progress
// endpoint and moves the bar) until it is complete, with the files
// scanned equal to the total and the violations found; a deployment is
// begun with a description, ended, and what it accepted is listed.
func TestBrowserChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.admin()
	e.accept(func() { manyFiles(t, e.root, 3000) })
	require.NoError(t, os.WriteFile(filepath.Join(e.root, "lib07", "f0700.php"), []byte("<?php evil();\n"), 0o644))

	u := openConsole(t, e)
	u.Timeout = 2 * time.Minute // two scans of 3,000 files on a busy machine
	u.signIn(admin)
	u.ClickText("Checks")
	u.WaitText("main h1", "Checks")
	u.look("checks")

	// Every state the progress bar takes, from the first paint on, kept in
	// sessionStorage across the reload the script makes at the end:
	// [value, max, the status text, the status the server rendered].
	u.Do("watching the progress bar", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
			Source: `document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('check'), bar = document.getElementById('check-progress');
  if (!box || !bar) return;
  const log = JSON.parse(sessionStorage.getItem('bar') || '[]');
  const note = () => {
    log.push([bar.value, bar.max, document.getElementById('check-status').textContent, box.dataset.status]);
    sessionStorage.setItem('bar', JSON.stringify(log));
  };
  note();
  new MutationObserver(note).observe(box, {subtree: true, childList: true, characterData: true, attributes: true});
});`})
		return err
	}))
	rec := u.Record()
	u.ClickText("Run integrity check")
	u.WaitURL(`check_id=chk_`)
	u.Screenshot("check-started")
	u.WaitText("#check-status", "complete")
	u.waitCheckDone()
	id := browsertest.Eval[string](u.Page, `document.getElementById('check').dataset.checkId`)
	done, err := e.mon.Progress(e.ctx, id)
	require.NoError(t, err)
	require.Greater(t, done.FilesTotal, int64(3000))
	counts := u.Text("#check-counts")
	require.Equal(t, fmt.Sprintf("%d of %d files scanned, 1 violation(s) found.", done.FilesTotal, done.FilesTotal), counts)
	require.Equal(t, done.FilesTotal, browsertest.Eval[int64](u.Page, `document.getElementById('check-progress').value`))
	require.Equal(t, done.FilesTotal, browsertest.Eval[int64](u.Page, `document.getElementById('check-progress').max`))
	require.True(t, u.Has(`a[href$="alerts?status=new"]`))
	polls := 0
	for _, r := range rec.Requests() {
		if strings.Contains(r.URL, "/checks/progress?check_id=") {
			polls++
			require.Equal(t, "application/json", r.Headers["Accept"])
		}
	}
	type state struct {
		value, max      float64
		shown, rendered string
	}
	var states []state
	for _, st := range browsertest.Eval[[][]any](u.Page, `JSON.parse(sessionStorage.getItem('bar') || '[]')`) {
		states = append(states, state{st[0].(float64), st[1].(float64), st[2].(string), st[3].(string)})
	}
	require.NotEmpty(t, states)
	t.Logf("the script polled the progress %d time(s); the bar's states: %v", polls, states)
	if states[0].rendered == "running" {
		require.Positive(t, polls, "a running check is followed by the page's script")
		// The script itself moved the bar to the end and said so, on the
		// page rendered while the check ran.
		live := slices.IndexFunc(states, func(s state) bool {
			return s.rendered == "running" && s.shown == "complete" && s.value == float64(done.FilesTotal) && s.max == s.value
		})
		require.GreaterOrEqual(t, live, 0, "the bar filled on the running check's page: %v", states)
		for i := 1; i <= live; i++ {
			require.GreaterOrEqual(t, states[i].value, states[i-1].value, "the bar never goes back: %v", states)
		}
	}
	u.look("check-complete")

	// A check already running is shown, not an error.
	running, err := e.mon.Start(e.ctx)
	require.NoError(t, err)
	u.Navigate(u.url("checks")) // an address without check_id, for WaitURL below
	u.WaitText("main h1", "Checks")
	u.ClickText("Run integrity check")
	u.WaitURL(`check_id=`)
	u.WaitText("main h1", "Checks")
	if strings.Contains(u.URL(), running) {
		require.Contains(t, u.Text("[role=status]"), "A check was already running: it is shown below.")
	} // else it had completed before the click, and a new check started
	require.False(t, u.Has("[role=alert]"), "no error")
	u.waitCheckDone()

	u.Fill("description", "release 1.2")
	u.ClickText("Begin deployment")
	u.WaitText("[role=status]", "Deployment started")
	require.Contains(t, u.Text("[data-testid=open-deployment]"), "release 1.2")
	u.look("deployment-open")
	require.NoError(t, os.WriteFile(filepath.Join(e.root, "lib00", "f0001.php"), []byte("<?php // deployed\n"), 0o644))
	u.ClickText("End deployment and accept changes")
	u.WaitText("[role=status]", "Deployment ended:")
	require.Contains(t, u.Text("table.deployments"), "release 1.2")
	u.look("deployment-ended")
}

// The Report view: the last 7 days by default, the seven counters, the
// chart, a table per day; a new period from the picker; the CSV download
// of the period shown.
func TestBrowserReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := e.admin()
	e.raise()
	_, err := e.mgr.Login(e.ctx, session.LoginRequest{Email: admin, Password: "wrong", Kind: session.KindWeb})
	require.Error(t, err)
	u := openConsole(t, e)
	u.signIn(admin)
	u.ClickText("Report")
	u.WaitText("main h1", "Security report")
	today := time.Now().UTC()
	require.Equal(t, today.AddDate(0, 0, -6).Format(time.DateOnly), u.value("#r-from"))
	require.Equal(t, today.Format(time.DateOnly), u.value("#r-to"))
	require.Equal(t, 7, u.Count("ul.counters li"))
	counters := flat(u.Text("ul.counters"))
	require.Contains(t, counters, "1 Successful logins")
	require.Contains(t, counters, "1 Failed logins")
	require.True(t, u.Has("svg.chart rect"))
	require.Equal(t, 7, u.Count("table.daily tbody tr"))
	u.look("report")

	name, data := u.Download(`a[href*="report.csv"]`)
	require.True(t, strings.HasSuffix(name, ".csv"), name)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 8, "a header and seven days: %q", data)
	require.Contains(t, lines[len(lines)-1], today.Format(time.DateOnly))

	from, to := today.AddDate(0, 0, -30).Format(time.DateOnly), today.AddDate(0, 0, -28).Format(time.DateOnly)
	u.Eval(fmt.Sprintf(`document.getElementById('r-from').value = %q; document.getElementById('r-to').value = %q`, from, to))
	u.ClickText("Show")
	u.WaitURL(`from=` + from)
	require.Equal(t, 3, u.Count("table.daily tbody tr"))
	require.Contains(t, flat(u.Text("ul.counters")), "0 Successful logins")
	_, data = u.Download(`a[href*="report.csv"]`)
	lines = strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 4, "the CSV is of the period shown: %q", data)
	require.Contains(t, lines[1], from)
}

// value is the current value of the form control matching the selector.
func (u *ui) value(css string) string {
	u.T().Helper()
	return browsertest.Eval[string](u.Page, fmt.Sprintf(`document.querySelector(%q).value`, css))
}

func sha1Upper(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// The password check runs in the page: typed passwords are hashed with
// WebCrypto and only the 5-hex prefix of the hash leaves the page; every
// request the page made is read to prove that neither the password, nor
// its full SHA-1 (either case), nor the 35-hex suffix was sent. A breached
// password is reported with its count; another is not found.
func TestBrowserPasswordCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{breach: true})
	const breached, clean = "password", "a long unlisted passphrase 7c1f" // the fake HIBP knows "password"
	admin := e.admin()
	u := openConsole(t, e)
	u.signIn(admin)
	rec := u.Record()
	u.ClickText("Password check")
	u.WaitText("main h1", "Password check")
	u.look("password")

	u.Type("#pw", breached)
	u.ClickText("Check password")
	require.Contains(t, u.WaitText("#pw-result", "Breached"), "9,659,365 time(s)")
	u.look("password-breached")
	u.Type("#pw", clean)
	u.Press(kb.Enter)
	u.WaitText("#pw-result", "Not found in known breaches.")

	var checks []string
	for _, r := range rec.Requests() {
		all := r.String()
		for _, pw := range []string{breached, clean} {
			h := sha1Upper(pw)
			for _, secret := range []string{h, strings.ToLower(h), h[5:], strings.ToLower(h[5:])} {
				require.NotContains(t, all, secret, "a hash left the page in %s %s", r.Method, r.URL)
			}
		}
		for _, secret := range []string{clean, url.QueryEscape(clean), url.PathEscape(clean)} {
			require.NotContains(t, all, secret, "the password left the page in %s %s", r.Method, r.URL)
		}
		// "password" is also in the view's own URL: look for it where a
		// script could have put it.
		parsed, err := url.Parse(r.URL)
		require.NoError(t, err)
		require.NotContains(t, parsed.RawQuery+"\n"+r.PostData, breached, "the password left the page in %s %s", r.Method, r.URL)
		if strings.Contains(r.URL, "password-breach-check") {
			require.Equal(t, "GET", r.Method)
			require.Empty(t, r.PostData)
			checks = append(checks, r.URL)
		}
	}
	require.Equal(t, []string{
		e.srv.URL + "/api/security/password-breach-check?hash_prefix=" + sha1Upper(breached)[:5],
		e.srv.URL + "/api/security/password-breach-check?hash_prefix=" + sha1Upper(clean)[:5],
	}, checks)
}
