package security

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Every error propsec returns for one of these situations
// wraps the matching sentinel, so callers test with errors.Is.
var (
	// ErrNotFound: the thing asked for does not exist (or is no longer live).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input is malformed or out of range. See [InvalidError].
	ErrInvalid = errors.New("invalid input")
	// ErrUnauthenticated: no valid credential was presented.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrForbidden: the principal may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the action conflicts with the current state.
	ErrConflict = errors.New("conflict")
	// ErrCSRF: the CSRF token is missing, forged, expired, foreign or replayed.
	ErrCSRF = errors.New("invalid CSRF token")
	// ErrInvalidCredentials: the email or the password is wrong. The two cases
	// are deliberately indistinguishable.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrBlacklisted: the user is on the session blacklist.
	ErrBlacklisted = errors.New("account blacklisted")
	// ErrThrottled: too many attempts; see [ThrottledError].
	ErrThrottled = errors.New("too many attempts")
	// ErrUnavailable: a dependency (store, upstream service) is unavailable.
	ErrUnavailable = errors.New("service unavailable")
)

// InvalidError is bad input. Field names the offending input (may be empty)
// and Reason says what is wrong in words safe to show the client.
type InvalidError struct {
	Field  string
	Reason string
}

// Invalid returns an [InvalidError] for field.
func Invalid(field, reason string) error { return &InvalidError{Field: field, Reason: reason} }

// Invalidf returns an [InvalidError] for field with a formatted reason.
func Invalidf(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ThrottledError says an attempt was refused for coming too often, and when
// the next one may be made.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts; retry after %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }
