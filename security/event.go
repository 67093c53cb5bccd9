package security

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// EventType names a kind of audit event.
type EventType string

// The audit events propsec records.
const (
	EventLoginSucceeded    EventType = "login_succeeded"
	EventLoginFailed       EventType = "login_failed"
	EventLockout           EventType = "login_lockout"
	EventNewIPVerification EventType = "new_ip_verification"
	EventLogout            EventType = "logout"
	EventSessionTerminated EventType = "session_terminated"
	EventBlacklistAdded    EventType = "blacklist_added"
	EventBlacklistRemoved  EventType = "blacklist_removed"
	EventTokenIssued       EventType = "token_issued"
	EventTokenRevoked      EventType = "token_revoked"
	// EventPasswordBreachDetected: a checked password (or hash) was found
	// in a breach corpus. The event never holds the password, its hash or
	// its count.
	EventPasswordBreachDetected EventType = "password_breach_detected"

	// The events of step-up verification (package session). None of them
	// is counted by the security report: a login that passes verification
	// is counted by its login_succeeded (and new_ip_verification) events,
	// recorded when its session is created. They never hold a code, a
	// secret or a verification id.

	// EventVerificationStarted: a login with the right password needs a
	// second step. Subject is the verification's public hint (the first
	// characters of its id's hash); Details: kind, reason (new_ip,
	// second_factor), methods (comma-separated), new_ip.
	EventVerificationStarted EventType = "verification_started"
	// EventVerificationFailed: a step of a verification was refused.
	// Details reason: wrong_code, replayed_code, expired, foreign_ip,
	// foreign_user_agent, too_many_attempts, throttled, mail_unavailable,
	// unknown (an id that names no open verification).
	EventVerificationFailed EventType = "verification_failed"
	// EventVerificationSucceeded: a verification was completed; its
	// session's login_succeeded event follows. Details method: email,
	// totp, recovery_code (with recovery_codes_left), or a host method.
	EventVerificationSucceeded EventType = "verification_succeeded"
	// EventSecondFactorEnrollmentStarted: a user asked for a TOTP secret;
	// it is pending until confirmed by a code.
	EventSecondFactorEnrollmentStarted EventType = "second_factor_enrollment_started"
	// EventSecondFactorAdded: a second factor was confirmed (Details
	// method). Confirming TOTP also generates recovery codes.
	EventSecondFactorAdded EventType = "second_factor_added"
	// EventSecondFactorRemoved: a user removed their second factor and
	// recovery codes (Details method, proof: password or code).
	EventSecondFactorRemoved EventType = "second_factor_removed"
	// EventSecondFactorFailed: a second-factor change was refused after
	// its attempt was counted (Details action, reason).
	EventSecondFactorFailed EventType = "second_factor_failed"
	// EventRecoveryCodesGenerated: a new set of recovery codes replaced
	// the old (Details count).
	EventRecoveryCodesGenerated EventType = "recovery_codes_generated"
)

// Event is one security-relevant action, as written to the audit log. It
// never holds a password, a credential or a CSRF token; sessions are named
// by their public id.
type Event struct {
	// ID is assigned by the store; zero before the event is recorded.
	ID   int64
	Time time.Time
	Type EventType
	// ActorUserID is the user who acted (0: nobody authenticated).
	ActorUserID int64
	// ActorSessionID is the public id of the session the actor used.
	ActorSessionID string
	// SubjectUserID is the user acted upon (0: none).
	SubjectUserID int64
	// Subject names what was acted upon: a session id, an email, a path.
	Subject string
	// IP is the client address of the request that caused the event.
	IP string
	// Details holds further facts, such as a failure reason.
	Details map[string]string
}

// EventRecorder appends audit events. Stores implement it; the events of one
// call are written in one transaction.
type EventRecorder interface {
	RecordEvents(ctx context.Context, events ...Event) error
}

// CleanText makes client-supplied text (user agents, emails, reasons) safe to
// store and show: invalid UTF-8 is replaced, control characters (CR, LF, tab,
// escape, …) are written as \u00XX so they cannot forge a log line, and the
// result is cut to at most max bytes without splitting a character.
func CleanText(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		var piece string
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			piece = `\u` + hex4(r)
		} else {
			piece = string(r)
		}
		if b.Len()+len(piece) > max {
			break
		}
		b.WriteString(piece)
	}
	return b.String()
}

func hex4(r rune) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf]})
}

// TruncateUTF8 cuts s to at most max bytes without splitting a character.
func TruncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
