package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/mailpittest"
)

const (
	janeEmail    = "jane@example.com"
	janePassword = "correct horse battery"
	// smtpPassword is the mail server's password, in $PROPSEC_SMTP_URL: it
	// must never reach the server's output.
	smtpPassword = "smtp-hunter2-secret"
	testAgent    = "newip-test/1.0"
)

// newIPServer runs the example server with -new-ip policy and its mail
// going to mp (STARTTLS, authenticated) or to smtpURL when set; clients
// are told apart by X-Forwarded-For (-trusted-proxy 127.0.0.1).
func newIPServer(t *testing.T, policy string, mp *mailpittest.Server, smtpURL string) (base string, output *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	require.NoError(t, os.WriteFile(users, []byte(`[
	 {"id": 42, "name": "Jane Smith", "email": "`+janeEmail+`", "password": "`+janePassword+`",
	  "account_type": "staff", "permissions": ["api.security.sessions.list"]}
	]`), 0o600))
	args := []string{"-db", filepath.Join(dir, "p.db"), "-users", users, "-trusted-proxy", "127.0.0.1/32",
		"-new-ip", policy, "-mail-from", "Security <security@example.com>",
		"-mail-report-url", "https://example.com/report"}
	if smtpURL == "" {
		smtpURL = (&url.URL{Scheme: "smtp", User: url.UserPassword("mailer", smtpPassword), Host: mp.SMTPAddr}).String()
		ca := filepath.Join(dir, "mail-ca.pem")
		require.NoError(t, os.WriteFile(ca, mp.CertPEM, 0o600))
		args = append(args, "-smtp-ca", ca)
	}
	t.Setenv("PROPSEC_SMTP_URL", smtpURL)
	output = &lockedBuffer{}
	base, printed := serverLogging(t, output, args...)
	t.Cleanup(func() {
		all := output.String() + strings.Join(printed, "\n")
		if strings.Contains(all, smtpPassword) {
			t.Errorf("the SMTP password is in the server's output:\n%s", all)
		}
	})
	return base, output
}

func mailpitForServer(t *testing.T) *mailpittest.Server {
	return mailpittest.Start(t, mailpittest.Options{STARTTLS: true, Users: map[string]string{"mailer": smtpPassword}})
}

// janeLogin posts Jane's credentials to the mobile login from client ip.
func janeLogin(t *testing.T, base, ip string) (int, envelope) {
	t.Helper()
	return callWith(t, "POST", base+"/api/security/mobile-auth", "", from(ip),
		map[string]string{"email": janeEmail, "password": janePassword})
}

func from(ip string) http.Header {
	return http.Header{"X-Forwarded-For": {ip}, "User-Agent": {testAgent}}
}

// A mail server that is down: a login that needs a code answers 503 and
// makes no session.
func TestServerNewIPVerifyMailDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "smtp://" + l.Addr().String()
	l.Close()
	base, _ := newIPServer(t, "verify", nil, down)

	code, env := janeLogin(t, base, "198.51.100.1")
	require.Equal(t, 200, code, env.Message)
	first := token(t, env)

	code, env = janeLogin(t, base, "203.0.113.9")
	require.Equal(t, 503, code, env.Message)
	require.False(t, env.Success)
	require.Empty(t, env.Data)

	// Only the first login's session exists.
	status, env := call(t, "GET", base+"/api/security/sessions?action=list", first, nil)
	require.Equal(t, 200, status, env.Message)
	var list []json.RawMessage
	require.NoError(t, json.Unmarshal(env.Data, &list))
	require.Len(t, list, 1, "no session from the login that could not be verified")
}

// -new-ip notify: the login from a new address succeeds and the user is
// told by mail.
func TestServerNewIPNotify(t *testing.T) {
	mp := mailpitForServer(t)
	base, _ := newIPServer(t, "notify", mp, "")

	code, env := janeLogin(t, base, "198.51.100.1")
	require.Equal(t, 200, code, env.Message)
	token(t, env)

	code, env = janeLogin(t, base, "203.0.113.9")
	require.Equal(t, 200, code, env.Message)
	token(t, env)

	msgs := mp.WaitMessages(t, 1)
	require.Len(t, msgs, 1, "one notice: the first login is not new")
	msg := mp.Message(t, msgs[0].ID)
	require.Equal(t, janeEmail, msg.To[0].Address)
	require.Contains(t, msg.Subject, "New sign-in")
	for _, want := range []string{"203.0.113.9", testAgent, "https://example.com/report", "change your password"} {
		require.Contains(t, msg.Text, want)
	}
}
