package console_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/browsertest"
	"github.com/propops/propsec/security"
)

// The console in Firefox (WebDriver BiDi; browsertest.StartFirefox): sign
// in with typed keys, every view with axe-core and no sideways scrolling
// at phone width, a terminate confirmed, the alerts' diff, a check run to
// complete by the page's script, the password check with only the 5-hex
// prefix in any URL the page requested, and no error in the page's
// console.
func TestFirefoxConsole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{breach: true})
	admin := e.admin()
	other := e.login(admin, "Admin's old laptop")
	list := e.raise()
	php := alertOn(t, list, "index.php")
	f := browsertest.StartFirefox(t)
	url := func(rel string) string { return e.srv.URL + e.prefix + rel }

	f.Navigate(url(""))
	f.Type("input[name=email]", admin)
	f.Type("input[name=password]", password+"\uE007")
	f.WaitText("main h1", "Sessions")

	look := func(name string) {
		t.Helper()
		f.Axe()
		f.Screenshot(name)
		f.SetViewport(browsertest.Phone)
		f.WaitTrue("the phone width", `document.documentElement.clientWidth <= 390`)
		wide := browsertest.FirefoxEval[int](f, `document.documentElement.scrollWidth`)
		require.LessOrEqual(t, wide, 390, "%s scrolls sideways at phone width in Firefox", name)
		f.Screenshot(name + "-phone")
		f.SetViewport(browsertest.Desktop)
	}
	look("sessions")

	f.Click(fmt.Sprintf(`tr[data-session-id=%q] a.danger`, other.Session.ID))
	f.WaitText("main h1", "Terminate session")
	f.Click("form[name=terminate] button")
	f.WaitText("[role=status]", "Session terminated.")
	_, err := e.mgr.Authenticate(e.ctx, other.Token)
	require.ErrorIs(t, err, security.ErrUnauthenticated)

	f.Click("Alerts")
	f.WaitText("main h1", "Alerts")
	look("alerts")
	f.Navigate(url(fmt.Sprintf("alerts/%d", php.ID)))
	f.WaitText("table.diff", "line 2 <b>changed</b>")
	look("alert-diff")

	f.Click("Checks")
	f.WaitText("main h1", "Checks")
	f.Click("Run integrity check")
	f.WaitTrue("the check's page", `document.getElementById('check') !== null`)
	f.WaitTrue("the completed check", `document.readyState === 'complete' && document.getElementById('check').dataset.status === 'complete'`)
	f.WaitText("#check-counts", "files scanned")
	look("checks")

	f.Click("Report")
	f.WaitText("main h1", "Security report")
	require.Equal(t, 7, browsertest.FirefoxEval[int](f, `document.querySelectorAll('ul.counters li').length`))
	look("report")

	f.Click("Password check")
	f.WaitText("main h1", "Password check")
	f.Type("#pw", "password\uE007")
	f.WaitText("#pw-result", "Breached")
	look("password")
	h := sha1Upper("password")
	var checks int
	for _, r := range f.Requests() {
		require.NotContains(t, strings.ToUpper(r), h[5:], "the suffix left the page: %s", r)
		if strings.Contains(r, "password-breach-check") {
			checks++
			require.Equal(t, "GET "+e.srv.URL+"/api/security/password-breach-check?hash_prefix="+h[:5], r)
		}
	}
	require.Equal(t, 1, checks)

	f.Click("Sign out")
	f.WaitText("[role=status]", "You are signed out.")
	require.Empty(t, f.ConsoleErrors(), "the pages logged errors in Firefox")
}
