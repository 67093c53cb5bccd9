package smtpmail_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/propops/propsec/smtpmail"
)

// FuzzNewURL: any URL is accepted or refused without a panic, and neither
// the error nor String() ever repeats the password.
func FuzzNewURL(f *testing.F) {
	for _, s := range []string{"smtp://u:p@h:587", "smtps://h", "smtp://u@h", "smtp://:25",
		"smtp://u:p@[::1]:25", "smtp://u:p%2F@h?x=1", "smtp://h/x#y", "smtp://u:p@h:0", "smtp://mailer:hunter2@mail.example.com:587", "smtps://m:s3cr%2Fet@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := smtpmail.New(smtpmail.Config{URL: raw, From: "security@example.com"})
		var pass string
		if u, perr := url.Parse(raw); perr == nil && u.User != nil {
			pass, _ = u.User.Password()
			if strings.Contains(u.Host+u.User.Username()+"smtps://security@example.com", pass) {
				pass = "" // it would show anyway, as another part
			}
		}
		if err != nil {
			if len(pass) >= 4 && strings.Contains(err.Error(), pass) {
				t.Fatalf("error repeats the password: %v", err)
			}
			return
		}
		if len(pass) >= 4 && strings.Contains(m.String(), pass) {
			t.Fatalf("String() = %q repeats the password", m.String())
		}
	})
}
