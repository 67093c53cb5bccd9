package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// Error codes of step-up verification.
const (
	// CodeVerificationFailed: a wrong, used or expired code
	// ([Error.AttemptsLeft] says whether to retry).
	CodeVerificationFailed = "verification_failed"
	// CodeSecondFactorRequired: the session may only enrol a second
	// factor ([Client.EnrollTOTP]) first.
	CodeSecondFactorRequired = "second_factor_required"
)

// Verification is a login waiting for a second step: [Client.Login] and
// [Client.IssueToken] return it instead of a session when the server asks
// for a code; complete it with [Client.VerifyLogin] or [Client.VerifyToken].
type Verification struct {
	VerificationID string `json:"verification_id"`
	// Methods say which code to ask the user for: "email" (8 digits were
	// e-mailed), "totp" (6 digits of the authenticator app),
	// "recovery_code", or a method of the server's ("passkey").
	Methods []string `json:"methods"`
	// Reason is "new_ip" or "second_factor".
	Reason    string `json:"reason"`
	ExpiresAt string `json:"expires_at"`
}

// pending reads the Verification of a 202, or nil for any other answer.
func pending(env *envelope) (*Verification, error) {
	var v struct {
		Required bool `json:"verification_required"`
		Verification
	}
	if len(env.Data) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(env.Data, &v); err != nil || !v.Required {
		return nil, err
	}
	return &v.Verification, nil
}

// verifyCall is POST /api/security/verify-login.
func verifyCall(id, code string) call {
	return call{method: http.MethodPost, path: "/api/security/verify-login", noAuth: true,
		body: map[string]string{"verification_id": id, "code": code}}
}

// VerifyLogin completes a [Client.Login] that answered a Verification:
// the session cookie is set in the client's jar and the caller returned.
func (c *Client) VerifyLogin(ctx context.Context, verificationID, code string) (*Principal, error) {
	var p Principal
	if _, err := c.do(ctx, verifyCall(verificationID, code), &p); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.csrf = ""
	c.mu.Unlock()
	return &p, nil
}

// VerifyToken completes a [Client.IssueToken] that answered a
// Verification, and makes the client use the bearer token.
func (c *Client) VerifyToken(ctx context.Context, verificationID, code string) (*Token, error) {
	var t Token
	if _, err := c.do(ctx, verifyCall(verificationID, code), &t); err != nil {
		return nil, err
	}
	c.SetBearer(t.Token)
	return &t, nil
}

// MFAStatus is the caller's second factors (GET /api/security/mfa).
type MFAStatus struct {
	Methods              []string `json:"methods"`
	TOTPPending          bool     `json:"totp_pending"`
	RecoveryCodesLeft    int      `json:"recovery_codes_left"`
	SecondFactorRequired bool     `json:"second_factor_required"`
	Restricted           bool     `json:"restricted"`
}

// MFAStatus returns the caller's second factors.
func (c *Client) MFAStatus(ctx context.Context) (*MFAStatus, error) {
	var s MFAStatus
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/mfa"}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// TOTPEnrollment is a pending TOTP factor: show the QR code (a PNG in
// base64) or the secret, then [Client.ConfirmTOTP] with the app's code.
type TOTPEnrollment struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRPNG      string `json:"qr_png"`
}

func (c *Client) mfa(ctx context.Context, body map[string]string, data any) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/mfa", body: body, csrf: true}, data)
	return err
}

// EnrollTOTP starts a TOTP enrolment (POST /api/security/mfa
// enroll_totp).
func (c *Client) EnrollTOTP(ctx context.Context) (*TOTPEnrollment, error) {
	var e TOTPEnrollment
	if err := c.mfa(ctx, map[string]string{"action": "enroll_totp"}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

type recoveryCodes struct {
	Codes []string `json:"recovery_codes"`
}

// ConfirmTOTP activates the pending TOTP factor with the app's code and
// returns the ten recovery codes, shown this once.
func (c *Client) ConfirmTOTP(ctx context.Context, code string) ([]string, error) {
	var rc recoveryCodes
	if err := c.mfa(ctx, map[string]string{"action": "confirm_totp", "code": code}, &rc); err != nil {
		return nil, err
	}
	return rc.Codes, nil
}

// proof is the body of remove and regenerate_recovery_codes: the password,
// or else the code.
func proof(action, password, code string) map[string]string {
	if password != "" {
		return map[string]string{"action": action, "password": password}
	}
	return map[string]string{"action": action, "code": code}
}

// RemoveSecondFactor removes TOTP and the recovery codes, given the
// password or else a code (TOTP or recovery code).
func (c *Client) RemoveSecondFactor(ctx context.Context, password, code string) error {
	return c.mfa(ctx, proof("remove", password, code), nil)
}

// RegenerateRecoveryCodes replaces the recovery codes, given the password
// or else a code, and returns the new ones.
func (c *Client) RegenerateRecoveryCodes(ctx context.Context, password, code string) ([]string, error) {
	var rc recoveryCodes
	if err := c.mfa(ctx, proof("regenerate_recovery_codes", password, code), &rc); err != nil {
		return nil, err
	}
	return rc.Codes, nil
}
