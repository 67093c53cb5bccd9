package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

var (
	secretRE   = regexp.MustCompile(`data-testid="totp-secret">([A-Z2-7]+)<`)
	recoveryRE = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)

// enrolTOTP sets up TOTP through b's Security view and returns the secret
// and the recovery codes the page showed. The confirming code is the
// previous step's, so that the current one is still unused for a login.
func (b *browser) enrolTOTP() (string, []string) {
	t := b.e.t
	t.Helper()
	tok := b.token("/console/security")
	p := b.post("/console/security/totp", url.Values{"csrf_token": {tok}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	m := secretRE.FindStringSubmatch(p.body)
	require.NotNil(t, m, "no secret shown")
	require.Contains(t, p.body, `src="data:image/png;base64,`)
	code, err := session.TOTPCode(m[1], b.e.clock.Now().Add(-session.TOTPPeriod))
	require.NoError(t, err)
	p = b.post("/console/security/totp/confirm", url.Values{"csrf_token": {tok}, "code": {code}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, "Save these now")
	var codes []string
	for _, c := range recoveryRE.FindAllStringSubmatch(p.body, -1) {
		codes = append(codes, c[1])
	}
	require.Len(t, codes, session.RecoveryCodeCount)
	return m[1], codes
}

// signInToVerify posts the sign-in form and expects the verify page; it
// returns the verification id.
func (b *browser) signInToVerify(email string) (string, page) {
	t := b.e.t
	t.Helper()
	p := b.post("/console/login", url.Values{"email": {email}, "password": {password}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Equal(t, "/console/verify", p.url.Path, "the console's own verify page")
	id := p.url.Query().Get("verification_id")
	require.True(t, session.ValidVerificationID(id), id)
	require.Contains(t, p.body, `autocomplete="one-time-code"`)
	require.Contains(t, p.body, `name="verification_id" value="`+id+`"`)
	require.NotContains(t, p.body, "Sign out")
	return id, p
}

// The Security view: TOTP enrolment (QR, secret, confirmation, the ten
// recovery codes once), then the sign-in asks for a code on the console's
// verify page, where a wrong code, a recovery code and a TOTP code are
// each handled; regenerate and remove need the password or a code.
func TestSecurityTOTPAndVerify(t *testing.T) {
	e := newEnv(t, envOptions{mfa: true})
	admin := e.admin()
	b := e.browser().signIn(admin)
	p := b.get("/console/security")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `<a href="/console/security" aria-current="page">Security</a>`)
	require.Regexp(t, `Authenticator app \(TOTP\)</dt>\s*<dd>Off`, p.body)

	t.Run("no csrf", func(t *testing.T) {
		p := b.post("/console/security/totp", url.Values{})
		require.Equal(t, http.StatusForbidden, p.status)
		p = b.get("/console/security")
		require.Regexp(t, `<dd>Off`, p.body, "nothing started")
	})
	t.Run("wrong confirmation code", func(t *testing.T) {
		tok := b.token("/console/security")
		p := b.post("/console/security/totp", url.Values{"csrf_token": {tok}})
		require.Equal(t, http.StatusOK, p.status)
		p = b.post("/console/security/totp/confirm", url.Values{"csrf_token": {tok}, "code": {"000000"}})
		require.Equal(t, http.StatusBadRequest, p.status)
		require.Contains(t, p.body, `role="alert">The code is wrong`)
		require.NotContains(t, p.body, `value="000000"`, "the code is not echoed")
		require.Contains(t, p.body, `name="totp-confirm"`, "the confirmation form again")
		require.Regexp(t, `<dd>Started, not confirmed`, p.body)
	})
	secret, codes := b.enrolTOTP()
	p = b.get("/console/security")
	require.Regexp(t, `<dd>On`, p.body)
	require.Regexp(t, `Recovery codes left</dt>\s*<dd>10`, p.body)
	require.NotContains(t, p.body, codes[0], "the codes are shown once")
	require.NotContains(t, p.body, secret, "the secret is shown once")

	c := e.browser()
	t.Run("wrong code, then the TOTP code", func(t *testing.T) {
		id, _ := c.signInToVerify(admin)
		p := c.post("/console/verify", url.Values{"verification_id": {id}, "code": {"123456"}})
		require.Equal(t, "/console/verify", p.url.Path)
		require.Contains(t, p.body, `role="alert">The code is wrong or was used already. 4 attempt(s) left.`)
		require.NotContains(t, p.body, `value="123456"`, "the code is not echoed")
		code, err := session.TOTPCode(secret, e.clock.Now())
		require.NoError(t, err)
		p = c.post("/console/verify", url.Values{"verification_id": {id}, "code": {code}})
		require.Equal(t, http.StatusOK, p.status)
		require.Equal(t, "/console/sessions", p.url.Path)
		require.Contains(t, p.body, "Sign out")
		// The back button to the verify page leads into the console.
		p = c.get("/console/verify?verification_id=" + id)
		require.Equal(t, "/console/sessions", p.url.Path)
	})
	t.Run("recovery code", func(t *testing.T) {
		d := e.browser()
		id, _ := d.signInToVerify(admin)
		p := d.post("/console/verify", url.Values{"verification_id": {id}, "code": {codes[0]}})
		require.Equal(t, "/console/sessions", p.url.Path, p.body)
		// Used once: a second sign-in refuses it.
		f := e.browser()
		id, _ = f.signInToVerify(admin)
		p = f.post("/console/verify", url.Values{"verification_id": {id}, "code": {codes[0]}})
		require.Equal(t, "/console/verify", p.url.Path)
		require.Contains(t, p.body, `role="alert">The code is wrong`)
		require.Regexp(t, `Recovery codes left</dt>\s*<dd>9`, d.get("/console/security").body)
	})
	t.Run("bad verify requests", func(t *testing.T) {
		d := e.browser()
		p := d.get("/console/verify?verification_id=nope")
		require.Equal(t, http.StatusBadRequest, p.status)
		p = d.get("/console/verify?verification_id=ver_" + strings.Repeat("a", 32))
		require.Equal(t, http.StatusGone, p.status, p.body)
		id, _ := d.signInToVerify(admin)
		// Cross-site: refused, the challenge untouched.
		p = d.do("POST", "/console/verify", url.Values{"verification_id": {id}, "code": {"1"}},
			map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		require.Equal(t, http.StatusForbidden, p.status)
		// Another client (user agent): refused, as the challenge is bound to it.
		p = d.do("GET", "/console/verify?verification_id="+id, nil, map[string]string{"User-Agent": "Other"})
		require.Equal(t, http.StatusGone, p.status)
		// No code: back with an alert; the page still works.
		p = d.post("/console/verify", url.Values{"verification_id": {id}, "code": {""}})
		require.Equal(t, "/console/verify", p.url.Path)
		require.Contains(t, p.body, `role="alert">Enter the code.`)
	})
	t.Run("regenerate and remove need a proof", func(t *testing.T) {
		tok := b.token("/console/security")
		p := b.post("/console/security/recovery-codes", url.Values{"csrf_token": {tok}})
		require.Equal(t, http.StatusBadRequest, p.status)
		require.Contains(t, p.body, `role="alert">Enter your password or a code`)
		p = b.post("/console/security/recovery-codes", url.Values{"csrf_token": {tok}, "password": {"wrong"}})
		require.Equal(t, http.StatusBadRequest, p.status)
		require.Contains(t, p.body, `role="alert">The password is wrong.`)
		p = b.post("/console/security/recovery-codes", url.Values{"password": {password}})
		require.Equal(t, http.StatusForbidden, p.status, "no CSRF token")
		p = b.post("/console/security/recovery-codes", url.Values{"csrf_token": {tok}, "password": {password}})
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, "Save these now")
		fresh := recoveryRE.FindAllStringSubmatch(p.body, -1)
		require.Len(t, fresh, session.RecoveryCodeCount)
		p = b.post("/console/security/totp/remove", url.Values{"csrf_token": {tok}, "code": {"000000"}})
		require.Equal(t, http.StatusBadRequest, p.status)
		require.Contains(t, p.body, `role="alert">The code is wrong`)
		require.NotContains(t, p.body, `value="000000"`, "the code is not echoed")
		p = b.post("/console/security/totp/remove", url.Values{"csrf_token": {tok}, "code": {fresh[1][1]}})
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, "The authenticator app and the recovery codes were removed.")
		require.Regexp(t, `<dd>Off`, p.body)
		// Without a factor, a sign-in needs no second step.
		e.browser().signIn(admin)
	})
}

// A verification ends after five wrong codes and after ten minutes: the
// verify page says so and leads back to the sign-in form. (Its own env:
// wrong codes count towards the login throttle.)
func TestSecurityVerifyEnds(t *testing.T) {
	e := newEnv(t, envOptions{mfa: true})
	admin := e.admin()
	secret, _ := e.browser().signIn(admin).enrolTOTP()
	t.Run("expired", func(t *testing.T) {
		d := e.browser()
		id, _ := d.signInToVerify(admin)
		e.clock.Advance(11 * time.Minute)
		code, err := session.TOTPCode(secret, e.clock.Now())
		require.NoError(t, err)
		p := d.post("/console/verify", url.Values{"verification_id": {id}, "code": {code}})
		require.Equal(t, "/console/", p.url.Path)
		require.Contains(t, p.body, `role="alert">The verification failed or expired`)
		require.NotContains(t, p.body, "Sign out")
	})
	t.Run("too many wrong codes", func(t *testing.T) {
		// Another user: the expired one's failure counts towards the
		// login throttle of admin.
		ops := e.user(2, "ops", security.AccountStaff, security.AllPermissions...)
		e.browser().signIn(ops).enrolTOTP()
		d := e.browser()
		id, _ := d.signInToVerify(ops)
		var p page
		for range 5 {
			p = d.post("/console/verify", url.Values{"verification_id": {id}, "code": {"999999"}})
		}
		require.Equal(t, "/console/", p.url.Path, "back to the sign-in form: %s", p.url)
		require.Contains(t, p.body, `role="alert">The verification failed or expired. Sign in again.`)
		p = d.get("/console/verify?verification_id=" + id)
		require.Equal(t, http.StatusGone, p.status)
		require.Contains(t, p.body, `role="alert">This verification has expired`)
		require.NotContains(t, p.body, `name="code"`)
	})
}

// With RequireStaffSecondFactor, a staff user without a factor lands on
// the Security view, sees only enrolment and is refused the rest of the
// console until a factor is confirmed.
func TestSecurityRestrictedSession(t *testing.T) {
	e := newEnv(t, envOptions{mfa: true, requireFactor: true})
	admin := e.admin()
	b := e.browser()
	p := b.post("/console/login", url.Values{"email": {admin}, "password": {password}})
	require.Equal(t, http.StatusOK, p.status)
	require.Equal(t, "/console/security", p.url.Path)
	require.Contains(t, p.body, `role="status">Staff accounts need a second factor`)
	require.Equal(t, 1, strings.Count(p.body, `<li><a href=`), "only the Security view in the navigation")
	tok := tokenRE.FindStringSubmatch(p.body)[1]

	p = b.get("/console/sessions")
	require.Equal(t, "/console/security", p.url.Path, "sent back to enrolment")
	p = b.post("/console/blacklist/add", url.Values{"csrf_token": {tok}, "user_id": {"5"}, "reason": {"x"}})
	require.Equal(t, http.StatusForbidden, p.status)
	list, err := e.mgr.ListBlacklist(e.ctx, mustAuth(t, e, admin))
	if err == nil {
		require.Empty(t, list)
	}
	b.enrolTOTP()
	p = b.get("/console/sessions")
	require.Equal(t, http.StatusOK, p.status)
	require.Equal(t, "/console/sessions", p.url.Path, "the console is open once a factor is enrolled")
}

// A customer cannot use the Security view of the console.
func TestSecurityCustomer(t *testing.T) {
	e := newEnv(t, envOptions{mfa: true})
	b := e.browser().signIn(e.user(7, "carol", security.AccountCustomer))
	p := b.get("/console/security")
	require.Equal(t, http.StatusForbidden, p.status)
	require.Contains(t, p.body, "Staff account required")
}
