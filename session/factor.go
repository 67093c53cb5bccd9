package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/propops/propsec/security"
)

// NewIPPolicy says what happens when a user logs in from an address never
// seen for them before. A user's first login is never a new-IP login.
type NewIPPolicy string

// The new-IP policies.
const (
	// NewIPRecord records the login (a new_ip_verification event, counted
	// by the report) and calls Config.OnNewIP. The default.
	NewIPRecord NewIPPolicy = "record"
	// NewIPNotify does what NewIPRecord does and e-mails the user through
	// Config.Mailer's NewIPLogin after the session is stored (off the
	// login's goroutine; a mailer that fails does not fail the login).
	NewIPNotify NewIPPolicy = "notify"
	// NewIPVerify creates no session until the user types a one-time code
	// e-mailed through Config.Mailer's LoginCode ([Manager.VerifyLogin]).
	// A user who has a second factor and is asked for it verifies with it
	// instead. A Mailer that fails makes the login fail with an error
	// wrapping [security.ErrUnavailable], never a session.
	NewIPVerify NewIPPolicy = "verify"
)

// ParseNewIPPolicy reads "record", "notify" or "verify".
func ParseNewIPPolicy(s string) (NewIPPolicy, error) {
	switch p := NewIPPolicy(s); p {
	case NewIPRecord, NewIPNotify, NewIPVerify:
		return p, nil
	}
	return "", security.Invalid("new_ip", "must be record, notify or verify")
}

// The built-in methods of a verification, as listed in
// [Verification.Methods]. Other packages add their own (a [FactorMethod]
// such as "passkey").
const (
	// MethodEmail is a one-time numeric code e-mailed to the user
	// ([EmailCodeDigits] digits).
	MethodEmail = "email"
	// MethodTOTP is a code of the user's authenticator app (RFC 6238, six
	// digits).
	MethodTOTP = "totp"
	// MethodRecoveryCode is one of the user's single-use recovery codes.
	MethodRecoveryCode = "recovery_code"
)

// The reasons a login needs verification ([Verification.Reason]).
const (
	// ReasonNewIP: the login comes from a new address and the policy is
	// [NewIPVerify].
	ReasonNewIP = "new_ip"
	// ReasonSecondFactor: the user has a second factor and is asked for it.
	ReasonSecondFactor = "second_factor"
)

// VerificationIDPrefix starts every verification id.
const VerificationIDPrefix = "ver_"

// Verification is the second step a login waits for: the client shows it
// to the user and sends a code to [Manager.VerifyLogin]. Its ID is not a
// credential: it authenticates nothing, and only its hash is stored.
type Verification struct {
	// ID is "ver_" and 32 random base32 characters (160 bits).
	ID string
	// Methods are the ways to complete it, in the order to offer them
	// (for example ["totp", "recovery_code"], or ["email"]).
	Methods []string
	// Reason is [ReasonNewIP] or [ReasonSecondFactor].
	Reason string
	// ExpiresAt is when it stops being accepted.
	ExpiresAt time.Time
}

// PendingVerification is a verification as the store keeps it.
type PendingVerification struct {
	// IDHash is the hash of the id ([security.HashToken]); the id itself is
	// never stored.
	IDHash security.TokenHash
	UserID int64
	// Kind, IP (canonical text), UserAgent (cleaned) and Location are those
	// of the login; the verification must come from the same IP and user
	// agent, and makes a session of the same kind.
	Kind      Kind
	IP        string
	UserAgent string
	Location  string
	// Methods are the accepted methods; Reason why verification is needed.
	Methods []string
	Reason  string
	// NewIP and PasswordBreached are the login's [LoginResult] fields.
	NewIP            bool
	PasswordBreached bool
	// CodeHash is the keyed hash of the e-mailed code (nil without one).
	CodeHash []byte
	// Attempts counts the wrong codes so far.
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// VerificationStore is an optional capability of a [Store]: it keeps the
// logins waiting for verification. [Config.NewIP] = [NewIPVerify] and
// second factors need it.
type VerificationStore interface {
	// CreateVerification stores v and events in one transaction.
	CreateVerification(ctx context.Context, v PendingVerification, events []security.Event) error
	// VerificationByIDHash returns the verification with id hash h, or an
	// error wrapping [security.ErrNotFound].
	VerificationByIDHash(ctx context.Context, h security.TokenHash) (PendingVerification, error)
	// FailVerification counts one wrong code against the verification h
	// and records events, in one atomic step, and returns its attempts
	// after it. The verification that reaches max attempts is deleted. A
	// verification already gone is [security.ErrNotFound], and then
	// nothing is written: of any number of concurrent calls, at most max
	// count.
	FailVerification(ctx context.Context, h security.TokenHash, max int, events []security.Event) (attempts int, err error)
	// ConsumeVerification deletes the verification h, or fails with
	// [security.ErrNotFound] when it is already gone: of concurrent calls,
	// exactly one succeeds.
	ConsumeVerification(ctx context.Context, h security.TokenHash) error
}

// TOTPFactor is a user's TOTP secret as the store keeps it.
type TOTPFactor struct {
	UserID int64
	// Sealed is the secret encrypted under Config.FactorKey
	// (XChaCha20-Poly1305, bound to UserID): a nonce and the ciphertext.
	Sealed []byte
	// ConfirmedAt is zero while the enrolment is pending.
	ConfirmedAt time.Time
	// LastStep is the last accepted time step (RFC 6238 §5.2): that step
	// and every earlier one are refused.
	LastStep  int64
	CreatedAt time.Time
}

// Confirmed reports whether the factor is active.
func (f TOTPFactor) Confirmed() bool { return !f.ConfirmedAt.IsZero() }

// RecoveryCodeHash is the stored form of a recovery code: a keyed hash.
type RecoveryCodeHash [32]byte

// FactorStore is an optional capability of a [Store]: it keeps users' TOTP
// secrets and recovery codes. Every method that takes events writes them in
// the same transaction.
type FactorStore interface {
	// TOTP returns userID's TOTP factor, pending or confirmed, or an error
	// wrapping [security.ErrNotFound].
	TOTP(ctx context.Context, userID int64) (TOTPFactor, error)
	// PutPendingTOTP stores f (unconfirmed), replacing a pending one. A
	// confirmed factor of the user is [security.ErrConflict], and nothing
	// changes.
	PutPendingTOTP(ctx context.Context, f TOTPFactor, events []security.Event) error
	// ConfirmTOTP confirms userID's pending factor at time at with step as
	// its LastStep, and replaces the user's recovery codes with codes, only
	// if the factor is still the pending one sealed as sealed; otherwise
	// [security.ErrConflict] (no factor: [security.ErrNotFound]).
	ConfirmTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time, step int64, codes []RecoveryCodeHash, events []security.Event) error
	// UseTOTPStep sets the LastStep of userID's confirmed factor to step
	// only if step is greater than it, and reports whether it did: of
	// concurrent uses of one code, exactly one wins. events are written
	// only with the change.
	UseTOTPStep(ctx context.Context, userID int64, step int64, events []security.Event) (bool, error)
	// DeleteSecondFactors deletes userID's TOTP factor and recovery codes.
	DeleteSecondFactors(ctx context.Context, userID int64, events []security.Event) error
	// ReplaceRecoveryCodes replaces userID's recovery codes with codes.
	ReplaceRecoveryCodes(ctx context.Context, userID int64, codes []RecoveryCodeHash, events []security.Event) error
	// UseRecoveryCode marks userID's unused code h used at time at and
	// reports whether it did (false for an unknown or used code): of
	// concurrent uses of one code, exactly one wins. events are written
	// only with the change.
	UseRecoveryCode(ctx context.Context, userID int64, h RecoveryCodeHash, at time.Time, events []security.Event) (bool, error)
	// RecoveryCodesLeft counts userID's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID int64) (int, error)
}

// FactorMethod is a second factor kept outside this package (package
// passkey's WebAuthn credentials, say), plugged in through
// [Config.Methods]. A login asks each whether the user holds it; the ones
// that say yes are offered in [Verification.Methods], and completed through
// [Manager.CompleteVerification].
type FactorMethod interface {
	// Name is the method's name in Verification.Methods, such as
	// "passkey". It must not be one of the built-in names.
	Name() string
	// Enrolled reports whether userID holds this factor.
	Enrolled(ctx context.Context, userID int64) (bool, error)
}

// ErrSecondFactorsUnsupported is returned by the second-factor methods of
// [Manager] when Config.Store does not implement [FactorStore] and
// [VerificationStore]. It wraps [errors.ErrUnsupported].
var ErrSecondFactorsUnsupported = fmt.Errorf(
	"session: second factors need a Store that implements FactorStore and VerificationStore: %w",
	errors.ErrUnsupported)

// ErrNoFactorKey is returned when TOTP is enrolled without Config.FactorKey.
var ErrNoFactorKey = errors.New("session: TOTP needs Config.FactorKey (32 random bytes kept outside the database)")

// ErrVerificationFailed marks a code refused by [Manager.VerifyLogin] (and
// the challenge that no longer exists). It wraps
// [security.ErrInvalidCredentials]; [VerificationError] says more.
var ErrVerificationFailed = fmt.Errorf("verification failed: %w", security.ErrInvalidCredentials)

// VerificationError is a refused verification step.
type VerificationError struct {
	// Reason is the audit reason (wrong_code, replayed_code, expired,
	// foreign_ip, foreign_user_agent, too_many_attempts, unknown).
	Reason string
	// AttemptsLeft is how many more codes the verification accepts (0 when
	// it has ended).
	AttemptsLeft int
}

func (e *VerificationError) Error() string {
	return fmt.Sprintf("verification failed (%s, %d attempts left)", e.Reason, e.AttemptsLeft)
}

// Unwrap makes errors.Is(err, ErrVerificationFailed) true.
func (e *VerificationError) Unwrap() error { return ErrVerificationFailed }

// Ended reports whether the verification can no longer be completed (the
// client must log in again).
func (e *VerificationError) Ended() bool { return e.AttemptsLeft == 0 }

// ErrSecondFactorRequired marks a restricted session ([Auth.Restricted])
// asked to do something else than enrol a second factor. It wraps
// [security.ErrForbidden].
var ErrSecondFactorRequired = fmt.Errorf("a second factor is required: %w", security.ErrForbidden)
