package smtpmail_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/propops/propsec/internal/mailpittest"
)

// BenchmarkLoginCodeMailpit sends one login-code message per iteration to
// a local Mailpit: connection, STARTTLS, AUTH, both parts, QUIT.
func BenchmarkLoginCodeMailpit(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts mailpittest.Options
		user *url.Userinfo
	}{
		{"plain", mailpittest.Options{}, nil},
		{"starttls-auth", mailpittest.Options{STARTTLS: true, Users: map[string]string{"mailer": "pw"}}, url.UserPassword("mailer", "pw")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := mailpittest.Start(b, tc.opts)
			m, _ := newMailerTB(b, srv, "smtp", tc.user)
			for b.Loop() {
				if err := m.LoginCode(context.Background(), codeNotice()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
