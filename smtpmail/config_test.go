package smtpmail_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/smtpmail"
)

func TestNewRefusesBadConfig(t *testing.T) {
	good := smtpmail.Config{URL: "smtp://mail.example.com", From: "security@example.com"}
	for _, tc := range []struct {
		name string
		edit func(*smtpmail.Config)
		want string
	}{
		{"no URL", func(c *smtpmail.Config) { c.URL = "" }, "URL is required"},
		{"scheme", func(c *smtpmail.Config) { c.URL = "http://mail.example.com" }, "smtp:// or smtps://"},
		{"not a URL", func(c *smtpmail.Config) { c.URL = "smtp://user:hunter2@[bad" }, "not a URL"},
		{"query", func(c *smtpmail.Config) { c.URL = "smtp://mail.example.com?tls=off" }, "no path, query"},
		{"path", func(c *smtpmail.Config) { c.URL = "smtp://mail.example.com/x" }, "no path, query"},
		{"no host", func(c *smtpmail.Config) { c.URL = "smtp://:25" }, "no host"},
		{"port", func(c *smtpmail.Config) { c.URL = "smtp://mail.example.com:99999" }, "invalid port"},
		{"user without password", func(c *smtpmail.Config) { c.URL = "smtp://user@mail.example.com" }, "both a user and a password"},
		{"no From", func(c *smtpmail.Config) { c.From = "" }, "From is required"},
		{"From with CRLF", func(c *smtpmail.Config) { c.From = "a@example.com\r\nBcc: b@example.com" }, "control character"},
		{"From not an address", func(c *smtpmail.Config) { c.From = "not an address" }, "From"},
		{"report URL scheme", func(c *smtpmail.Config) { c.ReportURL = "javascript:alert(1)" }, "http or https"},
		{"AppName with LF", func(c *smtpmail.Config) { c.AppName = "Shop\nBcc: x" }, "AppName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := smtpmail.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error repeats the password: %v", err)
			}
		})
	}
}

// A name or address from the user directory that could add a header is
// refused before anything is sent (the server here does not exist).
func TestHeaderInjectionRefused(t *testing.T) {
	m, err := smtpmail.New(smtpmail.Config{URL: "smtp://127.0.0.1:1", From: "security@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, email string }{
		{"Alice\r\nBcc: evil@example.net", "alice@example.com"},
		{"Alice", "alice@example.com\r\nBcc: evil@example.net"},
		{"Alice\nX: y", "alice@example.com"},
		{"Alice\x00", "alice@example.com"},
		{"Alice", "Alice <alice@example.com>"},
		{"Alice", "not an address"},
		{"Alice", ""},
	} {
		n := newIPNotice()
		n.User.Name, n.User.Email = tc.name, tc.email
		err := m.NewIPLogin(context.Background(), n)
		if err == nil || errors.Is(err, security.ErrUnavailable) {
			t.Errorf("%q <%q>: err = %v, want a plain error before connecting", tc.name, tc.email, err)
		}
		c := codeNotice()
		c.User = n.User
		if err := m.LoginCode(context.Background(), c); err == nil || errors.Is(err, security.ErrUnavailable) {
			t.Errorf("login code %q <%q>: err = %v", tc.name, tc.email, err)
		}
	}
	c := codeNotice()
	c.Code = "1234\r\n"
	if err := m.LoginCode(context.Background(), c); err == nil || errors.Is(err, security.ErrUnavailable) {
		t.Errorf("code with CRLF: err = %v", err)
	}
}

func TestStringHidesPassword(t *testing.T) {
	for url, want := range map[string]string{
		"smtp://u:hunter2@mail.example.com":      "smtp://u@mail.example.com:587 (STARTTLS required)",
		"smtps://u:hunter2@mail.example.com":     "smtps://u@mail.example.com:465 (implicit TLS)",
		"smtp://relay.internal:25":               "smtp://relay.internal:25 (STARTTLS when offered)",
		"smtp://u:hunter%2F2@[2001:db8::1]:2525": "smtp://u@[2001:db8::1]:2525 (STARTTLS required)",
	} {
		m, err := smtpmail.New(smtpmail.Config{URL: url, From: "security@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.String(); got != want {
			t.Errorf("%s: String() = %q, want %q", url, got, want)
		}
	}
}
