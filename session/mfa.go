package session

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/propops/propsec/security"
)

// SecondFactorStatus is what [Manager.SecondFactors] tells a user about
// their own second factors.
type SecondFactorStatus struct {
	// Methods are the factors the user holds ("totp", "passkey", …; not
	// recovery codes).
	Methods []string
	// TOTPPending is true while a TOTP enrolment waits for its first code.
	TOTPPending bool
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int
	// Required is true when Config.RequireStaffSecondFactor applies to the
	// user (a staff user).
	Required bool
	// Restricted is true when the session can only enrol a factor.
	Restricted bool
}

// TOTPEnrollment is a pending TOTP factor: show Secret (base32) or URI
// (as a QR code) to the user, then confirm with a code of their app
// through [Manager.ConfirmTOTP].
type TOTPEnrollment struct {
	Secret string
	// URI is the otpauth:// key URI authenticator apps read.
	URI string
}

// FactorProof is what a change of second factors needs: the user's
// password, or a current code (TOTP or recovery code). One of them.
type FactorProof struct {
	Password string
	Code     string
}

// SecondFactors reports the caller's own second factors.
func (m *Manager) SecondFactors(ctx context.Context, a Auth) (SecondFactorStatus, error) {
	if !m.SecondFactorsSupported() {
		return SecondFactorStatus{}, ErrSecondFactorsUnsupported
	}
	uid := a.Principal.UserID
	st := SecondFactorStatus{Required: m.cfg.RequireStaffSecondFactor && a.Principal.IsStaff(), Restricted: a.Restricted,
		Methods: []string{}}
	f, err := m.factors.TOTP(ctx, uid)
	switch {
	case err == nil:
		st.TOTPPending = !f.Confirmed()
	case !errors.Is(err, security.ErrNotFound):
		return SecondFactorStatus{}, err
	}
	methods, err := m.factorMethods(ctx, uid)
	if err != nil {
		return SecondFactorStatus{}, err
	}
	for _, x := range methods {
		if x != MethodRecoveryCode {
			st.Methods = append(st.Methods, x)
		}
	}
	if st.RecoveryCodesLeft, err = m.factors.RecoveryCodesLeft(ctx, uid); err != nil {
		return SecondFactorStatus{}, err
	}
	return st, nil
}

// mfaEvent is an event of the caller about their own factors.
func (m *Manager) mfaEvent(a Auth, typ security.EventType, ip netip.Addr, details map[string]string) security.Event {
	return security.Event{Time: m.now(), Type: typ, ActorUserID: a.Principal.UserID, ActorSessionID: a.Session.ID,
		SubjectUserID: a.Principal.UserID, Subject: strconv.FormatInt(a.Principal.UserID, 10), IP: ipString(ip),
		Details: details}
}

func (m *Manager) canEnrolTOTP() error {
	if !m.SecondFactorsSupported() {
		return ErrSecondFactorsUnsupported
	}
	if m.keys == nil {
		return ErrNoFactorKey
	}
	return nil
}

// EnrollTOTP starts a TOTP enrolment of the caller: a fresh 160-bit secret,
// stored encrypted and pending until [Manager.ConfirmTOTP]. A pending
// enrolment is replaced; a confirmed factor is [security.ErrConflict]
// (remove it first). It needs Config.FactorKey ([ErrNoFactorKey]).
func (m *Manager) EnrollTOTP(ctx context.Context, a Auth, ip netip.Addr) (TOTPEnrollment, error) {
	if err := m.canEnrolTOTP(); err != nil {
		return TOTPEnrollment{}, err
	}
	uid := a.Principal.UserID
	secret := make([]byte, totpSecretSize)
	rand.Read(secret)
	f := TOTPFactor{UserID: uid, Sealed: m.keys.sealTOTP(uid, secret), CreatedAt: m.now()}
	ev := m.mfaEvent(a, security.EventSecondFactorEnrollmentStarted, ip, map[string]string{"method": MethodTOTP})
	if err := m.factors.PutPendingTOTP(ctx, f, []security.Event{ev}); err != nil {
		if errors.Is(err, security.ErrConflict) {
			return TOTPEnrollment{}, errors.Join(errors.New("TOTP is already enrolled; remove it first"), err)
		}
		return TOTPEnrollment{}, err
	}
	account := a.Principal.Email
	if account == "" {
		account = a.Principal.Name
	}
	return TOTPEnrollment{Secret: b32.EncodeToString(secret), URI: otpauthURI(m.cfg.TOTPIssuer, account, secret)}, nil
}

// ConfirmTOTP activates the caller's pending TOTP factor with a code of
// their app, and returns [RecoveryCodeCount] new recovery codes (replacing
// any old ones), shown to the user this once. A wrong code is
// [security.ErrInvalid]; no pending enrolment is [security.ErrNotFound]; a
// factor already confirmed is [security.ErrConflict].
func (m *Manager) ConfirmTOTP(ctx context.Context, a Auth, code string, ip netip.Addr) ([]string, error) {
	if err := m.canEnrolTOTP(); err != nil {
		return nil, err
	}
	code = strings.TrimSpace(code)
	if !allDigits(code, TOTPDigits) {
		return nil, security.Invalidf("code", "must be the %d digits your authenticator app shows", TOTPDigits)
	}
	uid := a.Principal.UserID
	f, err := m.factors.TOTP(ctx, uid)
	if err != nil {
		return nil, err
	}
	if f.Confirmed() {
		return nil, errors.Join(errors.New("TOTP is already confirmed"), security.ErrConflict)
	}
	secret, err := m.keys.openTOTP(uid, f.Sealed)
	if err != nil {
		return nil, err
	}
	step, ok := matchTOTP(secret, code, m.now())
	if !ok {
		return nil, security.Invalid("code", "is not the code your authenticator app shows now")
	}
	codes, hashes := m.newRecoveryCodes(uid)
	events := []security.Event{
		m.mfaEvent(a, security.EventSecondFactorAdded, ip, map[string]string{"method": MethodTOTP}),
		m.mfaEvent(a, security.EventRecoveryCodesGenerated, ip, map[string]string{"count": strconv.Itoa(len(codes))}),
	}
	if err := m.factors.ConfirmTOTP(ctx, uid, f.Sealed, m.now(), step, hashes, events); err != nil {
		return nil, err
	}
	return codes, nil
}

func (m *Manager) newRecoveryCodes(userID int64) ([]string, []RecoveryCodeHash) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([]RecoveryCodeHash, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		norm, _ := normalizeRecoveryCode(codes[i])
		hashes[i] = m.keys.recoveryHash(userID, norm)
	}
	return codes, hashes
}

// RemoveSecondFactors removes the caller's TOTP factor (pending or
// confirmed) and recovery codes, given their password or a current code
// (p). Factors of Config.Methods are removed by their own packages.
func (m *Manager) RemoveSecondFactors(ctx context.Context, a Auth, p FactorProof, ip netip.Addr) error {
	if !m.SecondFactorsSupported() {
		return ErrSecondFactorsUnsupported
	}
	via, err := m.prove(ctx, a, p, ip, "remove")
	if err != nil {
		return err
	}
	ev := m.mfaEvent(a, security.EventSecondFactorRemoved, ip, map[string]string{"method": MethodTOTP, "proof": via})
	return m.factors.DeleteSecondFactors(ctx, a.Principal.UserID, []security.Event{ev})
}

// RegenerateRecoveryCodes replaces the caller's recovery codes with
// [RecoveryCodeCount] new ones, given their password or a current code. It
// needs a confirmed second factor ([security.ErrConflict] otherwise).
func (m *Manager) RegenerateRecoveryCodes(ctx context.Context, a Auth, p FactorProof, ip netip.Addr) ([]string, error) {
	if err := m.canEnrolTOTP(); err != nil {
		return nil, err
	}
	methods, err := m.factorMethods(ctx, a.Principal.UserID)
	if err != nil {
		return nil, err
	}
	if len(methods) == 0 || (len(methods) == 1 && methods[0] == MethodRecoveryCode) {
		return nil, errors.Join(errors.New("no second factor is enrolled"), security.ErrConflict)
	}
	via, err := m.prove(ctx, a, p, ip, "regenerate_recovery_codes")
	if err != nil {
		return nil, err
	}
	codes, hashes := m.newRecoveryCodes(a.Principal.UserID)
	ev := m.mfaEvent(a, security.EventRecoveryCodesGenerated, ip, map[string]string{"count": strconv.Itoa(len(codes)),
		"proof": via})
	if err := m.factors.ReplaceRecoveryCodes(ctx, a.Principal.UserID, hashes, []security.Event{ev}); err != nil {
		return nil, err
	}
	return codes, nil
}

// prove checks p for the caller like a login's password: the attempt
// counts against the user's email and the IP, and a right proof withdraws
// it. It returns what proved it ("password", "totp", "recovery_code").
func (m *Manager) prove(ctx context.Context, a Auth, p FactorProof, ip netip.Addr, action string) (string, error) {
	code := strings.TrimSpace(p.Code)
	switch {
	case p.Password == "" && code == "":
		return "", security.Invalid("", "password or code is required")
	case p.Password != "" && code != "":
		return "", security.Invalid("", "give the password or a code, not both")
	case len(p.Password) > MaxPasswordBytes:
		return "", security.Invalidf("password", "must be at most %d bytes", MaxPasswordBytes)
	case len(code) > MaxCodeBytes:
		return "", security.Invalidf("code", "must be at most %d bytes", MaxCodeBytes)
	}
	u, err := m.cfg.Users.UserByID(ctx, a.Principal.UserID)
	if err != nil {
		return "", err
	}
	ipS := ipString(ip)
	limits := m.loginLimits(u.Email, ipS)
	now := m.now()
	res, err := m.cfg.Store.ReserveLoginAttempt(ctx, limits, m.windowStart(now), now)
	if err != nil {
		return "", err
	}
	failed := func(reason string) error {
		return m.cfg.Store.RecordEvents(ctx, m.mfaEvent(a, security.EventSecondFactorFailed, ip,
			map[string]string{"action": action, "reason": reason}))
	}
	if res.Throttled {
		if err := failed("throttled"); err != nil {
			return "", err
		}
		return "", m.throttled(limits, res, now)
	}
	var via, failure string
	if p.Password != "" {
		ok, _, err := m.verifyOrDummy(ctx, u.PasswordHash, p.Password)
		if err != nil {
			return "", err
		}
		via = "password"
		if !ok {
			failure = "bad_password"
		}
	} else if allDigits(code, TOTPDigits) {
		via, failure, err = m.useTOTP(ctx, u.UserID, code, nil)
	} else {
		via, failure, err = m.useRecoveryCode(ctx, u.UserID, code, nil)
	}
	if err != nil {
		return "", err
	}
	if failure != "" {
		if err := failed(failure); err != nil {
			return "", err
		}
		if p.Password != "" {
			return "", security.ErrInvalidCredentials
		}
		return "", &VerificationError{Reason: failure}
	}
	if err := m.cfg.Store.ReleaseLoginAttempt(ctx, res, ""); err != nil {
		return "", err
	}
	return via, nil
}

// restricted reports whether u's sessions are restricted: a staff user
// without a second factor under Config.RequireStaffSecondFactor.
func (m *Manager) restricted(ctx context.Context, u User) (bool, error) {
	if !m.cfg.RequireStaffSecondFactor || !u.IsStaff() {
		return false, nil
	}
	methods, err := m.factorMethods(ctx, u.UserID)
	if err != nil {
		return false, err
	}
	return m.mustEnrol(u.Principal, methods), nil
}
