package httpadapter

import (
	"encoding/base64"
	"errors"
	"net/http"

	qr "github.com/piglig/go-qr"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// mfaRoutes lists GET and POST /api/security/mfa, or nothing when the
// session store keeps no second factors. A restricted session may use
// them: they are how it enrols.
func (h *Handler) mfaRoutes() map[string]map[string]endpoint {
	if !h.sessions.SecondFactorsSupported() {
		return nil
	}
	return map[string]map[string]endpoint{
		"/api/security/mfa": {
			http.MethodGet:  {auth: authAny, restricted: true, prepare: h.mfaStatus},
			http.MethodPost: {auth: authAny, restricted: true, body: true, csrf: true, prepare: h.changeMFA},
		},
	}
}

type mfaStatusJSON struct {
	Methods              []string `json:"methods"`
	TOTPPending          bool     `json:"totp_pending"`
	RecoveryCodesLeft    int      `json:"recovery_codes_left"`
	SecondFactorRequired bool     `json:"second_factor_required"`
	Restricted           bool     `json:"restricted"`
}

// mfaStatus serves GET /api/security/mfa: the caller's own factors.
func (h *Handler) mfaStatus(c *call) (func() (reply, error), error) {
	return func() (reply, error) {
		st, err := h.sessions.SecondFactors(c.r.Context(), c.auth)
		if err != nil {
			return reply{}, err
		}
		return reply{data: mfaStatusJSON{Methods: st.Methods, TOTPPending: st.TOTPPending,
			RecoveryCodesLeft: st.RecoveryCodesLeft, SecondFactorRequired: st.Required, Restricted: st.Restricted},
			message: "Second factors retrieved"}, nil
	}, nil
}

// qrPNG renders text as a QR code PNG (error correction M, 6 pixels a
// module, the standard quiet zone of 4 modules).
func qrPNG(text string) ([]byte, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return nil, err
	}
	return code.ToPNGBytes(qr.NewQrCodeImgConfig(6, 4))
}

// errNoFactorKey is TOTP on a server without session.Config.FactorKey.
var errNoFactorKey = &httpError{status: http.StatusServiceUnavailable, code: CodeUnavailable,
	message: "TOTP is not available: the server has no factor key"}

// changeMFA serves POST /api/security/mfa: enroll_totp, confirm_totp
// (code), remove (password or code) and regenerate_recovery_codes
// (password or code).
func (h *Handler) changeMFA(c *call) (func() (reply, error), error) {
	action, actionField, err := c.action()
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	switch action {
	case "enroll_totp":
		if err := c.bind(actionField); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			en, err := h.sessions.EnrollTOTP(ctx, c.auth, c.ip)
			if err != nil {
				return reply{}, mfaError(err, "TOTP is already enrolled; remove it first")
			}
			png, err := qrPNG(en.URI)
			if err != nil {
				return reply{}, err
			}
			return reply{data: map[string]string{"secret": en.Secret, "otpauth_uri": en.URI,
				"qr_png": base64.StdEncoding.EncodeToString(png)},
				message: "TOTP enrolment started: confirm it with a code of your app"}, nil
		}, nil
	case "confirm_totp":
		var code string
		if err := c.bind(actionField, stringField("code", &code, true)); err != nil {
			return nil, err
		}
		if len(code) > session.MaxCodeBytes {
			return nil, security.Invalidf("code", "must be at most %d bytes", session.MaxCodeBytes)
		}
		return func() (reply, error) {
			codes, err := h.sessions.ConfirmTOTP(ctx, c.auth, code, c.ip)
			if err != nil {
				err = describe(err, security.ErrNotFound, "No TOTP enrolment is pending: start one with enroll_totp")
				return reply{}, mfaError(err, "TOTP is already confirmed")
			}
			return reply{data: map[string]any{"recovery_codes": codes},
				message: "TOTP enabled: store these recovery codes now, they are shown once"}, nil
		}, nil
	case "remove", "regenerate_recovery_codes":
		var p session.FactorProof
		if err := c.bind(actionField, stringField("password", &p.Password, false),
			stringField("code", &p.Code, false)); err != nil {
			return nil, err
		}
		if err := checkProof(p); err != nil {
			return nil, err
		}
		if action == "remove" {
			return func() (reply, error) {
				if err := h.sessions.RemoveSecondFactors(ctx, c.auth, p, c.ip); err != nil {
					return reply{}, proofError(err)
				}
				return reply{message: "Second factor and recovery codes removed"}, nil
			}, nil
		}
		return func() (reply, error) {
			codes, err := h.sessions.RegenerateRecoveryCodes(ctx, c.auth, p, c.ip)
			if err != nil {
				return reply{}, mfaError(proofError(err), "No second factor is enrolled")
			}
			return reply{data: map[string]any{"recovery_codes": codes},
				message: "New recovery codes: store them now, they are shown once; the old ones no longer work"}, nil
		}, nil
	default:
		return nil, security.Invalid("action", "must be enroll_totp, confirm_totp, remove or regenerate_recovery_codes")
	}
}

// checkProof validates a password-or-code proof before any lookup.
func checkProof(p session.FactorProof) error {
	switch {
	case p.Password == "" && p.Code == "":
		return security.Invalid("", "password or code is required")
	case p.Password != "" && p.Code != "":
		return security.Invalid("", "give the password or a code, not both")
	case len(p.Password) > session.MaxPasswordBytes:
		return security.Invalidf("password", "must be at most %d bytes", session.MaxPasswordBytes)
	case len(p.Code) > session.MaxCodeBytes:
		return security.Invalidf("code", "must be at most %d bytes", session.MaxCodeBytes)
	}
	return nil
}

// mfaError maps the errors of enrolment: no factor key (503) and a
// conflict (409, with conflict as its message).
func mfaError(err error, conflict string) error {
	if errors.Is(err, session.ErrNoFactorKey) {
		return errNoFactorKey
	}
	return describe(err, security.ErrConflict, conflict)
}

// proofError maps a wrong password or code: a 400 naming the field, not
// the 401 of a failed login (the caller's session is fine).
func proofError(err error) error {
	switch {
	case errors.Is(err, security.ErrInvalidCredentials) && errors.Is(err, session.ErrVerificationFailed):
		return security.Invalid("code", "is wrong or was used already")
	case errors.Is(err, security.ErrInvalidCredentials):
		return security.Invalid("password", "is incorrect")
	}
	return err
}
