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
