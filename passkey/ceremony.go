package passkey

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Bounds on the transports a client reports and that are stored.
const (
	maxTransports     = 8
	maxTransportBytes = 32
)

// Client is the client that runs a ceremony, as the host saw it.
type Client struct {
	// IP is the client address, already resolved through trusted proxies.
	IP        netip.Addr
	UserAgent string
}

func (c Client) ip() string {
	if !c.IP.IsValid() {
		return ""
	}
	return c.IP.Unmap().String()
}

func (c Client) ua() string { return security.CleanText(c.UserAgent, session.MaxUserAgentBytes) }

// Options is a begun ceremony: the id to finish it with, and what to give
// the browser.
type Options struct {
	CeremonyID string
	// PublicKey is the JSON of the options for
	// navigator.credentials.create or .get, as {"publicKey": {…}}, with
	// binary members base64url encoded (PublicKeyCredential's
	// parseCreationOptionsFromJSON and parseRequestOptionsFromJSON read
	// the inner object).
	PublicKey json.RawMessage
}

// ErrRefused is the refusal of a registration or assertion that did not
// verify: a wrong origin, challenge, signature, credential or user, or a
// ceremony that is unknown, expired, used or begun elsewhere. Its text
// never says which, to the client; the audit event does.
var ErrRefused = errors.New("passkey: refused")

// ErrNoPasskey is BeginAssertion's answer for a user without passkeys.
var ErrNoPasskey = fmt.Errorf("passkey: the user has no passkey: %w", security.ErrNotFound)

// ErrTooMany refuses a registration past Config.MaxPerUser.
var ErrTooMany = fmt.Errorf("passkey: too many passkeys: %w", security.ErrConflict)

// refusal is an ErrRefused with the reason kept for the audit log.
type refusal struct{ reason string }

func (r *refusal) Error() string { return "passkey: refused: " + r.reason }
func (r *refusal) Is(target error) bool {
	return target == ErrRefused
}

// RefusalReason returns the reason of an [ErrRefused] for logs, or "".
func RefusalReason(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return ""
}

// BeginRegistration starts registering a passkey for p, bound to the
// session binding (the caller's session id) and to c. The authenticator is
// told the user's existing passkeys, so it does not register one twice.
func (s *Service) BeginRegistration(ctx context.Context, p security.Principal, binding string, c Client) (Options, error) {
	creds, err := s.cfg.Store.Credentials(ctx, p.UserID)
	if err != nil {
		return Options{}, err
	}
	if len(creds) >= s.cfg.MaxPerUser {
		return Options{}, ErrTooMany
	}
	u := s.user(p, creds)
	name := p.Email
	if name == "" {
		name = p.Name
	}
	u.name = name
	creation, data, err := s.wa.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return Options{}, fmt.Errorf("passkey: begin registration: %w", err)
	}
	return s.begin(ctx, KindRegistration, p.UserID, binding, c, creation, data)
}

// user returns p with creds as go-webauthn's user.
func (s *Service) user(p security.Principal, creds []Credential) *webauthnUser {
	u := &webauthnUser{id: p.UserID, name: p.Name, displayName: p.Name}
	for _, c := range creds {
		u.creds = append(u.creds, c.record())
	}
	return u
}

func (s *Service) begin(ctx context.Context, kind string, userID int64, binding string, c Client, opts any, data *webauthn.SessionData) (Options, error) {
	rawData, err := json.Marshal(data)
	if err != nil {
		return Options{}, err
	}
	rawOpts, err := json.Marshal(opts)
	if err != nil {
		return Options{}, err
	}
	cer := Ceremony{ID: security.NewID(CeremonyPrefix), Kind: kind, UserID: userID, Binding: binding,
		IP: c.ip(), UserAgent: c.ua(), Data: rawData, ExpiresAt: s.now().Add(s.cfg.CeremonyTimeout)}
	if err := s.cfg.Store.CreateCeremony(ctx, cer); err != nil {
		return Options{}, err
	}
	return Options{CeremonyID: cer.ID, PublicKey: rawOpts}, nil
}

// take consumes the ceremony id and checks that it is of kind, bound to
// binding and c, and not expired. A ceremony is used once, whatever the
// outcome: a failed finish cannot be retried with the same challenge.
func (s *Service) take(ctx context.Context, kind, id, binding string, c Client) (Ceremony, webauthn.SessionData, error) {
	var data webauthn.SessionData
	if !security.ValidID(CeremonyPrefix, id) {
		return Ceremony{}, data, security.Invalid("ceremony_id", "must be a ceremony id (pkc_…)")
	}
	cer, err := s.cfg.Store.TakeCeremony(ctx, id)
	switch {
	case errors.Is(err, security.ErrNotFound):
		return cer, data, &refusal{"unknown or used ceremony"}
	case err != nil:
		return cer, data, err
	case cer.Kind != kind:
		return cer, data, &refusal{"ceremony of another kind"}
	case subtle.ConstantTimeCompare([]byte(cer.Binding), []byte(binding)) != 1:
		return cer, data, &refusal{"ceremony bound to another " + map[string]string{KindRegistration: "session", KindAssertion: "verification"}[kind]}
	case cer.IP != c.ip() || cer.UserAgent != c.ua():
		return cer, data, &refusal{"ceremony begun from another IP or user agent"}
	case !s.now().Before(cer.ExpiresAt):
		return cer, data, &refusal{"ceremony expired"}
	}
	if err := json.Unmarshal(cer.Data, &data); err != nil {
		return cer, data, fmt.Errorf("passkey: ceremony %s: %w", cer.ID, err)
	}
	return cer, data, nil
}

// Registration is the finish of a registration.
type Registration struct {
	CeremonyID string
	// Actor is the caller: the ceremony must have been begun by this
	// session, for this user.
	Actor  session.Auth
	Client Client
	// Name labels the passkey; empty means "Passkey".
	Name string
	// Response is the JSON of the PublicKeyCredential that
	// navigator.credentials.create returned (its toJSON()).
	Response []byte
}

// CheckName trims name and checks its length; "" becomes "Passkey".
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "Passkey", nil
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameRunes:
		return "", security.Invalidf("name", "must be at most %d characters of UTF-8", MaxNameRunes)
	}
	return security.CleanText(name, 4*MaxNameRunes), nil
}

// FinishRegistration verifies the authenticator's response against the
// ceremony and stores the new passkey. A response that does not verify,
// and a ceremony that is unknown, used, expired or another session's, is
// [ErrRefused] (with an audit event); a malformed or oversized one
// [security.ErrInvalid]; a passkey already registered [security.ErrConflict].
func (s *Service) FinishRegistration(ctx context.Context, r Registration) (Credential, error) {
	name, err := CheckName(r.Name)
	if err != nil {
		return Credential{}, err
	}
	if len(r.Response) > MaxRegistrationBytes {
		return Credential{}, security.Invalidf("credential", "must be at most %d bytes", MaxRegistrationBytes)
	}
	cred, err := s.finishRegistration(ctx, r, name)
	if errors.Is(err, ErrRefused) {
		s.refused(ctx, r.Actor.Principal.UserID, r.Actor.Session.ID, r.Client, KindRegistration, err)
	}
	return cred, err
}

func (s *Service) finishRegistration(ctx context.Context, r Registration, name string) (Credential, error) {
	p := r.Actor.Principal
	cer, data, err := s.take(ctx, KindRegistration, r.CeremonyID, r.Actor.Session.ID, r.Client)
	if err != nil {
		return Credential{}, err
	}
	if cer.UserID != p.UserID {
		return Credential{}, &refusal{"ceremony of another user"}
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(r.Response)
	if err != nil {
		return Credential{}, security.Invalid("credential", "is not a WebAuthn registration response")
	}
	if len(parsed.RawID) > MaxCredentialIDBytes {
		return Credential{}, security.Invalidf("credential", "id must be at most %d bytes", MaxCredentialIDBytes)
	}
	creds, err := s.cfg.Store.Credentials(ctx, p.UserID)
	if err != nil {
		return Credential{}, err
	}
	if len(creds) >= s.cfg.MaxPerUser {
		return Credential{}, ErrTooMany
	}
	wc, err := s.wa.CreateCredential(s.user(p, creds), data, parsed)
	if err != nil {
		return Credential{}, &refusal{"registration did not verify: " + protocolReason(err)}
	}
	att, err := json.Marshal(wc.Attestation)
	if err != nil {
		return Credential{}, err
	}
	now := s.now()
	cred := Credential{ID: wc.ID, UserID: p.UserID, Name: name, PublicKey: wc.PublicKey,
		AttestationType: wc.AttestationType, AttestationFormat: wc.AttestationFormat, Attestation: att,
		AAGUID: wc.Authenticator.AAGUID, SignCount: wc.Authenticator.SignCount,
		UserPresent: wc.Flags.UserPresent, UserVerified: wc.Flags.UserVerified,
		BackupEligible: wc.Flags.BackupEligible, BackupState: wc.Flags.BackupState, CreatedAt: now}
	// Transports are the client's say: keep a few short ones.
	for _, t := range wc.Transport {
		if len(cred.Transports) < maxTransports && len(t) <= maxTransportBytes {
			cred.Transports = append(cred.Transports, security.CleanText(string(t), maxTransportBytes))
		}
	}
	ev := security.Event{Time: now, Type: EventRegistered, ActorUserID: p.UserID, ActorSessionID: r.Actor.Session.ID,
		SubjectUserID: p.UserID, Subject: CredentialID(cred.ID), IP: r.Client.ip(),
		Details: map[string]string{"name": name, "attestation": cred.AttestationFormat}}
	if err := s.cfg.Store.AddCredential(ctx, cred, []security.Event{ev}); err != nil {
		if errors.Is(err, security.ErrConflict) {
			return Credential{}, fmt.Errorf("passkey: this passkey is already registered: %w", security.ErrConflict)
		}
		return Credential{}, err
	}
	return cred, nil
}

// protocolReason is go-webauthn's description of a failure, for the log.
func protocolReason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return security.CleanText(pe.Details+" "+pe.DevInfo, 200)
	}
	return security.CleanText(err.Error(), 200)
}

// CredentialID is the base64url (unpadded) form of a credential id, as
// the API and audit events show it.
func CredentialID(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// ParseCredentialID reads what [CredentialID] wrote.
func ParseCredentialID(s string) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(id) == 0 || len(id) > MaxCredentialIDBytes {
		return nil, security.Invalid("credential_id", "must be a base64url credential id")
	}
	return id, nil
}

// BeginAssertion starts an assertion by one of userID's passkeys, bound to
// binding (a pending verification's id) and to c. A user without passkeys
// gets [ErrNoPasskey].
func (s *Service) BeginAssertion(ctx context.Context, userID int64, binding string, c Client) (Options, error) {
	creds, err := s.cfg.Store.Credentials(ctx, userID)
	if err != nil {
		return Options{}, err
	}
	if len(creds) == 0 {
		return Options{}, ErrNoPasskey
	}
	assertion, data, err := s.wa.BeginLogin(s.user(security.Principal{UserID: userID}, creds))
	if err != nil {
		return Options{}, fmt.Errorf("passkey: begin assertion: %w", err)
	}
	return s.begin(ctx, KindAssertion, userID, binding, c, assertion, data)
}

// Assertion is the finish of an assertion.
type Assertion struct {
	CeremonyID string
	// Binding must be what BeginAssertion was given.
	Binding string
	Client  Client
	// Response is the JSON of the PublicKeyCredential that
	// navigator.credentials.get returned.
	Response []byte
}

// FinishAssertion verifies an assertion against its ceremony: the
// challenge, origin, RP id, signature, that the credential is one of the
// ceremony's user's, and its counter (see "Sign counters" in the package
// doc). It returns the credential used, updated. Every refusal is
// [ErrRefused] with an audit event; a malformed or oversized response is
// [security.ErrInvalid].
func (s *Service) FinishAssertion(ctx context.Context, a Assertion) (Credential, error) {
	if len(a.Response) > MaxAssertionBytes {
		return Credential{}, security.Invalidf("credential", "must be at most %d bytes", MaxAssertionBytes)
	}
	userID, cred, err := s.finishAssertion(ctx, a)
	if errors.Is(err, ErrRefused) && !errors.Is(err, ErrCloned) {
		s.refused(ctx, userID, "", a.Client, KindAssertion, err)
	}
	return cred, err
}

func (s *Service) finishAssertion(ctx context.Context, a Assertion) (int64, Credential, error) {
	cer, data, err := s.take(ctx, KindAssertion, a.CeremonyID, a.Binding, a.Client)
	if err != nil {
		return cer.UserID, Credential{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(a.Response)
	if err != nil {
		return cer.UserID, Credential{}, security.Invalid("credential", "is not a WebAuthn assertion response")
	}
	creds, err := s.cfg.Store.Credentials(ctx, cer.UserID)
	if err != nil {
		return cer.UserID, Credential{}, err
	}
	wc, err := s.wa.ValidateLogin(s.user(security.Principal{UserID: cer.UserID}, creds), data, parsed)
	if err != nil {
		return cer.UserID, Credential{}, &refusal{"assertion did not verify: " + protocolReason(err)}
	}
	cred, err := s.recordUse(ctx, cer.UserID, wc, parsed, a.Client)
	return cer.UserID, cred, err
}

// recordUse stores an accepted assertion of wc by userID: its counter
// (refusing a clone, with its audit event), flags and time.
func (s *Service) recordUse(ctx context.Context, userID int64, wc *webauthn.Credential,
	parsed *protocol.ParsedCredentialAssertionData, c Client) (Credential, error) {
	now := s.now()
	flags := parsed.Response.AuthenticatorData.Flags
	subject := CredentialID(wc.ID)
	used := security.Event{Time: now, Type: EventUsed, ActorUserID: userID, SubjectUserID: userID,
		Subject: subject, IP: c.ip()}
	cred, err := s.cfg.Store.UseCredential(ctx, Use{UserID: userID, ID: wc.ID,
		SignCount: parsed.Response.AuthenticatorData.Counter, UserVerified: wc.Flags.UserVerified,
		BackupState: flags.HasBackupState(), At: now}, []security.Event{used})
	if errors.Is(err, ErrCloned) {
		ev := security.Event{Time: now, Type: EventCloneWarning, ActorUserID: userID, SubjectUserID: userID,
			Subject: subject, IP: c.ip(),
			Details: map[string]string{"sign_count": fmt.Sprint(parsed.Response.AuthenticatorData.Counter)}}
		if rerr := s.cfg.Store.RecordEvents(ctx, ev); rerr != nil {
			return Credential{}, rerr
		}
		return Credential{}, fmt.Errorf("%w: %w", &refusal{"signature counter did not increase"}, ErrCloned)
	}
	return cred, err
}

// refused writes the audit event of a refusal.
func (s *Service) refused(ctx context.Context, userID int64, sessionID string, c Client, kind string, err error) {
	_ = s.cfg.Store.RecordEvents(ctx, security.Event{Time: s.now(), Type: EventRefused, ActorUserID: userID,
		ActorSessionID: sessionID, SubjectUserID: userID, IP: c.ip(),
		Details: map[string]string{"ceremony": kind, "reason": RefusalReason(err)}})
}

// Remove deletes the caller's passkey id. The host checks beforehand that
// the caller proved who they are again (a password or a second factor).
func (s *Service) Remove(ctx context.Context, actor session.Auth, id []byte, c Client) error {
	p := actor.Principal
	ev := security.Event{Time: s.now(), Type: EventRemoved, ActorUserID: p.UserID, ActorSessionID: actor.Session.ID,
		SubjectUserID: p.UserID, Subject: CredentialID(id), IP: c.ip()}
	return s.cfg.Store.RemoveCredential(ctx, p.UserID, id, []security.Event{ev})
}

// KindDiscoverable is the kind of a usernameless login's ceremony.
const KindDiscoverable = "discoverable"

// discoverableBinding is what a usernameless login's ceremony is bound to
// besides the client.
const discoverableBinding = "login"

// BeginLogin starts a usernameless login (passkeys as the first factor):
// options for navigator.credentials.get that name no user and no
// credential, so the authenticator offers its discoverable passkeys of
// this RP, and require user verification. The ceremony is bound to c.
func (s *Service) BeginLogin(ctx context.Context, c Client) (Options, error) {
	assertion, data, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Options{}, fmt.Errorf("passkey: begin login: %w", err)
	}
	return s.begin(ctx, KindDiscoverable, 0, discoverableBinding, c, assertion, data)
}

// Login is the finish of a usernameless login.
type Login struct {
	CeremonyID string
	Client     Client
	// Response is the JSON of the PublicKeyCredential that
	// navigator.credentials.get returned.
	Response []byte
}

// FinishLogin verifies a usernameless login's assertion: as
// [Service.FinishAssertion], and the user handle must name the user whose
// passkey signed, and the authenticator must have verified the user (UV).
// It returns the credential used; its UserID is who logged in. Hand it to
// session.Manager.LoginWithFactor.
func (s *Service) FinishLogin(ctx context.Context, l Login) (Credential, error) {
	if len(l.Response) > MaxAssertionBytes {
		return Credential{}, security.Invalidf("credential", "must be at most %d bytes", MaxAssertionBytes)
	}
	userID, cred, err := s.finishLogin(ctx, l)
	if errors.Is(err, ErrRefused) && !errors.Is(err, ErrCloned) {
		s.refused(ctx, userID, "", l.Client, KindDiscoverable, err)
	}
	return cred, err
}

func (s *Service) finishLogin(ctx context.Context, l Login) (int64, Credential, error) {
	_, data, err := s.take(ctx, KindDiscoverable, l.CeremonyID, discoverableBinding, l.Client)
	if err != nil {
		return 0, Credential{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(l.Response)
	if err != nil {
		return 0, Credential{}, security.Invalid("credential", "is not a WebAuthn assertion response")
	}
	var userID int64
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		if len(userHandle) != 8 {
			return nil, errors.New("not a user handle of this server")
		}
		userID = int64(binary.BigEndian.Uint64(userHandle))
		creds, err := s.cfg.Store.Credentials(ctx, userID)
		if err != nil {
			return nil, err
		}
		if len(creds) == 0 {
			return nil, errors.New("no passkey for this user handle")
		}
		return s.user(security.Principal{UserID: userID}, creds), nil
	}
	_, wc, err := s.wa.ValidatePasskeyLogin(handler, data, parsed)
	if err != nil {
		return userID, Credential{}, &refusal{"login did not verify: " + protocolReason(err)}
	}
	cred, err := s.recordUse(ctx, userID, wc, parsed, l.Client)
	return userID, cred, err
}
