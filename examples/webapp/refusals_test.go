package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/httpadapter"
)

// protectedForm is one of the app's forms, with how to tell whether a
// post of it changed something.
type protectedForm struct {
	path    string
	fields  url.Values
	changed func(e *env, jane *browser) bool
}

func protectedForms(other *browser) []protectedForm {
	return []protectedForm{
		{"/notes", url.Values{"note": {"forged note"}}, func(e *env, jane *browser) bool {
			return strings.Contains(jane.get("/notes").body, "forged note")
		}},
		{"/password", url.Values{"current_password": {janePassword}, "new_password": {newPassword},
			"confirm_password": {newPassword}}, func(e *env, jane *browser) bool {
			_, err := e.mgr.Login(e.ctx, sessionLogin(janeEmail, newPassword))
			return err == nil
		}},
		{othersPath, url.Values{}, func(e *env, jane *browser) bool { return other.signedOut() }},
		{"/logout", url.Values{}, func(e *env, jane *browser) bool { return jane.signedOut() }},
	}
}

// Every protected form refuses a post without a valid token of this
// session, or from another origin, with a 403 page, and changes nothing.
//
// The app runs with the default reusable form tokens: a token can be
// posted again within its session (the back button, a form re-sent after
// a validation error). What "replay" means there is a token taken from
// somewhere else: one issued to another session (Mallory's own, from her
// page) is refused in Jane's. TestSingleUseTokens shows the stricter mode.
func TestFormRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		// token returns the csrf_token field to send ("" for none).
		token func(jane, mallory *browser, e *env) string
		// hdr returns the headers that differ from a browser's same-origin
		// post ("" removes one).
		hdr   func(e *env) map[string]string
		query bool // the token in the query string instead of the body
	}{
		{name: "missing token", token: func(*browser, *browser, *env) string { return "" }},
		{name: "forged token", token: func(jane, _ *browser, _ *env) string {
			tok := []byte(jane.token("/"))
			tok[len(tok)-1] ^= 1 // one bit of the MAC
			return string(tok)
		}},
		{name: "made-up token", token: func(*browser, *browser, *env) string { return strings.Repeat("ab", 42) }},
		{name: "token of another session (replayed from Mallory's page)", token: func(_, mallory *browser, _ *env) string {
			return mallory.token("/notes")
		}},
		{name: "token of the JSON API, not of host forms", token: func(jane, _ *browser, e *env) string {
			return apiToken(e.t, jane, e)
		}},
		{name: "token in the query string", query: true, token: func(jane, _ *browser, _ *env) string { return jane.token("/") }},
		{name: "cross-site post with a valid token",
			hdr: func(*env) map[string]string {
				return map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
			},
			token: func(jane, _ *browser, _ *env) string { return jane.token("/") }},
		{name: "foreign Origin (no fetch metadata) with a valid token",
			hdr: func(*env) map[string]string {
				return map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}
			},
			token: func(jane, _ *browser, _ *env) string { return jane.token("/") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			jane := e.browser("Jane's browser").signedIn(janeEmail, janePassword)
			other := e.browser("Jane's phone").signedIn(janeEmail, janePassword)
			mallory := e.browser("Mallory's browser").signedIn(malloryEmail, malloryPassword)
			for _, f := range protectedForms(other) {
				t.Run(f.path, func(t *testing.T) {
					form := url.Values{}
					for k, v := range f.fields {
						form[k] = v
					}
					path := f.path
					if tok := tc.token(jane, mallory, e); tok != "" && tc.query {
						path += "?csrf_token=" + tok
					} else if tok != "" {
						form.Set("csrf_token", tok)
					}
					var hdr map[string]string
					if tc.hdr != nil {
						hdr = tc.hdr(e)
					}
					p := jane.do("POST", path, form, hdr)
					if tc.query && f.path == "/logout" {
						// The adapter's own form endpoint refuses any query
						// string as malformed before looking for a token.
						require.Equal(t, http.StatusBadRequest, p.status, p.body)
					} else {
						require.Equal(t, http.StatusForbidden, p.status, p.body)
						require.Contains(t, p.body, "Form refused")
					}
					require.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
					require.False(t, f.changed(e, jane), "a refused post changed something")
				})
			}
		})
	}
}

// apiToken is a token of GET /api/security/csrf-token, for the adapter's
// JSON endpoints.
func apiToken(t *testing.T, b *browser, e *env) string {
	t.Helper()
	p := b.do("GET", "/api/security/csrf-token", nil, map[string]string{"Accept": "application/json"})
	require.Equal(t, http.StatusOK, p.status, p.body)
	var env struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(p.body), &env))
	require.NotEmpty(t, env.Data.Token, p.body)
	return env.Data.Token
}

// In the default reusable mode a token may be posted again in its own
// session; with SingleUseFormTokens a replayed token is refused, while the
// fresh token of the next page works.
func TestSingleUseTokens(t *testing.T) {
	for _, tc := range []struct {
		name      string
		singleUse bool
		replay    int
	}{
		{"reusable (the default)", false, http.StatusOK},
		{"single-use", true, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{singleUse: tc.singleUse})
			jane := e.browser("Jane's browser").signedIn(janeEmail, janePassword)
			tok := jane.token("/notes")
			p := jane.post("/notes", url.Values{"csrf_token": {tok}, "note": {"first"}})
			require.Equal(t, http.StatusOK, p.status)
			require.Contains(t, p.body, "Note saved.")

			p = jane.post("/notes", url.Values{"csrf_token": {tok}, "note": {"replayed"}})
			require.Equal(t, tc.replay, p.status)
			require.Equal(t, !tc.singleUse, strings.Contains(jane.get("/notes").body, "replayed"))

			p = jane.post("/notes", url.Values{"csrf_token": {jane.token("/notes")}, "note": {"fresh"}})
			require.Equal(t, http.StatusOK, p.status)
			require.Contains(t, p.body, "fresh")
		})
	}
}

// next never sends the browser to another site after a login: every
// redirect stays on this origin (the browser's CheckRedirect fails the test
// otherwise) and an unusable next lands on the home page.
func TestLoginOpenRedirect(t *testing.T) {
	for _, tc := range []struct {
		next, want string
	}{
		{"//evil.example/x", "/"},
		{"https://evil.example/", "/"},
		{"http://evil.example", "/"},
		{`/\evil.example`, "/"},
		{"/%2F%2Fevil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/./\\evil.example", "/"},
		{"/.//evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{" //evil.example", "/"},
		{"\t/evil", "/"},
		{"evil.example", "/"},
		{"/notes?tab=1", "/notes"},
		{"/sessions", "/sessions"},
	} {
		t.Run(tc.next, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			b := e.browser("Jane's browser")
			p := b.login(janeEmail, janePassword, tc.next)
			require.Equal(t, http.StatusOK, p.status)
			require.Equal(t, strings.TrimPrefix(e.srv.URL, "https://"), p.url.Host)
			require.Equal(t, tc.want, p.url.Path)
			for _, hop := range b.hops {
				loc := hop.Header.Get("Location")
				require.True(t, strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//"), loc)
			}
		})
	}
}

// Refused logins: throttled after five failures (even with the right
// password, with the time to wait), and a login form posted from another
// site (login CSRF) is refused before the password is looked at.
func TestLoginRefusals(t *testing.T) {
	t.Run("throttled", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		b := e.browser("Jane's browser")
		for range 5 {
			p := b.login(janeEmail, "guess", "/notes")
			require.Equal(t, httpadapter.CodeInvalidCredentials, p.url.Query().Get("error"))
		}
		p := b.login(janeEmail, janePassword, "/notes")
		require.Equal(t, "/login", p.url.Path)
		q := p.url.Query()
		require.Equal(t, httpadapter.CodeTooManyAttempts, q.Get("error"))
		require.Equal(t, "900", q.Get("retry_after"))
		require.Equal(t, "/notes", q.Get("next"), "next is kept for the next try")
		require.Contains(t, p.body, "Too many failed attempts. Try again in 15 minutes.")
		require.True(t, b.signedOut())
	})
	t.Run("cross-site login form", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		b := e.browser("Jane's browser")
		p := b.do("POST", "/login", url.Values{"email": {malloryEmail}, "password": {malloryPassword}},
			map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		require.Equal(t, http.StatusForbidden, p.status)
		require.Contains(t, p.body, "Form refused")
		require.True(t, b.signedOut(), "the browser was not logged into Mallory's account")
	})
}

// The login page shows its own words for the codes it knows and never
// echoes the query string's text.
func TestLoginPageMessages(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser("Jane's browser")
	for _, tc := range []struct{ query, want string }{
		{"error=invalid_credentials", "Wrong email address or password."},
		{"error=account_blacklisted", "This account is blocked."},
		{"error=too_many_attempts&retry_after=30", "Try again in 30 seconds."},
		{"error=too_many_attempts&retry_after=61", "Try again in 2 minutes."},
		{"error=too_many_attempts&retry_after=bogus", "Try again later."},
		{"error=%3Cb%3Eowned%3C%2Fb%3E", "Signing in is not possible right now."},
		{"signed_out=1", "You are signed out."},
	} {
		p := b.get("/login?" + tc.query)
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, tc.want, tc.query)
		require.NotContains(t, p.body, "owned")
	}
	p := b.get("/login?next=" + url.QueryEscape(`"><script>alert(1)</script>`))
	require.NotContains(t, p.body, "<script>")
	require.Contains(t, p.body, `value="&#34;&gt;&lt;script&gt;`)
}
