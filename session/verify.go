package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/propops/propsec/security"
)

// stepUpDefaults fills the step-up fields of cfg and refuses unusable ones.
func stepUpDefaults(cfg *Config) error {
	if cfg.NewIP == "" {
		cfg.NewIP = NewIPRecord
	}
	if _, err := ParseNewIPPolicy(string(cfg.NewIP)); err != nil {
		return fmt.Errorf("session: Config.NewIP %q: must be record, notify or verify", cfg.NewIP)
	}
	if cfg.NewIP != NewIPRecord && cfg.Mailer == nil {
		return fmt.Errorf("session: Config.NewIP %q needs Config.Mailer", cfg.NewIP)
	}
	if len(cfg.FactorKey) != 0 && len(cfg.FactorKey) != FactorKeySize {
		return fmt.Errorf("session: Config.FactorKey must be %d bytes, not %d", FactorKeySize, len(cfg.FactorKey))
	}
	if cfg.NewIP == NewIPVerify && len(cfg.FactorKey) == 0 {
		return errors.New("session: Config.NewIP verify needs Config.FactorKey (32 random bytes kept outside the database) to key the e-mailed codes")
	}
	if cfg.MailTimeout <= 0 {
		cfg.MailTimeout = 30 * time.Second
	}
	if cfg.VerificationTTL <= 0 {
		cfg.VerificationTTL = 10 * time.Minute
	}
	if cfg.MaxVerificationAttempts <= 0 {
		cfg.MaxVerificationAttempts = 5
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "propsec"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	seen := map[string]bool{MethodEmail: true, MethodTOTP: true, MethodRecoveryCode: true}
	for _, fm := range cfg.Methods {
		if fm == nil || fm.Name() == "" || seen[fm.Name()] {
			return errors.New("session: Config.Methods needs distinct, named methods other than the built-in ones")
		}
		seen[fm.Name()] = true
	}
	return nil
}

// checkStepUp refuses a configuration whose store cannot keep what it
// needs.
func (m *Manager) checkStepUp() error {
	if m.cfg.NewIP == NewIPVerify && m.verifications == nil {
		return errors.New("session: Config.NewIP verify needs a Store that implements VerificationStore")
	}
	if (m.cfg.RequireStaffSecondFactor || len(m.cfg.Methods) > 0) && (m.verifications == nil || m.factors == nil) {
		return ErrSecondFactorsUnsupported
	}
	return nil
}

// SecondFactorsSupported reports whether the store keeps second factors
// and verifications (so that the enrolment methods can work).
func (m *Manager) SecondFactorsSupported() bool { return m.verifications != nil && m.factors != nil }

// stepUpPlan is what a login needs besides the password.
type stepUpPlan struct {
	methods    []string
	reason     string
	restricted bool
}

// factorMethods lists the second factors userID holds, in the order to
// offer them: TOTP, the Config.Methods, then recovery codes (offered only
// with another factor).
func (m *Manager) factorMethods(ctx context.Context, userID int64) ([]string, error) {
	if m.factors == nil {
		return nil, nil
	}
	var out []string
	f, err := m.factors.TOTP(ctx, userID)
	switch {
	case err == nil && f.Confirmed():
		out = append(out, MethodTOTP)
	case err != nil && !errors.Is(err, security.ErrNotFound):
		return nil, err
	}
	for _, fm := range m.cfg.Methods {
		ok, err := fm.Enrolled(ctx, userID)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, fm.Name())
		}
	}
	if len(out) > 0 {
		n, err := m.factors.RecoveryCodesLeft(ctx, userID)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out = append(out, MethodRecoveryCode)
		}
	}
	return out, nil
}

// stepUp decides whether a login of u with the right password needs a
// second step.
func (m *Manager) stepUp(ctx context.Context, u User, newIP bool) (stepUpPlan, error) {
	if m.verifications == nil {
		return stepUpPlan{}, nil
	}
	methods, err := m.factorMethods(ctx, u.UserID)
	if err != nil {
		return stepUpPlan{}, err
	}
	switch {
	case len(methods) > 0 && (newIP || !m.cfg.SecondFactorOnlyFromNewIP):
		return stepUpPlan{methods: methods, reason: ReasonSecondFactor}, nil
	case newIP && m.cfg.NewIP == NewIPVerify:
		return stepUpPlan{methods: []string{MethodEmail}, reason: ReasonNewIP,
			restricted: m.mustEnrol(u.Principal, methods)}, nil
	}
	return stepUpPlan{restricted: m.mustEnrol(u.Principal, methods)}, nil
}

// mustEnrol reports whether p, holding the factors methods, gets restricted
// sessions.
func (m *Manager) mustEnrol(p security.Principal, methods []string) bool {
	return m.cfg.RequireStaffSecondFactor && p.IsStaff() && len(methods) == 0
}

// newVerificationID returns "ver_" and 160 random bits in base32.
func newVerificationID() string {
	var b [20]byte
	rand.Read(b[:])
	return VerificationIDPrefix + strings.ToLower(b32.EncodeToString(b[:]))
}

// ValidVerificationID reports whether s has the shape of a verification id.
func ValidVerificationID(s string) bool {
	rest, ok := strings.CutPrefix(s, VerificationIDPrefix)
	if !ok || len(rest) != 32 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// verificationSubject names a verification in audit events without its id:
// the first 12 hex digits of its hash.
func verificationSubject(h security.TokenHash) string { return "ver#" + hex.EncodeToString(h[:6]) }

// startVerification stores the verification of a login that needs one,
// e-mails the code when one is due, and returns it.
func (m *Manager) startVerification(ctx context.Context, st sessionStart, step stepUpPlan) (LoginResult, error) {
	id := newVerificationID()
	h := security.HashToken(id)
	v := PendingVerification{IDHash: h, UserID: st.user.UserID, Kind: st.kind, IP: st.ip, UserAgent: st.userAgent,
		Location: st.location, Methods: step.methods, Reason: step.reason, NewIP: st.newIP,
		PasswordBreached: st.breached, CreatedAt: st.now, ExpiresAt: st.now.Add(m.cfg.VerificationTTL)}
	var code string
	if slices.Contains(step.methods, MethodEmail) {
		code = newEmailCode()
		v.CodeHash = m.keys.emailCodeHash(h, code)
	}
	ev := m.verificationEvent(v, security.EventVerificationStarted, map[string]string{"kind": string(st.kind),
		"reason": step.reason, "methods": strings.Join(step.methods, ","), "new_ip": strconv.FormatBool(st.newIP)})
	if err := m.verifications.CreateVerification(ctx, v, []security.Event{ev}); err != nil {
		return LoginResult{}, err
	}
	if code != "" {
		err := m.cfg.Mailer.LoginCode(ctx, LoginCodeNotice{User: st.user.Principal, Code: code, Expires: v.ExpiresAt,
			IP: st.ip, Location: st.location, UserAgent: st.userAgent, Time: st.now})
		if err != nil {
			// Nobody knows the code: the verification cannot complete.
			_ = m.verifications.ConsumeVerification(ctx, h)
			_ = m.cfg.Store.RecordEvents(ctx, m.verificationEvent(v, security.EventVerificationFailed,
				map[string]string{"reason": "mail_unavailable"}))
			if !errors.Is(err, security.ErrUnavailable) {
				err = fmt.Errorf("%w: %w", security.ErrUnavailable, err)
			}
			return LoginResult{}, fmt.Errorf("session: sending the login code: %w", err)
		}
	}
	return LoginResult{NewIP: st.newIP, Verification: &Verification{ID: id, Methods: slices.Clone(step.methods),
		Reason: step.reason, ExpiresAt: v.ExpiresAt}}, nil
}

// verificationEvent is an event of typ about v.
func (m *Manager) verificationEvent(v PendingVerification, typ security.EventType, details map[string]string) security.Event {
	return security.Event{Time: m.now(), Type: typ, SubjectUserID: v.UserID, Subject: verificationSubject(v.IDHash),
		IP: v.IP, Details: details}
}

// VerifyRequest is one attempt to complete a login's verification.
type VerifyRequest struct {
	// ID is the [Verification.ID] the login answered.
	ID string
	// Code is an e-mailed code, a TOTP code or a recovery code (ignored by
	// [Manager.CompleteVerification]).
	Code string
	// IP and UserAgent must be the login's.
	IP        netip.Addr
	UserAgent string
}

// VerifyLogin completes a login waiting for verification with a code: the
// e-mailed code ([MethodEmail], eight digits), a TOTP code ([MethodTOTP],
// six digits) or a recovery code ([MethodRecoveryCode]), whichever the
// verification offers. It answers what the login would have answered
// without verification: a session of the login's kind and its credential.
//
// Each attempt counts against the login's throttling keys (the user's email
// and the client IP) like a password, and a right code withdraws it. The
// verification must come from the IP and user agent of the login; it ends
// after Config.MaxVerificationAttempts wrong codes and after
// Config.VerificationTTL. A code is accepted once: an e-mailed code ends
// with its verification, a TOTP code's time step and any earlier one are
// refused afterwards (RFC 6238 §5.2), a recovery code is used up.
//
// It fails with an error wrapping [security.ErrInvalid] for a malformed
// request, [security.ErrThrottled] when the email or IP is locked out, a
// [*VerificationError] (wrapping [ErrVerificationFailed] and
// [security.ErrInvalidCredentials]) for a refused code or a verification
// that does not exist (any more) for this client, and
// [security.ErrBlacklisted] when the user was blacklisted meanwhile.
func (m *Manager) VerifyLogin(ctx context.Context, req VerifyRequest) (LoginResult, error) {
	code := strings.TrimSpace(req.Code)
	switch {
	case code == "":
		return LoginResult{}, security.Invalid("code", "is required")
	case len(code) > MaxCodeBytes:
		return LoginResult{}, security.Invalidf("code", "must be at most %d bytes", MaxCodeBytes)
	}
	res, err := m.verifyWith(ctx, req, "", func(ctx context.Context, v PendingVerification) (string, string, error) {
		return m.checkCode(ctx, v, code)
	})
	m.observeLogin(err)
	return res, err
}

// CompleteVerification completes a login waiting for verification through
// method, one of Config.Methods that the verification offers, for which
// check decides (a passkey's assertion, say): check reports whether the
// user proved the factor. Everything else is as [Manager.VerifyLogin]:
// throttling, the binding to IP and user agent, expiry, the count of
// failures, the audit events and the result. check runs only for a live
// verification of this client, and must itself refuse a proof used before.
func (m *Manager) CompleteVerification(ctx context.Context, req VerifyRequest, method string,
	check func(ctx context.Context, v PendingVerification) (bool, error)) (LoginResult, error) {
	if !slices.ContainsFunc(m.cfg.Methods, func(fm FactorMethod) bool { return fm.Name() == method }) {
		return LoginResult{}, security.Invalidf("method", "%q is not a configured method", method)
	}
	res, err := m.verifyWith(ctx, req, method, func(ctx context.Context, v PendingVerification) (string, string, error) {
		ok, err := check(ctx, v)
		if err != nil || !ok {
			return "", "wrong_code", err
		}
		return method, "", nil
	})
	m.observeLogin(err)
	return res, err
}

// LookupVerification returns the live verification id of this client (the
// login's IP and user agent), for a method that must show something before
// its proof (a passkey's challenge). It records nothing and counts no
// attempt; anything but a live verification of this client is a
// [*VerificationError].
func (m *Manager) LookupVerification(ctx context.Context, id string, ip netip.Addr, userAgent string) (PendingVerification, error) {
	if m.verifications == nil {
		return PendingVerification{}, ErrSecondFactorsUnsupported
	}
	if !ValidVerificationID(id) {
		return PendingVerification{}, security.Invalid("verification_id", "must be a verification id (ver_…)")
	}
	v, err := m.verifications.VerificationByIDHash(ctx, security.HashToken(id))
	if errors.Is(err, security.ErrNotFound) {
		return PendingVerification{}, &VerificationError{Reason: "unknown"}
	}
	if err != nil {
		return PendingVerification{}, err
	}
	if reason := m.unbound(v, ip, userAgent); reason != "" {
		return PendingVerification{}, &VerificationError{Reason: reason}
	}
	return v, nil
}

// unbound says why v cannot be completed by this client now ("" when it
// can).
func (m *Manager) unbound(v PendingVerification, ip netip.Addr, userAgent string) string {
	switch {
	case !m.now().Before(v.ExpiresAt):
		return "expired"
	case v.IP != ipString(ip):
		return "foreign_ip"
	case v.UserAgent != security.CleanText(userAgent, MaxUserAgentBytes):
		return "foreign_user_agent"
	}
	return ""
}

// codeCheck decides a verification step: the method that passed, or the
// reason it failed.
type codeCheck func(ctx context.Context, v PendingVerification) (method, failure string, err error)

// verifyWith is the one path that completes a verification, whatever the
// method: only (method "" for the built-in ones) is the method whose check
// decides.
func (m *Manager) verifyWith(ctx context.Context, req VerifyRequest, only string, check codeCheck) (LoginResult, error) {
	if m.verifications == nil {
		return LoginResult{}, ErrSecondFactorsUnsupported
	}
	if !ValidVerificationID(req.ID) {
		return LoginResult{}, security.Invalid("verification_id", "must be a verification id (ver_…)")
	}
	h := security.HashToken(req.ID)
	ip := ipString(req.IP)
	v, err := m.verifications.VerificationByIDHash(ctx, h)
	known := err == nil
	if err != nil && !errors.Is(err, security.ErrNotFound) {
		return LoginResult{}, err
	}
	var user User
	if known {
		if user, err = m.cfg.Users.UserByID(ctx, v.UserID); err != nil {
			if !errors.Is(err, security.ErrNotFound) {
				return LoginResult{}, err
			}
			known = false
		}
	}
	if !known {
		v = PendingVerification{IDHash: h, IP: ip}
	}
	// Throttling as for a password: the attempt is a failure unless the
	// code is right.
	limits := []LoginLimit{{Key: "ip:" + ip, Max: m.cfg.MaxFailuresPerIP}}
	if known {
		limits = m.loginLimits(user.Email, ip)
	}
	now := m.now()
	res, err := m.cfg.Store.ReserveLoginAttempt(ctx, limits, m.windowStart(now), now)
	if err != nil {
		return LoginResult{}, err
	}
	fail := func(reason string, left int) error {
		ev := m.verificationEvent(v, security.EventVerificationFailed, map[string]string{"reason": reason})
		ev.IP = ip
		if err := m.cfg.Store.RecordEvents(ctx, ev); err != nil {
			return err
		}
		return &VerificationError{Reason: reason, AttemptsLeft: left}
	}
	if res.Throttled {
		ev := m.verificationEvent(v, security.EventVerificationFailed, map[string]string{"reason": "throttled"})
		ev.IP = ip
		if err := m.cfg.Store.RecordEvents(ctx, ev); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, m.throttled(limits, res, now)
	}
	if !known {
		return LoginResult{}, fail("unknown", 0)
	}
	left := m.cfg.MaxVerificationAttempts - v.Attempts
	if reason := m.unbound(v, req.IP, req.UserAgent); reason != "" {
		if reason == "expired" {
			left = 0
		}
		return LoginResult{}, fail(reason, left)
	}
	if only != "" && !slices.Contains(v.Methods, only) {
		return LoginResult{}, security.Invalidf("method", "this verification does not offer %s", only)
	}
	method, failure, err := check(ctx, v)
	if err != nil {
		return LoginResult{}, err
	}
	if failure != "" {
		ev := m.verificationEvent(v, security.EventVerificationFailed, map[string]string{"reason": failure})
		n, err := m.verifications.FailVerification(ctx, h, m.cfg.MaxVerificationAttempts, []security.Event{ev})
		if errors.Is(err, security.ErrNotFound) {
			return LoginResult{}, fail("unknown", 0)
		}
		if err != nil {
			return LoginResult{}, err
		}
		left = max(m.cfg.MaxVerificationAttempts-n, 0)
		if left == 0 {
			if err := m.cfg.Store.RecordEvents(ctx, m.verificationEvent(v, security.EventVerificationFailed,
				map[string]string{"reason": "too_many_attempts"})); err != nil {
				return LoginResult{}, err
			}
		}
		return LoginResult{}, &VerificationError{Reason: failure, AttemptsLeft: left}
	}

	// The code was right: the attempt is not a failure.
	if err := m.cfg.Store.ReleaseLoginAttempt(ctx, res, limits[0].Key); err != nil {
		return LoginResult{}, err
	}
	if err := m.verifications.ConsumeVerification(ctx, h); err != nil {
		if errors.Is(err, security.ErrNotFound) {
			// Completed by a concurrent request.
			return LoginResult{}, fail("unknown", 0)
		}
		return LoginResult{}, err
	}
	black, err := m.cfg.Store.IsBlacklisted(ctx, user.UserID)
	if err != nil {
		return LoginResult{}, err
	}
	if black {
		return LoginResult{}, m.refuseBlacklisted(ctx, security.Event{Time: now, Type: security.EventLoginFailed,
			SubjectUserID: user.UserID, Subject: security.CleanText(user.Email, MaxEmailBytes), IP: ip,
			Details: map[string]string{"reason": "blacklisted", "kind": string(v.Kind)}})
	}
	details := map[string]string{"method": method, "reason": v.Reason}
	if method == MethodRecoveryCode {
		n, err := m.factors.RecoveryCodesLeft(ctx, user.UserID)
		if err != nil {
			return LoginResult{}, err
		}
		details["recovery_codes_left"] = strconv.Itoa(n)
	}
	ok := m.verificationEvent(v, security.EventVerificationSucceeded, details)
	ok.ActorUserID = user.UserID
	st := sessionStart{user: user, email: user.Email, kind: v.Kind, ip: v.IP, userAgent: v.UserAgent,
		location: v.Location, newIP: v.NewIP, breached: v.PasswordBreached, now: now,
		events: []security.Event{ok}}
	if m.cfg.RequireStaffSecondFactor && user.IsStaff() {
		methods, err := m.factorMethods(ctx, user.UserID)
		if err != nil {
			return LoginResult{}, err
		}
		st.restricted = m.mustEnrol(user.Principal, methods)
	}
	return m.startSession(ctx, st)
}

// checkCode checks code against the methods v offers, by its shape: eight
// digits an e-mailed code, six digits a TOTP code, otherwise a recovery
// code. A TOTP step or recovery code is used up here, atomically in the
// store, so that a code is accepted once even by concurrent requests.
func (m *Manager) checkCode(ctx context.Context, v PendingVerification, code string) (method, failure string, err error) {
	switch {
	case allDigits(code, EmailCodeDigits) && slices.Contains(v.Methods, MethodEmail):
		if len(v.CodeHash) == 0 || !hmac.Equal(m.keys.emailCodeHash(v.IDHash, code), v.CodeHash) {
			return "", "wrong_code", nil
		}
		return MethodEmail, "", nil
	case allDigits(code, TOTPDigits) && slices.Contains(v.Methods, MethodTOTP):
		return m.useTOTP(ctx, v.UserID, code, nil)
	case slices.Contains(v.Methods, MethodRecoveryCode):
		return m.useRecoveryCode(ctx, v.UserID, code, nil)
	}
	return "", "wrong_code", nil
}

// useTOTP checks code against userID's confirmed TOTP factor and uses its
// step up, writing events with it.
func (m *Manager) useTOTP(ctx context.Context, userID int64, code string, events []security.Event) (method, failure string, err error) {
	if m.keys == nil || m.factors == nil || !allDigits(code, TOTPDigits) {
		return "", "wrong_code", nil
	}
	f, err := m.factors.TOTP(ctx, userID)
	if errors.Is(err, security.ErrNotFound) || (err == nil && !f.Confirmed()) {
		return "", "wrong_code", nil
	}
	if err != nil {
		return "", "", err
	}
	secret, err := m.keys.openTOTP(userID, f.Sealed)
	if err != nil {
		return "", "", err
	}
	step, ok := matchTOTP(secret, code, m.now())
	if !ok {
		return "", "wrong_code", nil
	}
	if step <= f.LastStep {
		return "", "replayed_code", nil
	}
	won, err := m.factors.UseTOTPStep(ctx, userID, step, events)
	if err != nil {
		return "", "", err
	}
	if !won {
		return "", "replayed_code", nil
	}
	return MethodTOTP, "", nil
}

// useRecoveryCode uses up userID's recovery code code, writing events with
// it.
func (m *Manager) useRecoveryCode(ctx context.Context, userID int64, code string, events []security.Event) (method, failure string, err error) {
	norm, ok := normalizeRecoveryCode(code)
	if m.keys == nil || m.factors == nil || !ok {
		return "", "wrong_code", nil
	}
	won, err := m.factors.UseRecoveryCode(ctx, userID, m.keys.recoveryHash(userID, norm), m.now(), events)
	if err != nil {
		return "", "", err
	}
	if !won {
		return "", "wrong_code", nil
	}
	return MethodRecoveryCode, "", nil
}

// notify e-mails n off the login's goroutine, within Config.MailTimeout. A
// failure is logged (without the message) and does not fail the login.
func (m *Manager) notify(ctx context.Context, n NewIPNotice) {
	ctx = context.WithoutCancel(ctx)
	m.mail.Add(1)
	go func() {
		defer m.mail.Done()
		ctx, cancel := context.WithTimeout(ctx, m.cfg.MailTimeout)
		defer cancel()
		if err := m.cfg.Mailer.NewIPLogin(ctx, n); err != nil {
			m.cfg.Logger.Warn("session: new-IP notice not sent", "user_id", n.User.UserID,
				"session_id", n.SessionID, "err", err)
		}
	}()
}

// Close waits until the new-IP notices being sent (Config.NewIP notify)
// are sent or have failed. The Manager stays usable.
func (m *Manager) Close() error {
	m.mail.Wait()
	return nil
}
