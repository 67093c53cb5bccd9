package passkey

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Limits on what clients send.
const (
	// MaxRegistrationBytes bounds the JSON of a registration response
	// (the attestation object, client data and transports, base64url
	// encoded). A packed or TPM attestation with its certificate chain
	// takes a few KiB; "none" attestation a few hundred bytes.
	MaxRegistrationBytes = 64 << 10
	// MaxAssertionBytes bounds the JSON of an assertion response.
	MaxAssertionBytes = 16 << 10
	// MaxCredentialIDBytes is the longest credential id WebAuthn allows.
	MaxCredentialIDBytes = 1023
	// MaxNameRunes bounds a passkey's name.
	MaxNameRunes = 64
	// DefaultMaxPerUser is the default of [Config.MaxPerUser].
	DefaultMaxPerUser = 10
	// DefaultCeremonyTimeout is the default of [Config.CeremonyTimeout].
	DefaultCeremonyTimeout = 5 * time.Minute
)

// CeremonyPrefix starts every ceremony id.
const CeremonyPrefix = "pkc_"

// Audit events of passkeys.
const (
	EventRegistered security.EventType = "passkey_registered"
	EventRemoved    security.EventType = "passkey_removed"
	// EventUsed is written with an accepted assertion.
	EventUsed security.EventType = "passkey_used"
	// EventRefused is written for a refused registration or assertion,
	// with the reason in Details["reason"].
	EventRefused security.EventType = "passkey_refused"
	// EventCloneWarning is written when a counter did not increase.
	EventCloneWarning security.EventType = "passkey_clone_warning"
)

// Config configures a [Service]. RPID, RPDisplayName, RPOrigins and Store
// are required; the other fields have documented defaults.
type Config struct {
	// RPID is the relying party id: the host's registrable domain or a
	// parent of it ("example.com" for https://login.example.com), without
	// scheme or port. Passkeys are bound to it; changing it later orphans
	// every registered passkey. Browsers refuse IP addresses: use
	// "localhost" (with http://localhost:PORT origins) for development.
	RPID string
	// RPDisplayName is the name authenticators show ("Example Corp").
	RPDisplayName string
	// RPOrigins are the exact origins ("https://example.com",
	// "http://localhost:8080") pages may run ceremonies from. Each host
	// must be RPID or a subdomain of it, and the scheme https, or http
	// for localhost only.
	RPOrigins []string
	// Store keeps passkeys and ceremonies.
	Store Store
	// Clock tells the time; nil means the system clock.
	Clock security.Clock
	// CeremonyTimeout is how long a begun ceremony may be finished.
	// Default 5 minutes.
	CeremonyTimeout time.Duration
	// UserVerification is asked of authenticators: "preferred" (the
	// default), "required" or "discouraged". A passkey used as a second
	// factor after a password need not verify the user.
	UserVerification string
	// MaxPerUser bounds how many passkeys a user may register. Default 10.
	MaxPerUser int
}

// Service registers passkeys and verifies assertions. It is safe for
// concurrent use.
type Service struct {
	cfg Config
	wa  *webauthn.WebAuthn
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("passkey: Config.Store is required")
	}
	if err := checkRP(cfg.RPID, cfg.RPDisplayName, cfg.RPOrigins); err != nil {
		return nil, err
	}
	if cfg.CeremonyTimeout < 0 || cfg.MaxPerUser < 0 {
		return nil, errors.New("passkey: Config.CeremonyTimeout and Config.MaxPerUser must not be negative")
	}
	if cfg.CeremonyTimeout == 0 {
		cfg.CeremonyTimeout = DefaultCeremonyTimeout
	}
	if cfg.MaxPerUser == 0 {
		cfg.MaxPerUser = DefaultMaxPerUser
	}
	uv := protocol.UserVerificationRequirement(cfg.UserVerification)
	switch uv {
	case "":
		uv = protocol.VerificationPreferred
	case protocol.VerificationPreferred, protocol.VerificationRequired, protocol.VerificationDiscouraged:
	default:
		return nil, fmt.Errorf("passkey: Config.UserVerification %q must be preferred, required or discouraged", cfg.UserVerification)
	}
	cfg.UserVerification = string(uv)
	wa, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.RPDisplayName, RPOrigins: cfg.RPOrigins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: uv,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.CeremonyTimeout, TimeoutUVD: cfg.CeremonyTimeout},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.CeremonyTimeout, TimeoutUVD: cfg.CeremonyTimeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{cfg: cfg, wa: wa}, nil
}

// checkRP refuses a relying party that browsers would refuse, with an
// error that says how to fix it.
func checkRP(id, name string, origins []string) error {
	switch {
	case id == "":
		return errors.New(`passkey: Config.RPID is required (the site's domain, such as "example.com"; "localhost" in development)`)
	case strings.ContainsAny(id, ":/") || strings.ToLower(id) != id:
		return fmt.Errorf("passkey: Config.RPID %q must be a lower-case domain name without scheme, port or path", id)
	case strings.Trim(id, "0123456789.") == "" || strings.Contains(id, "["):
		return fmt.Errorf("passkey: Config.RPID %q is an IP address, which browsers refuse; use a domain name (\"localhost\" in development)", id)
	case strings.TrimSpace(name) == "":
		return errors.New("passkey: Config.RPDisplayName is required (the name authenticators show)")
	case len(origins) == 0:
		return errors.New(`passkey: Config.RPOrigins is required (the exact origins of the pages, such as "https://example.com")`)
	}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("passkey: Config.RPOrigins: %q is not an origin (scheme://host[:port])", o)
		}
		host := u.Hostname()
		if host != id && !strings.HasSuffix(host, "."+id) {
			return fmt.Errorf("passkey: Config.RPOrigins: the host of %q is neither RPID %q nor a subdomain of it", o, id)
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && (host == "localhost" || strings.HasSuffix(host, ".localhost")):
		default:
			return fmt.Errorf("passkey: Config.RPOrigins: %q must use https (http only for localhost)", o)
		}
		if strings.TrimSuffix(o, "/") != u.Scheme+"://"+u.Host {
			return fmt.Errorf("passkey: Config.RPOrigins: write %q as %q", o, u.Scheme+"://"+u.Host)
		}
	}
	return nil
}

func (s *Service) now() time.Time { return security.Now(s.cfg.Clock) }

// UserHandle is the WebAuthn user handle of userID: its eight bytes, big
// endian. It names the account to the authenticator and says nothing else.
func UserHandle(userID int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(userID)) }

// HasPasskey reports whether userID has registered a passkey: whether
// "passkey" is among their second-factor methods.
func (s *Service) HasPasskey(ctx context.Context, userID int64) (bool, error) {
	n, err := s.cfg.Store.CountCredentials(ctx, userID)
	return n > 0, err
}

// List returns userID's passkeys, oldest first.
func (s *Service) List(ctx context.Context, userID int64) ([]Credential, error) {
	return s.cfg.Store.Credentials(ctx, userID)
}

// Purge deletes the ceremonies that expired; run it now and then, as the
// session manager's Purge.
func (s *Service) Purge(ctx context.Context) error {
	return s.cfg.Store.PurgeCeremonies(ctx, s.now())
}

// webauthnUser is a user as go-webauthn sees it.
type webauthnUser struct {
	id          int64
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *webauthnUser) WebAuthnID() []byte                         { return UserHandle(u.id) }
func (u *webauthnUser) WebAuthnName() string                       { return u.name }
func (u *webauthnUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *webauthnUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// record returns c as go-webauthn's credential record.
func (c Credential) record() webauthn.Credential {
	var f protocol.AuthenticatorFlags
	for _, b := range []struct {
		on   bool
		flag protocol.AuthenticatorFlags
	}{{c.UserPresent, protocol.FlagUserPresent}, {c.UserVerified, protocol.FlagUserVerified},
		{c.BackupEligible, protocol.FlagBackupEligible}, {c.BackupState, protocol.FlagBackupState}} {
		if b.on {
			f |= b.flag
		}
	}
	tr := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		tr[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{ID: c.ID, PublicKey: c.PublicKey, AttestationType: c.AttestationType,
		AttestationFormat: c.AttestationFormat, Transport: tr, Flags: webauthn.NewCredentialFlags(f),
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount, CloneWarning: c.CloneWarning}}
}

// MethodName is the name of passkeys among a verification's methods
// (session.Verification.Methods).
const MethodName = "passkey"

var _ session.FactorMethod = (*Service)(nil)

// Name implements [session.FactorMethod]: [MethodName].
func (s *Service) Name() string { return MethodName }

// Enrolled implements [session.FactorMethod]: whether userID has a passkey.
// Give the Service to session.Config.Methods so that logins of users with
// a passkey offer "passkey".
func (s *Service) Enrolled(ctx context.Context, userID int64) (bool, error) {
	return s.HasPasskey(ctx, userID)
}

// VerificationBinding is what an assertion that completes the verification
// id is bound to: the hex of the id's hash, so that the id itself, like in
// the session store, is never stored.
func VerificationBinding(verificationID string) string {
	h := security.HashToken(verificationID)
	return hex.EncodeToString(h[:])
}

// CheckRegistrationResponse tells whether b has the shape of a
// registration response, for a 400 before anything is consumed.
func CheckRegistrationResponse(b []byte) error {
	if len(b) > MaxRegistrationBytes {
		return security.Invalidf("credential", "must be at most %d bytes", MaxRegistrationBytes)
	}
	if _, err := protocol.ParseCredentialCreationResponseBytes(b); err != nil {
		return security.Invalid("credential", "is not a WebAuthn registration response")
	}
	return nil
}

// CheckAssertionResponse tells whether b has the shape of an assertion
// response, for a 400 before anything is consumed.
func CheckAssertionResponse(b []byte) error {
	if len(b) > MaxAssertionBytes {
		return security.Invalidf("credential", "must be at most %d bytes", MaxAssertionBytes)
	}
	if _, err := protocol.ParseCredentialRequestResponseBytes(b); err != nil {
		return security.Invalid("credential", "is not a WebAuthn assertion response")
	}
	return nil
}
