// Package mobileauth issues and revokes the long-lived bearer tokens of
// mobile and API clients (POST and DELETE /api/security/mobile-auth).
//
// # Tokens
//
// A bearer token is the credential of a [session.Session] of kind
// [session.KindMobile]: 64 lowercase hex digits, stored only as a hash,
// valid for session.Config.MobileLifetime (90 days by default) unless it is
// revoked, its user is blacklisted, or it sits unused for
// session.Config.MobileIdleTimeout. Tokens appear in the session list and
// can be terminated there like any session.
//
// # Errors
//
// A wrong password and an unknown email both fail with
// [security.ErrInvalidCredentials]; a blacklisted user who gives the right
// password fails with [security.ErrBlacklisted] and gets no token; a locked
// out email or IP fails with [security.ErrThrottled].
package mobileauth

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Service issues and revokes bearer tokens.
type Service struct {
	sessions *session.Manager
}

// New returns a Service that keeps its tokens as sessions of m.
func New(m *session.Manager) *Service { return &Service{sessions: m} }

// Token is an issued bearer token.
type Token struct {
	// Token is the credential; shown once, never stored.
	Token     string
	SessionID string
	Principal security.Principal
	// PasswordBreached is true when session.Config.BreachCheck found the
	// password in breach data: the client should make the user change it.
	PasswordBreached bool
	// Verification, when not nil, means no token was issued yet: the login
	// waits for a second step (session.Manager.VerifyLogin), which then
	// issues the token. Token, SessionID and Principal are empty.
	Verification *session.Verification
	// Restricted is true for a staff user who must enrol a second factor
	// first (session.Config.RequireStaffSecondFactor).
	Restricted bool
}

// Issue checks email and password and returns a new bearer token.
func (s *Service) Issue(ctx context.Context, email, password string, ip netip.Addr, userAgent string) (Token, error) {
	res, err := s.sessions.Login(ctx, session.LoginRequest{Email: email, Password: password,
		Kind: session.KindMobile, IP: ip, UserAgent: userAgent})
	if err != nil {
		return Token{}, err
	}
	return Token{Token: res.Token, SessionID: res.Session.ID, Principal: res.Principal,
		Verification: res.Verification, Restricted: res.Restricted,
		PasswordBreached: res.PasswordBreached}, nil
}

// ErrNotBearer is returned by [Service.Revoke] for a request authenticated
// by something other than a bearer token (a web session cookie).
// It wraps [security.ErrUnauthenticated].
var ErrNotBearer = fmt.Errorf("%w: a bearer token is required", security.ErrUnauthenticated)

// Revoke revokes the bearer token that authenticated a. Revoking a token
// that is already revoked fails with [security.ErrNotFound].
func (s *Service) Revoke(ctx context.Context, a session.Auth, ip netip.Addr) error {
	if a.Session.Kind != session.KindMobile {
		return ErrNotBearer
	}
	return s.sessions.Logout(ctx, a, ip)
}
