package session

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"github.com/propops/propsec/security"
)

// ConfirmIdentity checks the caller's password or a current code (TOTP or
// recovery code) in p, exactly as [Manager.RemoveSecondFactors] does (the
// attempt counts against the login throttle; a failure is audited with
// action), for changes that other packages make: removing a passkey, say.
// It returns what proved it ("password", "totp", "recovery_code"). A wrong
// password is [security.ErrInvalidCredentials], a wrong code a
// [*VerificationError]; without second-factor support in the store it
// fails with [ErrSecondFactorsUnsupported].
func (m *Manager) ConfirmIdentity(ctx context.Context, a Auth, p FactorProof, ip netip.Addr, action string) (string, error) {
	if !m.SecondFactorsSupported() {
		return "", ErrSecondFactorsUnsupported
	}
	return m.prove(ctx, a, p, ip, action)
}

// FactorLogin is a login by a factor that authenticates a user on its own,
// without a password: see [Manager.LoginWithFactor].
type FactorLogin struct {
	// UserID is the user the factor proved.
	UserID int64
	// Method is the name of one of Config.Methods ("passkey").
	Method string
	Kind   Kind
	// IP is the client address, already resolved through trusted proxies.
	IP        netip.Addr
	UserAgent string
}

// LoginWithFactor creates a session for a user whom a method of
// Config.Methods has just authenticated on its own: a discoverable passkey
// whose authenticator verified the user (something held and a PIN or
// biometric, two factors in one). No second step is asked for: that proof
// is the strongest the Manager offers, and phishing-resistant. The rest is
// as [Manager.Login]: a blacklisted user is refused
// ([security.ErrBlacklisted], audited), an unknown one is
// [security.ErrInvalidCredentials], a new address is recorded and notified
// as Config.NewIP says (with NewIPVerify the passkey stands for the e-mailed
// code), and a staff user under Config.RequireStaffSecondFactor holds a
// factor by then, so is not restricted. The caller must have verified the
// factor, and refused a proof used before.
func (m *Manager) LoginWithFactor(ctx context.Context, req FactorLogin) (LoginResult, error) {
	res, err := m.loginWithFactor(ctx, req)
	m.observeLogin(err)
	return res, err
}

func (m *Manager) loginWithFactor(ctx context.Context, req FactorLogin) (LoginResult, error) {
	if !slices.ContainsFunc(m.cfg.Methods, func(fm FactorMethod) bool { return fm.Name() == req.Method }) {
		return LoginResult{}, security.Invalidf("method", "%q is not a configured method", req.Method)
	}
	if req.Kind != KindWeb && req.Kind != KindMobile {
		return LoginResult{}, security.Invalid("kind", "must be web or mobile")
	}
	now, ip := m.now(), ipString(req.IP)
	user, err := m.cfg.Users.UserByID(ctx, req.UserID)
	if errors.Is(err, security.ErrNotFound) {
		return LoginResult{}, security.ErrInvalidCredentials
	}
	if err != nil {
		return LoginResult{}, err
	}
	black, err := m.cfg.Store.IsBlacklisted(ctx, user.UserID)
	if err != nil {
		return LoginResult{}, err
	}
	if black {
		return LoginResult{}, m.refuseBlacklisted(ctx, security.Event{Time: now, Type: security.EventLoginFailed,
			SubjectUserID: user.UserID, Subject: security.CleanText(user.Email, MaxEmailBytes), IP: ip,
			Details: map[string]string{"reason": "blacklisted", "kind": string(req.Kind), "method": req.Method}})
	}
	knownIP, anyIP, err := m.cfg.Store.KnownLoginIP(ctx, user.UserID, ip)
	if err != nil {
		return LoginResult{}, err
	}
	restricted, err := m.restricted(ctx, user)
	if err != nil {
		return LoginResult{}, err
	}
	return m.startSession(ctx, sessionStart{user: user, email: user.Email, kind: req.Kind, ip: ip,
		userAgent: security.CleanText(req.UserAgent, MaxUserAgentBytes), location: m.cfg.Locator.Locate(req.IP),
		newIP: anyIP && !knownIP, restricted: restricted, now: now})
}
