package smtpmail_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/smtpmail"
)

func Example() {
	// In a real host the URL comes from the environment, not the code:
	// it holds the password.
	m, err := smtpmail.New(smtpmail.Config{
		URL:       "smtp://mailer:secret@mail.example.com:587",
		From:      "Example Security <security@example.com>",
		AppName:   "Example Shop",
		ReportURL: "https://example.com/security/report",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m) // never prints the password

	// The session manager calls the Mailer; here, directly.
	var _ session.Mailer = m
	// Output:
	// smtp://mailer@mail.example.com:587 (STARTTLS required)
}

// A mail server that cannot be reached gives an error wrapping
// security.ErrUnavailable: a login that needed the message answers 503.
func ExampleMailer_LoginCode_unavailable() {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	m, _ := smtpmail.New(smtpmail.Config{URL: "smtp://" + addr, From: "security@example.com",
		SendTimeout: 5 * time.Second})
	err := m.LoginCode(context.Background(), session.LoginCodeNotice{
		User: security.Principal{UserID: 1, Email: "alice@example.com"}, Code: "493817",
		Expires: time.Now().Add(10 * time.Minute)})
	fmt.Println(errors.Is(err, security.ErrUnavailable))
	// Output:
	// true
}
