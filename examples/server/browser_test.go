package main

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/browsertest"
)

// The README's way in: the server started as `go run ./examples/server`
// does (plain HTTP on 127.0.0.1, no flags), its printed administrator
// signs in to http://ADDR/console/ in a real Chromium and reaches every
// view. The session cookie is __Host- and Secure: browsers keep it on
// http://127.0.0.1, a potentially trustworthy origin, so no
// -insecure-cookies is needed there.
func TestServerConsoleInBrowser(t *testing.T) {
	base, email, password := consoleServer(t)
	p := browsertest.Start(t, browsertest.Options{})
	p.Navigate(base + "/console/")
	p.Fill("email", email)
	p.Fill("password", password)
	p.ClickText("Sign in")
	p.WaitText("main h1", "Sessions")
	for _, view := range []struct{ link, h1 string }{
		{"Alerts", "Alerts"}, {"Checks", "Checks"}, {"Report", "Security report"}, {"Password check", "Password check"},
		{"Sessions", "Sessions"},
	} {
		p.ClickText(view.link)
		p.WaitText("main h1", view.h1)
	}
	require.Contains(t, p.Text("tr.current"), "This session")
	p.ClickText("Sign out")
	p.WaitText("[role=status]", "You are signed out.")
}

// consoleServer starts the server on a new database and returns its
// address and the administrator it printed.
func consoleServer(t *testing.T) (base, email, password string) {
	t.Helper()
	base, printed := server(t, "-db", filepath.Join(t.TempDir(), "propsec.db"), "-watch", t.TempDir())
	for _, l := range printed {
		if m := regexp.MustCompile(`email (\S+) password (\S+)`).FindStringSubmatch(l); m != nil {
			email, password = m[1], m[2]
		}
	}
	require.NotEmpty(t, password, "the first start prints the administrator's credentials: %q", printed)
	return base, email, password
}

// The same in Firefox, whose rules for Secure cookies on http://127.0.0.1
// are its own.
func TestServerConsoleInFirefox(t *testing.T) {
	base, email, password := consoleServer(t)
	f := browsertest.StartFirefox(t)
	f.Navigate(base + "/console/")
	f.Type("input[name=email]", email)
	f.Type("input[name=password]", password+"\uE007")
	f.WaitText("main h1", "Sessions")
	f.Click("Checks")
	f.WaitText("main h1", "Checks")
	f.Click("Sign out")
	f.WaitText("[role=status]", "You are signed out.")
}
