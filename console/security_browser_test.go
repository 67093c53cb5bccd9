package console_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/browsertest"
	"github.com/propops/propsec/session"
)

// totpNow is the code of secret at the env's clock, shifted by steps.
func (u *ui) totpNow(secret string, steps int) string {
	u.T().Helper()
	code, err := session.TOTPCode(secret, u.e.clock.Now().Add(time.Duration(steps)*session.TOTPPeriod))
	require.NoError(u.T(), err)
	return code
}

// attr is an attribute (or, for "value", the property) of the first
// element matching css.
func (u *ui) attr(css, name string) string {
	u.T().Helper()
	if name == "value" {
		return browsertest.Eval[string](u.Page, `document.querySelector(`+strconv.Quote(css)+`).value`)
	}
	return browsertest.Eval[string](u.Page, `document.querySelector(`+strconv.Quote(css)+`).getAttribute(`+strconv.Quote(name)+`) || ""`)
}

// signInToVerify signs in through the form and waits for the verify page.
func (u *ui) signInToVerify(email string) {
	u.T().Helper()
	u.submitSignIn(email)
	u.WaitText("main h1", "Verify your sign-in")
	require.Contains(u.T(), u.URL(), u.e.prefix+"verify?verification_id=ver_")
}

// In Chromium: enrol TOTP on the Security view (the code computed from the
// secret the page shows), see the recovery codes once, then sign in with
// a TOTP code on the console's verify page (after a wrong one) and with a
// recovery code.
func TestBrowserSecurityTOTP(t *testing.T) {
	e := newEnv(t, envOptions{mfa: true})
	admin := e.admin()
	u := openConsole(t, e)
	u.signIn(admin)
	u.ClickText("Security")
	u.WaitText("main h1", "Security")
	require.Contains(t, u.Text("[data-testid=factor-status]"), "Off")
	u.look("security")

	u.ClickText("Set up an authenticator app")
	secret := strings.TrimSpace(u.Text("[data-testid=totp-secret]"))
	require.Regexp(t, `^[A-Z2-7]{16,}$`, secret)
	u.WaitTrue("the QR code", `document.querySelector("img.qr").naturalWidth > 100`)
	u.look("security-enrol")
	u.Fill("code", u.totpNow(secret, -1))
	u.ClickText("Confirm")
	u.WaitText("[role=alert]", "Save these now")
	codes := strings.Fields(u.Text("[data-testid=recovery-codes]"))
	require.Len(t, codes, session.RecoveryCodeCount)
	u.look("security-codes")
	u.ClickText("I have saved them")
	u.WaitText("[data-testid=factor-status]", "On")
	require.False(t, u.HasText(codes[0]), "shown once")
	u.look("security-on")

	u.ClickText("Sign out")
	u.WaitText("[role=status]", "You are signed out.")
	u.signInToVerify(admin)
	require.Equal(t, "one-time-code", u.attr("#code", "autocomplete"))
	u.look("verify")
	u.Fill("code", "000000")
	u.ClickText("Verify")
	u.WaitText("[role=alert]", "4 attempt(s) left")
	require.Empty(t, u.attr("#code", "value"), "the wrong code is not echoed")
	u.look("verify-wrong")
	u.Fill("code", u.totpNow(secret, 0))
	u.ClickText("Verify")
	u.WaitVisible("form[name=signout]")
	u.WaitText("main h1", "Sessions")

	// A recovery code signs in once.
	v := u.another()
	v.signInToVerify(admin)
	v.Fill("code", codes[3])
	v.ClickText("Verify")
	v.WaitVisible("form[name=signout]")
	v.ClickText("Security")
	v.WaitText("[data-testid=factor-status]", "9")
}

// In Chromium with a virtual authenticator: register a passkey on the
// Security view, sign in with it on the console's verify page, see it
// used, and remove it.
func TestBrowserSecurityPasskey(t *testing.T) {
	e := newEnv(t, envOptions{passkeys: true})
	admin := e.admin()
	u := openConsole(t, e)
	auth := u.AddVirtualAuthenticator()
	u.signIn(admin)
	u.open("security", "Security")
	require.True(t, u.HasText("No passkeys yet."))
	u.Type("#pk-name", "Laptop")
	u.ClickText("Add a passkey")
	u.WaitText("[role=status]", "Passkey registered.")
	u.WaitText("table.passkeys", "Laptop")
	require.Contains(t, u.Text(`tr[data-passkey="Laptop"]`), "never")
	require.Len(t, u.Credentials(auth), 1)
	u.look("security-passkey")

	u.ClickText("Sign out")
	u.WaitText("[role=status]", "You are signed out.")
	u.signInToVerify(admin)
	u.WaitVisible("#passkey-verify")
	require.False(t, u.Has("#code"), "a passkey is this user's only factor: no code to ask for")
	u.look("verify-passkey")
	u.ClickText("Verify with a passkey")
	u.WaitVisible("form[name=signout]")
	u.open("security", "Security")
	require.NotContains(t, u.Text(`tr[data-passkey="Laptop"]`), "never", "last used is shown")

	// A passkey alone is enough for recovery codes.
	u.Type("#rc-password", password)
	u.ClickText("Make new recovery codes")
	u.WaitText("[role=alert]", "Save these now")
	require.Len(t, strings.Fields(u.Text("[data-testid=recovery-codes]")), session.RecoveryCodeCount)
	u.ClickText("I have saved them")
	u.WaitText("[data-testid=factor-status]", "10")

	// Removing needs the password.
	u.Type(`tr[data-passkey="Laptop"] input[name=password]`, "wrong password")
	u.ClickText("Remove passkey Laptop")
	u.WaitText("[role=alert]", "The password is wrong.")
	u.Type(`tr[data-passkey="Laptop"] input[name=password]`, password)
	u.ClickText("Remove passkey Laptop")
	u.WaitText("[role=status]", "Passkey removed.")
	require.True(t, u.HasText("No passkeys yet."))
}

// In Chromium: under RequireStaffSecondFactor a staff user without a
// factor lands on the Security view, with only it in the navigation, and
// a typed address of another view leads back there.
func TestBrowserSecurityRestricted(t *testing.T) {
	e := newEnv(t, envOptions{mfa: true, requireFactor: true})
	admin := e.admin()
	u := openConsole(t, e)
	u.signIn(admin)
	u.WaitText("[role=status]", "Staff accounts need a second factor")
	require.Equal(t, 1, u.Count("nav.nav li"))
	u.look("security-restricted")
	u.open("alerts", "Security")
	require.Contains(t, u.URL(), "/console/security")
}
