package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/propops/propsec/security"
)

// The audit events of a password change. They never hold a password or a
// hash.
const (
	// EventPasswordChanged is a password changed by its user. Details:
	// sessions_revoked (how many other sessions and bearer tokens the
	// change revoked) and revoke_other_sessions ("true" or "false"). The
	// sessions it revokes get no session_terminated event of their own, so
	// the security report does not count them as terminated.
	EventPasswordChanged security.EventType = "password_changed"
	// EventPasswordChangeFailed is a password change refused after its
	// attempt was counted: Details reason is bad_current_password,
	// throttled or breached. Malformed requests are not recorded.
	EventPasswordChangeFailed security.EventType = "password_change_failed"
)

// MinPasswordRunes is the shortest new password [Manager.ChangePassword]
// accepts, in characters (NIST SP 800-63B: at least 8). The longest is
// [MaxPasswordBytes] bytes: at least 256 characters of any script, well
// over NIST's 64, while bounding the argon2 work of one request.
const MinPasswordRunes = 8

// PasswordChange is one change of a user's password hash, as
// [PasswordChanger.ChangePassword] applies it.
type PasswordChange struct {
	UserID int64
	// OldHash is the PHC string the current password was verified against.
	// The change is made only if it is still the stored one, so that of two
	// concurrent changes verified against the same hash only one wins.
	OldHash string
	// NewHash is the PHC string to store.
	NewHash string
	// At is when the change happens: sessions live at At are revoked at At.
	At time.Time
	// RevokeOthers revokes every session of the user live at At (web
	// sessions and bearer tokens alike) except KeepSessionID.
	RevokeOthers bool
	// KeepSessionID is the public id of the session making the change,
	// which stays live.
	KeepSessionID string
}

// PasswordChanger is an optional capability of a [Store] that is also the
// Manager's [UserDirectory] (the same object, as the bundled stores are):
// it changes a user's password hash, revokes their other sessions and
// records the change's events in one transaction. [Manager.ChangePassword]
// needs it; the user's hash must live in the same database as their
// sessions for the change and the revocations to be one step.
type PasswordChanger interface {
	// ChangePassword stores c.NewHash as c.UserID's password hash, only if
	// the stored hash is c.OldHash; otherwise it fails with
	// [security.ErrConflict] (an unknown user with [security.ErrNotFound])
	// and changes nothing. With c.RevokeOthers it revokes, at c.At, every
	// session of the user live at c.At except c.KeepSessionID. events
	// (which may be nil) is called inside the transaction (or under the
	// store's lock) with the sessions it revoked, sorted by id, and what it
	// returns is written too; it must not call the store. It returns how
	// many sessions it revoked.
	ChangePassword(ctx context.Context, c PasswordChange, events func(revoked []Session) []security.Event) (revoked int, err error)
}

// ErrPasswordChangeUnsupported is returned by [Manager.ChangePassword] when
// Config.Store does not implement [PasswordChanger] or is not also
// Config.Users. It wraps [errors.ErrUnsupported].
var ErrPasswordChangeUnsupported = fmt.Errorf(
	"session: password change needs a Store that implements PasswordChanger and is also Config.Users: %w",
	errors.ErrUnsupported)

// ErrBreachCheckFailed marks a new password that could not be checked
// against breach data because Config.BreachCheck failed (the breach source
// is down). The password is then not changed (fail closed). Such errors
// also wrap [security.ErrUnavailable] and the checker's error.
var ErrBreachCheckFailed = errors.New("session: breach check failed")

// CanChangePasswords reports whether [Manager.ChangePassword] can work:
// whether Config.Store implements [PasswordChanger] and is also
// Config.Users.
func (m *Manager) CanChangePasswords() bool { return m.changer != nil }

// PasswordChangeRequest is one attempt to change the caller's password.
type PasswordChangeRequest struct {
	CurrentPassword string
	NewPassword     string
	// KeepOtherSessions leaves the user's other sessions and bearer tokens
	// live. By default (false) every one of them but the session making the
	// change is revoked (OWASP ASVS V7).
	KeepOtherSessions bool
	// IP is the client address, already resolved through trusted proxies.
	IP netip.Addr
}

// ChangePassword changes the password of actor's user and returns how many
// of their other sessions and bearer tokens it revoked (none with
// req.KeepOtherSessions). The session actor used stays live.
//
// The current password is checked like a login's: the attempt counts
// against the same throttling keys (the user's email and the client IP)
// before the hash is computed, and a right password withdraws it. The new
// password must have at least [MinPasswordRunes] characters, at most
// [MaxPasswordBytes] bytes, be valid UTF-8, differ from the current one,
// and, when Config.BreachCheck is set, not be found in breach data. The new
// argon2id hash is stored, the other sessions revoked and an
// [EventPasswordChanged] recorded in one transaction, only if the stored
// hash is still the one the current password was verified against.
//
// It fails with an error wrapping [security.ErrInvalid] for malformed input
// (not counted as an attempt) and for a new password refused by the rules
// above; [security.ErrThrottled] (a [security.ThrottledError]) when the
// email or IP is locked out; [security.ErrInvalidCredentials] for a wrong
// current password; [ErrBreachCheckFailed] and [security.ErrUnavailable]
// when the breach check could not be made; [security.ErrConflict] when the
// password was changed by another request meanwhile; and
// [ErrPasswordChangeUnsupported] when the store cannot do it. Two argon2id
// computations run: the verification and the new hash, each under
// Config.MaxConcurrentHashes.
func (m *Manager) ChangePassword(ctx context.Context, actor Auth, req PasswordChangeRequest) (int, error) {
	if m.changer == nil {
		return 0, ErrPasswordChangeUnsupported
	}
	if actor.Principal.UserID <= 0 {
		return 0, security.ErrUnauthenticated
	}
	if err := CheckPasswordChange(req.CurrentPassword, req.NewPassword); err != nil {
		return 0, err
	}
	now := m.now()
	ip := ipString(req.IP)
	userID := actor.Principal.UserID
	event := func(typ security.EventType, details map[string]string) security.Event {
		return security.Event{Time: now, Type: typ, ActorUserID: userID, ActorSessionID: actor.Session.ID,
			SubjectUserID: userID, Subject: strconv.FormatInt(userID, 10), IP: ip, Details: details}
	}
	failed := func(reason string) security.Event {
		return event(EventPasswordChangeFailed, map[string]string{"reason": reason})
	}

	limits := m.loginLimits(actor.Principal.Email, ip)
	res, err := m.cfg.Store.ReserveLoginAttempt(ctx, limits, m.windowStart(now), now)
	if err != nil {
		return 0, err
	}
	if res.Throttled {
		if err := m.cfg.Store.RecordEvents(ctx, failed("throttled")); err != nil {
			return 0, err
		}
		return 0, m.throttled(limits, res, now)
	}
	user, err := m.cfg.Users.UserByID(ctx, userID)
	if errors.Is(err, security.ErrNotFound) {
		return 0, fmt.Errorf("session: the user of this session is gone: %w", security.ErrUnauthenticated)
	}
	if err != nil {
		return 0, err
	}
	ok, _, err := m.verifyOrDummy(ctx, user.PasswordHash, req.CurrentPassword)
	if err != nil {
		return 0, err
	}
	if !ok {
		events := append([]security.Event{failed("bad_current_password")},
			m.lockoutEvents(res, now, userID, actor.Principal.Email, ip)...)
		if err := m.cfg.Store.RecordEvents(ctx, events...); err != nil {
			return 0, err
		}
		return 0, security.ErrInvalidCredentials
	}
	// The current password was right: the attempt is not a failure.
	if err := m.cfg.Store.ReleaseLoginAttempt(ctx, res, limits[0].Key); err != nil {
		return 0, err
	}

	if m.cfg.BreachCheck != nil {
		breached, err := m.cfg.BreachCheck(ctx, req.NewPassword)
		if err != nil {
			return 0, fmt.Errorf("%w: %w: %w", ErrBreachCheckFailed, security.ErrUnavailable, err)
		}
		if breached {
			if err := m.cfg.Store.RecordEvents(ctx, failed("breached")); err != nil {
				return 0, err
			}
			return 0, security.Invalid("new_password", "appears in data breaches; choose another password")
		}
	}
	fresh, err := m.hash(ctx, req.NewPassword)
	if err != nil {
		return 0, err
	}
	revokeOthers := !req.KeepOtherSessions
	n, err := m.changer.ChangePassword(ctx, PasswordChange{UserID: userID, OldHash: user.PasswordHash, NewHash: fresh,
		At: now, RevokeOthers: revokeOthers, KeepSessionID: actor.Session.ID},
		func(revoked []Session) []security.Event {
			return []security.Event{event(EventPasswordChanged, map[string]string{
				"sessions_revoked":      strconv.Itoa(len(revoked)),
				"revoke_other_sessions": strconv.FormatBool(revokeOthers)})}
		})
	if errors.Is(err, security.ErrConflict) {
		return 0, fmt.Errorf("session: the password was changed by another request; try again: %w", err)
	}
	return n, err
}

// CheckPasswordChange validates the input of [Manager.ChangePassword]
// without looking at any stored password: both passwords are present and at
// most [MaxPasswordBytes] bytes, and the new one is valid UTF-8, has at
// least [MinPasswordRunes] characters and differs from the current one.
// ChangePassword checks the same; hosts may call it to refuse a form early.
// The error wraps [security.ErrInvalid] and names the field
// (current_password or new_password).
func CheckPasswordChange(current, next string) error {
	switch {
	case current == "":
		return security.Invalid("current_password", "is required")
	case len(current) > MaxPasswordBytes:
		return security.Invalidf("current_password", "must be at most %d bytes", MaxPasswordBytes)
	case next == "":
		return security.Invalid("new_password", "is required")
	case len(next) > MaxPasswordBytes:
		return security.Invalidf("new_password", "must be at most %d bytes", MaxPasswordBytes)
	case !utf8.ValidString(next):
		return security.Invalid("new_password", "must be valid UTF-8")
	case utf8.RuneCountInString(next) < MinPasswordRunes:
		return security.Invalidf("new_password", "must be at least %d characters", MinPasswordRunes)
	case subtle.ConstantTimeCompare([]byte(current), []byte(next)) == 1:
		return security.Invalid("new_password", "must differ from the current password")
	}
	return nil
}
