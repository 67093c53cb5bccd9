package httpadapter

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Error codes of step-up verification.
const (
	// CodeVerificationFailed: a verification code was wrong or used, or
	// the verification does not exist (any more) for this client. data
	// carries attempts_left; at 0 the client must log in again.
	CodeVerificationFailed = "verification_failed"
	// CodeSecondFactorRequired: a staff session without a second factor
	// (session.Config.RequireStaffSecondFactor) may only enrol one.
	CodeSecondFactorRequired = "second_factor_required"
)

// DefaultVerifyPage is the default of [Config.VerifyPage].
const DefaultVerifyPage = "/login/verify"

// errSecondFactorRequired refuses a restricted session.
var errSecondFactorRequired = &httpError{status: http.StatusForbidden, code: CodeSecondFactorRequired,
	message: "A second factor is required: enrol one through /api/security/mfa first"}

// verifyRoutes lists POST /api/security/verify-login, or nothing when the
// session store keeps no verifications.
func (h *Handler) verifyRoutes() map[string]map[string]endpoint {
	if !h.sessions.SecondFactorsSupported() {
		return nil
	}
	return map[string]map[string]endpoint{
		"/api/security/verify-login": {
			http.MethodPost: {body: true, prepare: h.verifyLogin, form: h.formVerify},
		},
	}
}

// verificationJSON is the data of a 202 answer to a login that needs
// verification.
type verificationJSON struct {
	VerificationRequired bool     `json:"verification_required"`
	VerificationID       string   `json:"verification_id"`
	Methods              []string `json:"methods"`
	Reason               string   `json:"reason"`
	ExpiresAt            string   `json:"expires_at"`
}

// verificationReply is the 202 of a login waiting for v.
func verificationReply(v *session.Verification) reply {
	return reply{status: http.StatusAccepted, data: verificationJSON{VerificationRequired: true, VerificationID: v.ID,
		Methods: v.Methods, Reason: v.Reason, ExpiresAt: timeJSON(v.ExpiresAt)},
		message: "Verification required: send a code to /api/security/verify-login"}
}

// loginReply answers a completed login as its endpoint does: a web
// session sets the cookie and answers the principal, a mobile one answers
// the bearer token.
func (h *Handler) loginReply(w http.ResponseWriter, res session.LoginResult) reply {
	if res.Verification != nil {
		return verificationReply(res.Verification)
	}
	if res.Session.Kind == session.KindMobile {
		data := map[string]any{"token": res.Token}
		if res.PasswordBreached {
			data["password_breached"] = true
		}
		if res.Restricted {
			data["second_factor_required"] = true
		}
		return reply{data: data, message: "Mobile authentication token issued"}
	}
	h.setSessionCookie(w, res)
	p := res.Principal
	perms := p.Permissions
	if perms == nil {
		perms = []security.Permission{}
	}
	return reply{data: principalJSON{UserID: p.UserID, UserName: p.Name, Email: p.Email,
		AccountType: p.AccountType, Permissions: perms, SessionID: res.Session.ID,
		ExpiresAt: timeJSON(res.Session.ExpiresAt), PasswordBreached: res.PasswordBreached,
		SecondFactorRequired: res.Restricted}, message: "Logged in"}
}

// verifyLogin serves POST /api/security/verify-login: {"verification_id",
// "code"}. Like login it takes no CSRF token (there is no session yet);
// the cross-origin check applies.
func (h *Handler) verifyLogin(c *call) (func() (reply, error), error) {
	var id, code string
	if err := c.bind(stringField("verification_id", &id, true), stringField("code", &code, true)); err != nil {
		return nil, err
	}
	if err := checkVerifyInput(id, code); err != nil {
		return nil, err
	}
	return func() (reply, error) {
		res, err := h.sessions.VerifyLogin(c.r.Context(), session.VerifyRequest{ID: id, Code: code, IP: c.ip,
			UserAgent: c.r.UserAgent()})
		if err != nil {
			return reply{}, verifyError(err)
		}
		return h.loginReply(c.w, res), nil
	}, nil
}

// checkVerifyInput validates the fields of a verification before any
// lookup.
func checkVerifyInput(id, code string) error {
	switch {
	case !session.ValidVerificationID(id):
		return security.Invalid("verification_id", "must be a verification id (ver_…)")
	case code == "":
		return security.Invalid("code", "is required")
	case len(code) > session.MaxCodeBytes:
		return security.Invalidf("code", "must be at most %d bytes", session.MaxCodeBytes)
	}
	return nil
}

// verifyError gives a refused verification its public answer: 401
// verification_failed with attempts_left.
func verifyError(err error) error {
	var ve *session.VerificationError
	if !errors.As(err, &ve) {
		return err
	}
	msg := "Wrong or used code"
	if ve.Ended() {
		msg = "Verification failed or expired; log in again"
	}
	return &httpError{status: http.StatusUnauthorized, code: CodeVerificationFailed, message: msg,
		data: map[string]int{"attempts_left": ve.AttemptsLeft}}
}

// formVerify serves POST /api/security/verify-login with an HTML form body
// (fields verification_id and code), for the host's verification page: a
// right code sets the session cookie and answers 303 to Config.AfterLogin;
// a wrong one answers 303 back to Config.VerifyPage with the id and
// ?error=; one that ended the verification answers 303 to
// Config.LoginPage with ?error=verification_failed.
func (h *Handler) formVerify(w http.ResponseWriter, r *http.Request) {
	if err := h.checkOrigin(r, false); err != nil {
		h.refuse(w, r, session.Auth{}, err)
		return
	}
	vals, err := h.readForm(w, r, "verification_id", "code", CSRFFieldName)
	id := ""
	if vals != nil {
		id = vals.Get("verification_id")
	}
	if err == nil {
		err = checkVerifyInput(id, vals.Get("code"))
	}
	if err == nil {
		var res session.LoginResult
		res, err = h.sessions.VerifyLogin(r.Context(), session.VerifyRequest{ID: id, Code: vals.Get("code"),
			IP: ClientIP(r, h.trusted), UserAgent: r.UserAgent()})
		if err == nil && res.Session.Kind == session.KindWeb {
			h.setSessionCookie(w, res)
			seeOther(w, h.afterLogin)
			return
		}
		if err == nil {
			err = security.Invalid("verification_id", "belongs to a mobile login; use the JSON API")
		}
	}
	var ve *session.VerificationError
	p := h.account(r, session.Auth{}, verifyError(err))
	if (errors.As(err, &ve) && ve.Ended()) || !session.ValidVerificationID(id) {
		seeOther(w, loginURL(h.loginPage, p.code, "", p.retryAfter))
		return
	}
	seeOther(w, h.verifyURL(id, p.code))
}

// verifyURL is Config.VerifyPage carrying the verification id (and an
// error code).
func (h *Handler) verifyURL(id, code string) string {
	v := url.Values{}
	v.Set("verification_id", id)
	if code != "" {
		v.Set("error", code)
	}
	return h.verifyPage + "?" + v.Encode()
}
