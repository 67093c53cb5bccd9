// Package smtpmail sends the e-mails of the new-IP policy over SMTP: it is an
// implementation of [session.Mailer] on github.com/wneessen/go-mail.
//
// # Configuration
//
// A [Mailer] is made by [New] from a [Config]. The mail server is a URL:
//
//	smtp://user:password@mail.example.com:587   submission, STARTTLS required
//	smtps://user:password@mail.example.com:465  implicit TLS (RFC 8314)
//	smtp://relay.internal:25                    no credentials: STARTTLS when offered
//
// The password is percent-encoded in the URL (a "/" is %2F). When the URL
// carries credentials over smtp://, the server must offer STARTTLS and the
// connection must be encrypted before they are sent; a server that does
// not offer it is refused (an error wrapping [security.ErrUnavailable]),
// unless [Config.InsecureAllowCleartextAuth] says otherwise. Server
// certificates are verified against the system roots, or against
// [Config.TLSConfig] (a test CA, a minimum version, a client certificate).
//
// [Config.From] is the sender ("Example Security <security@example.com>"),
// [Config.ReportURL] or [Config.ReportText] tells the user how to report a
// login that was not theirs, and [Config.AppName] names the service in the
// subject lines and the text.
//
// # Messages
//
// Each message has a plain-text part and an HTML part (rendered with
// html/template, so every value is escaped). [Mailer.NewIPLogin] says that
// an account was signed in to from a new address: when (in UTC, RFC 1123),
// where (the locator's "City, CC"), the IP address, the device (the user
// agent) and how to report it. [Mailer.LoginCode] sends the one-time code
// and says which login it completes (where, which device), when the code
// expires, and to change the password if the login was not the user's.
//
// The user agent is chosen by the client, so it is cut to [MaxUserAgent]
// characters and stripped of control characters before it is written
// anywhere; locations are cut to [MaxLocation]. Header injection is not
// possible: a user name or address holding a line break or another control
// character is refused with an error, and nothing client-chosen goes into a
// header.
//
// # Errors
//
// A server that cannot be reached (connection refused, no answer within
// [Config.DialTimeout] or [Config.SendTimeout], a failed TLS handshake or
// certificate check, a temporary 4xx answer) gives an error wrapping
// [security.ErrUnavailable], so that a login that needed the message
// answers 503. A permanent refusal (a rejected recipient or sender, failed
// authentication) is a plain error: retrying will not help.
//
// # Logging
//
// [Config.Logger] receives one line per message sent or failed, with the
// kind of message, the user id and the server's host; never the code, the
// password or the message text.
package smtpmail
