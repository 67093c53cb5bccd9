package session

import (
	"context"
	"time"

	"github.com/propops/propsec/security"
)

// Mailer delivers the e-mails of the new-IP policy to a user. The session
// package decides when a message is due and what it must say; a Mailer
// decides how it looks and how it travels (package smtpmail sends it over
// SMTP, a host may use its own provider). Implementations must be safe for
// concurrent use, must not log the code of a [LoginCodeNotice], and should
// return an error wrapping [security.ErrUnavailable] when the mail system
// cannot be reached, so that a login that needed the message answers 503.
type Mailer interface {
	// NewIPLogin tells n.User that a session was started from an address
	// never seen for them before: when, where, from which device, and how to
	// report a login that was not theirs.
	NewIPLogin(ctx context.Context, n NewIPNotice) error
	// LoginCode sends the one-time code that completes a login waiting for
	// verification from a new address.
	LoginCode(ctx context.Context, c LoginCodeNotice) error
}

// LoginCodeNotice is one e-mailed verification code: what a [Mailer] needs
// to tell the user which login the code completes.
type LoginCodeNotice struct {
	// User is who tried to log in; the message goes to User.Email.
	User security.Principal
	// Code is the one-time code the user types. It is a secret: never log it.
	Code string
	// Expires is when the code stops being accepted.
	Expires time.Time
	// IP, Location ("City, CC" or a network name) and UserAgent describe
	// the login that waits for the code; Time is when it was attempted.
	IP        string
	Location  string
	UserAgent string
	Time      time.Time
}
