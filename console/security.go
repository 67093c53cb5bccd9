package console

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Paths of sign-in verification and of the Security view, relative to the
// prefix.
const (
	pathVerify         = "verify"
	pathSecurity       = "security"
	pathTOTPEnroll     = "security/totp"
	pathTOTPConfirm    = "security/totp/confirm"
	pathTOTPRemove     = "security/totp/remove"
	pathRecoveryCodes  = "security/recovery-codes"
	pathPasskeyRemove  = "security/passkeys/remove"
	noticeFactorNeeded = "factor_required"
)

// verifyErrors are the words of the verify page's ?error= codes.
var verifyErrors = map[string]string{
	httpadapter.CodeVerificationFailed: "The code is wrong or was used already.",
	httpadapter.CodeTooManyAttempts:    "Too many attempts. Wait a while and try again.",
	httpadapter.CodeInvalidRequest:     "Enter the code.",
}

// verifyData is the Data of the verify page.
type verifyData struct {
	ID string
	// Methods are the methods the challenge accepts; Passkey is set when
	// one is a passkey (and the console has the passkey service).
	Methods              []string
	Email, TOTP, Passkey bool
	Recovery             bool
	// Ended is set when the verification cannot be completed any more.
	Ended bool
}

// verifyPage asks for the code of a sign-in that needs a second step
// (?verification_id=ver_…), or a passkey.
func (h *handler) verifyPage(w http.ResponseWriter, r *http.Request) {
	if a, ok := httpadapter.AuthFrom(r.Context()); ok && !a.Restricted {
		seeOther(w, h.prefix) // signed in already (the back button)
		return
	}
	v := h.newView(r, nil, "Verify your sign-in", "")
	q := r.URL.Query()
	id := q.Get("verification_id")
	if !session.ValidVerificationID(id) {
		h.fail(w, r, nil, &pageError{status: http.StatusBadRequest,
			msg: "This verification link is not valid: sign in again."})
		return
	}
	d := verifyData{ID: id}
	pv, err := h.o.Sessions.LookupVerification(r.Context(), id, h.ip(r), r.UserAgent())
	var ve *session.VerificationError
	switch {
	case errors.As(err, &ve):
		d.Ended = true
		v.Error = "This verification has expired or was used up: sign in again."
		v.Data = d
		h.render(w, r, http.StatusGone, "verify", v)
		return
	case err != nil:
		h.fail(w, r, nil, err)
		return
	}
	d.Methods = pv.Methods
	d.Email = slices.Contains(pv.Methods, session.MethodEmail)
	d.TOTP = slices.Contains(pv.Methods, session.MethodTOTP)
	d.Recovery = slices.Contains(pv.Methods, session.MethodRecoveryCode)
	d.Passkey = slices.Contains(pv.Methods, passkey.MethodName) && h.o.Passkeys != nil
	if code := q.Get("error"); code != "" {
		v.Error = verifyErrors[code]
		if v.Error == "" {
			v.Error = "The verification failed. Try again."
		}
		if n, err := strconv.Atoi(q.Get("attempts_left")); err == nil && n >= 0 && code == httpadapter.CodeVerificationFailed {
			v.Error += fmt.Sprintf(" %d attempt(s) left.", n)
		}
		if n, err := strconv.Atoi(q.Get("retry_after")); err == nil && n > 0 && code == httpadapter.CodeTooManyAttempts {
			v.Error = fmt.Sprintf("Too many attempts. Try again in %d seconds.", n)
		}
	}
	v.Data = d
	h.render(w, r, http.StatusOK, "verify", v)
}

// member runs f for a signed-in staff user, restricted sessions included
// (the Security view is where they enrol).
func (h *handler) member(f staffPage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := httpadapter.AuthFrom(r.Context())
		if ok && a.Restricted && a.Principal.IsStaff() {
			f(w, r, a)
			return
		}
		h.staff(f)(w, r)
	}
}

// passkeyRow is a passkey as the Security view lists it.
type passkeyRow struct {
	ID, Name          string
	Created, LastUsed time.Time
}

// securityData is the Data of the Security view.
type securityData struct {
	Status   session.SecondFactorStatus
	TOTP     bool
	Passkeys []passkeyRow
	// PasskeysOn is set when the console can register passkeys.
	PasskeysOn bool
	// Enrolment is a TOTP enrolment just started: its QR code (a data:
	// URL) and secret.
	Enrolment *enrolment
	// Confirming shows the confirmation form without the QR code (after a
	// wrong code).
	Confirming bool
	// Codes are recovery codes just made, shown once.
	Codes []string
}

// enrolment is the secret of a TOTP enrolment just started.
type enrolment struct {
	QR     string
	Secret string
	URI    string
}

// QRURL is the QR code as a data: URL, which the CSP allows for images.
func (e *enrolment) QRURL() template.URL { return template.URL("data:image/png;base64," + e.QR) }

// securityPage is the Security view: the signed-in user's second factors.
func (h *handler) securityPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.showSecurity(w, r, a, http.StatusOK, securityData{}, "")
}

// showSecurity renders the Security view with d's one-time parts (an
// enrolment, new codes) and errMsg.
func (h *handler) showSecurity(w http.ResponseWriter, r *http.Request, a session.Auth, status int, d securityData, errMsg string) {
	v := h.newView(r, &a, "Security", pathSecurity)
	if !h.o.Sessions.SecondFactorsSupported() {
		h.fail(w, r, &a, &pageError{status: http.StatusNotFound, msg: "This server keeps no second factors."})
		return
	}
	ctx := r.Context()
	st, err := h.o.Sessions.SecondFactors(ctx, a)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	d.Status, d.TOTP = st, slices.Contains(st.Methods, session.MethodTOTP)
	if h.o.Passkeys != nil {
		d.PasskeysOn = true
		list, err := h.o.Passkeys.List(ctx, a.Principal.UserID)
		if err != nil {
			h.fail(w, r, &a, err)
			return
		}
		for _, c := range list {
			d.Passkeys = append(d.Passkeys, passkeyRow{ID: passkey.CredentialID(c.ID), Name: c.Name,
				Created: c.CreatedAt, LastUsed: c.LastUsedAt})
		}
	}
	v.Data, v.Notice, v.Error = d, notice(r), errMsg
	if a.Restricted && v.Notice == "" && d.Codes == nil {
		v.Notice = notices[noticeFactorNeeded]
	}
	h.render(w, r, status, "security", v)
}

// refuseSecurity shows the Security view with the words of err: a wrong
// or refused input is the view again with an alert, anything else an
// error page.
func (h *handler) refuseSecurity(w http.ResponseWriter, r *http.Request, a session.Auth, d securityData, err error) {
	var inv *security.InvalidError
	switch {
	case errors.Is(err, session.ErrNoFactorKey):
		h.showSecurity(w, r, a, http.StatusServiceUnavailable, d, "TOTP is not available: the server has no factor key.")
	case errors.As(err, &inv), errors.Is(err, security.ErrInvalidCredentials):
		h.showSecurity(w, r, a, http.StatusBadRequest, d, proofWords(err))
	case errors.Is(err, security.ErrConflict):
		h.showSecurity(w, r, a, http.StatusConflict, d, "That conflicts with your factors as they are now: see below.")
	case errors.Is(err, security.ErrNotFound):
		h.showSecurity(w, r, a, http.StatusNotFound, d, "Not found: it may have been removed meanwhile.")
	default:
		h.fail(w, r, &a, err)
	}
}

// proofWords are the words of a refused code or password.
func proofWords(err error) string {
	var ve *session.VerificationError
	var inv *security.InvalidError
	switch {
	case errors.As(err, &ve), errors.Is(err, session.ErrVerificationFailed):
		return "The code is wrong or was used already."
	case errors.Is(err, security.ErrInvalidCredentials):
		return "The password is wrong."
	case errors.As(err, &inv) && inv.Field == "code":
		return "The code is wrong: enter the code your authenticator app shows now."
	case errors.As(err, &inv):
		return inv.Error()
	}
	return "That was refused."
}

// totpEnroll starts a TOTP enrolment and shows its QR code and secret.
func (h *handler) totpEnroll(w http.ResponseWriter, r *http.Request, a session.Auth) {
	if _, err := postForm(r); err != nil {
		h.fail(w, r, &a, err)
		return
	}
	en, err := h.o.Sessions.EnrollTOTP(r.Context(), a, h.ip(r))
	if err != nil {
		h.refuseSecurity(w, r, a, securityData{}, err)
		return
	}
	png, err := httpadapter.QRCodePNG(en.URI)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	h.showSecurity(w, r, a, http.StatusOK, securityData{Enrolment: &enrolment{
		QR: base64.StdEncoding.EncodeToString(png), Secret: en.Secret, URI: en.URI}}, "")
}

// totpConfirm confirms the pending enrolment with the form's code and
// shows the recovery codes, once.
func (h *handler) totpConfirm(w http.ResponseWriter, r *http.Request, a session.Auth) {
	f, err := postForm(r, "code")
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	code := strings.TrimSpace(f.Get("code"))
	if code == "" || len(code) > session.MaxCodeBytes {
		h.showSecurity(w, r, a, http.StatusBadRequest, securityData{Confirming: true}, "Enter the 6-digit code your app shows.")
		return
	}
	codes, err := h.o.Sessions.ConfirmTOTP(r.Context(), a, code, h.ip(r))
	if err != nil {
		h.refuseSecurity(w, r, a, securityData{Confirming: !errors.Is(err, security.ErrNotFound)}, err)
		return
	}
	h.showSecurity(w, r, a, http.StatusOK, securityData{Codes: codes}, "")
}

// proof reads the password-or-code fields of a form (allowing extra ones); when
// they are missing, both given or too long, or the form is malformed, it
// answers the refusal and ok is false.
func (h *handler) proof(w http.ResponseWriter, r *http.Request, a session.Auth, extra ...string) (p session.FactorProof, ok bool) {
	f, err := postForm(r, append([]string{"password", "code"}, extra...)...)
	if err != nil {
		h.fail(w, r, &a, err)
		return p, false
	}
	p = session.FactorProof{Password: f.Get("password"), Code: strings.TrimSpace(f.Get("code"))}
	words := ""
	switch {
	case p.Password == "" && p.Code == "":
		words = "Enter your password or a code to confirm."
	case p.Password != "" && p.Code != "":
		words = "Enter your password or a code, not both."
	case len(p.Password) > session.MaxPasswordBytes, len(p.Code) > session.MaxCodeBytes:
		words = "That password or code is too long."
	}
	if words != "" {
		h.showSecurity(w, r, a, http.StatusBadRequest, securityData{}, words)
		return p, false
	}
	return p, true
}

// totpRemove removes TOTP and the recovery codes, given the password or
// a code.
func (h *handler) totpRemove(w http.ResponseWriter, r *http.Request, a session.Auth) {
	p, ok := h.proof(w, r, a)
	if !ok {
		return
	}
	if err := h.o.Sessions.RemoveSecondFactors(r.Context(), a, p, h.ip(r)); err != nil {
		h.refuseSecurity(w, r, a, securityData{}, err)
		return
	}
	h.done(w, pathSecurity, nil, "totp_removed", 0)
}

// recoveryCodes makes new recovery codes, given the password or a code,
// and shows them once.
func (h *handler) recoveryCodes(w http.ResponseWriter, r *http.Request, a session.Auth) {
	p, ok := h.proof(w, r, a)
	if !ok {
		return
	}
	codes, err := h.o.Sessions.RegenerateRecoveryCodes(r.Context(), a, p, h.ip(r))
	if err != nil {
		h.refuseSecurity(w, r, a, securityData{}, err)
		return
	}
	h.showSecurity(w, r, a, http.StatusOK, securityData{Codes: codes}, "")
}

// passkeyRemove removes one of the user's passkeys, given the password or
// a code.
func (h *handler) passkeyRemove(w http.ResponseWriter, r *http.Request, a session.Auth) {
	f, err := postForm(r, "credential_id")
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	raw, err := passkey.ParseCredentialID(f.Get("credential_id"))
	if err != nil {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "That is not a passkey id."})
		return
	}
	p, ok := h.proof(w, r, a, "credential_id")
	if !ok {
		return
	}
	ctx := r.Context()
	if _, err := h.o.Sessions.ConfirmIdentity(ctx, a, p, h.ip(r), "remove_passkey"); err != nil {
		h.refuseSecurity(w, r, a, securityData{}, err)
		return
	}
	err = h.o.Passkeys.Remove(ctx, a, raw, passkey.Client{IP: h.ip(r), UserAgent: r.UserAgent()})
	if err != nil {
		h.refuseSecurity(w, r, a, securityData{}, err)
		return
	}
	h.done(w, pathSecurity, nil, "passkey_removed", 0)
}
