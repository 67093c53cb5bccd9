package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/internal/browsertest"
)

// In a real Chromium: a wrong password is refused on the login page; the
// right one signs in and comes back to the page asked for; every page is
// reachable by its link, works, and has no serious or critical axe-core
// violation at desktop and phone width; a form whose token was tampered
// with is refused and changes nothing; signing out ends the session.
func TestInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := browsertest.Start(t, browsertest.Options{})
	check := func(name string) {
		t.Helper()
		p.Axe()
		p.Screenshot(name)
	}

	p.Navigate(e.srv.URL + "/notes")
	p.WaitURL(`/login\?next=%2Fnotes$`)
	check("login")
	p.Fill("email", janeEmail)
	p.Fill("password", "not her password")
	p.ClickText("Sign in")
	require.Contains(t, p.WaitText("[role=alert]", "Wrong"), "Wrong email address or password.")
	check("login-refused")

	p.Fill("email", janeEmail)
	p.Fill("password", janePassword)
	p.ClickText("Sign in")
	p.WaitURL(`/notes$`)
	p.WaitText("h1", "Notes")
	require.Contains(t, p.Cookies(), httpadapter.DefaultCookieName)

	p.Fill("note", "Buy <milk> & eggs")
	p.ClickText("Save note")
	p.WaitText(".notes", "Buy <milk> & eggs")
	check("notes")

	for _, link := range []struct{ text, h1 string }{
		{"Home", "Hello, Jane Smith"}, {"Sessions", "Your sessions"}, {"Password", "Change password"},
	} {
		p.ClickText(link.text)
		p.WaitText("h1", link.h1)
		require.Equal(t, "page", browsertest.Eval[string](p,
			`document.querySelector('nav a[aria-current]').getAttribute('aria-current')`))
		check(link.text)
	}
	p.ClickText("Sessions")
	require.Contains(t, p.WaitText("table", "this browser"), "this browser")

	// A forged form: the page's own token replaced. Refused, nothing saved.
	p.ClickText("Notes")
	p.Fill("note", "forged")
	browsertest.Eval[bool](p, `(document.querySelector('form[action="/notes"] [name=csrf_token]').value = 'f'.repeat(64), true)`)
	p.ClickText("Save note")
	p.WaitText("h1", "Form refused")
	require.Contains(t, p.Text("[role=alert]"), "Nothing was changed.")
	check("refused")
	p.ClickText("Back to the start")
	p.ClickText("Notes")
	p.WaitText("h1", "Notes")
	require.False(t, p.HasText("forged"))

	p.SetViewport(browsertest.Phone)
	for _, path := range []string{"/", "/sessions", "/password", "/notes"} {
		p.Navigate(e.srv.URL + path)
		require.LessOrEqual(t, browsertest.Eval[int](p, `document.documentElement.scrollWidth`), int(browsertest.Phone.Width),
			"%s scrolls sideways on a phone", path)
		check("phone" + path)
	}
	p.SetViewport(browsertest.Desktop)

	p.ClickText("Sign out")
	p.WaitText("[role=status]", "You are signed out.")
	p.Navigate(e.srv.URL + "/sessions")
	p.WaitURL(`/login\?next=%2Fsessions$`)
}
