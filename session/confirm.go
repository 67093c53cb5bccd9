package session

import (
	"context"
	"net/netip"
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
