package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Passkey is one of the caller's passkeys (WebAuthn credentials).
type Passkey struct {
	// CredentialID is the credential id, base64url without padding.
	CredentialID string `json:"credential_id"`
	Name         string `json:"name"`
	CreatedAt    string `json:"created_at"`
	// LastUsedAt is "" when the passkey was never used.
	LastUsedAt        string   `json:"last_used_at"`
	Transports        []string `json:"transports"`
	AAGUID            string   `json:"aaguid"`
	AttestationFormat string   `json:"attestation_format"`
	UserVerified      bool     `json:"user_verified"`
	BackupEligible    bool     `json:"backup_eligible"`
	BackupState       bool     `json:"backup_state"`
	// CloneWarning says the passkey's counter went backwards: the server
	// refuses it; remove it and register another.
	CloneWarning bool `json:"clone_warning"`
}

// Ceremony is a begun passkey registration or assertion: pass Options to
// the authenticator (in a browser, navigator.credentials.create or .get
// with PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)
// or parseRequestOptionsFromJSON), then finish with its answer within 5
// minutes.
type Ceremony struct {
	CeremonyID string `json:"ceremony_id"`
	// Options is {"publicKey": {…}}.
	Options json.RawMessage `json:"options"`
}

// Passkeys lists the caller's passkeys (GET /api/security/passkeys).
func (c *Client) Passkeys(ctx context.Context) ([]Passkey, error) {
	var l []Passkey
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/passkeys"}, &l)
	return l, err
}

// BeginPasskeyRegistration starts registering a passkey for the caller.
func (c *Client) BeginPasskeyRegistration(ctx context.Context) (*Ceremony, error) {
	var cer Ceremony
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/passkeys", csrf: true,
		body: map[string]any{"action": "register_begin"}}, &cer)
	if err != nil {
		return nil, err
	}
	return &cer, nil
}

// FinishPasskeyRegistration sends the authenticator's answer to a
// registration (the PublicKeyCredential's JSON) and names the passkey.
func (c *Client) FinishPasskeyRegistration(ctx context.Context, ceremonyID, name string, credential json.RawMessage) (*Passkey, error) {
	var p Passkey
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/passkeys", csrf: true,
		body: map[string]any{"action": "register_finish", "ceremony_id": ceremonyID, "name": name,
			"credential": credential}}, &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// RemovePasskey removes one of the caller's passkeys, proving who they are
// again with their password or, when password is "", a current code (TOTP
// or recovery code).
func (c *Client) RemovePasskey(ctx context.Context, credentialID, password, code string) error {
	body := map[string]any{"action": "remove", "credential_id": credentialID}
	if password != "" {
		body["password"] = password
	} else {
		body["code"] = code
	}
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/passkeys", csrf: true, body: body}, nil)
	return err
}

// BeginPasskeyVerification starts the passkey assertion that completes a
// login waiting for verification (its verification_id). It must come from
// the login's IP and user agent.
func (c *Client) BeginPasskeyVerification(ctx context.Context, verificationID string) (*Ceremony, error) {
	var cer Ceremony
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/passkey-verification", noAuth: true,
		body: map[string]any{"action": "begin", "verification_id": verificationID}}, &cer)
	if err != nil {
		return nil, err
	}
	return &cer, nil
}

// VerifiedLogin is the answer of a completed verification: what the login
// would have answered.
type VerifiedLogin struct {
	// Principal is set for a web login; the client's cookie jar keeps the
	// session cookie.
	Principal *Principal
	// Token is set for a mobile login; the client uses it from now on.
	Token *Token
}

// FinishPasskeyVerification sends the authenticator's assertion and
// completes the login.
func (c *Client) FinishPasskeyVerification(ctx context.Context, verificationID, ceremonyID string, credential json.RawMessage) (*VerifiedLogin, error) {
	var raw json.RawMessage
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/passkey-verification", noAuth: true,
		body: map[string]any{"action": "finish", "verification_id": verificationID, "ceremony_id": ceremonyID,
			"credential": credential}}, &raw)
	if err != nil {
		return nil, err
	}
	return c.loggedIn(raw)
}

// loggedIn reads the data of a completed login: a token (used from now
// on) or a principal (a cookie session).
func (c *Client) loggedIn(raw json.RawMessage) (*VerifiedLogin, error) {
	var probe struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("propsec: login: malformed data: %w", err)
	}
	if probe.Token != nil {
		var t Token
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, err
		}
		c.SetBearer(t.Token)
		return &VerifiedLogin{Token: &t}, nil
	}
	var p Principal
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.csrf = "" // bound to the session before
	c.mu.Unlock()
	return &VerifiedLogin{Principal: &p}, nil
}

// BeginPasskeyLogin starts a usernameless login: pass the options to the
// authenticator, which offers its discoverable passkeys of the site.
func (c *Client) BeginPasskeyLogin(ctx context.Context) (*Ceremony, error) {
	var cer Ceremony
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/passkey-login", noAuth: true,
		body: map[string]any{"action": "begin"}}, &cer)
	if err != nil {
		return nil, err
	}
	return &cer, nil
}

// FinishPasskeyLogin sends the authenticator's assertion and logs in: a
// web session (cookie) or, with mobile, a bearer token the client uses
// from then on.
func (c *Client) FinishPasskeyLogin(ctx context.Context, ceremonyID string, credential json.RawMessage, mobile bool) (*VerifiedLogin, error) {
	kind := "web"
	if mobile {
		kind = "mobile"
	}
	var raw json.RawMessage
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/passkey-login", noAuth: true,
		body: map[string]any{"action": "finish", "ceremony_id": ceremonyID, "credential": credential, "kind": kind}}, &raw)
	if err != nil {
		return nil, err
	}
	return c.loggedIn(raw)
}
