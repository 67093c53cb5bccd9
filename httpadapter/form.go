package httpadapter

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// formMediaType is the body of an HTML form without files.
const formMediaType = "application/x-www-form-urlencoded"

// readForm reads an application/x-www-form-urlencoded body of at most
// Config.MaxBodyBytes: valid UTF-8, each field at most once and one of
// allowed, and no query string (a form sends its fields in the body).
func (h *Handler) readForm(w http.ResponseWriter, r *http.Request, allowed ...string) (url.Values, error) {
	if r.URL.RawQuery != "" {
		return nil, security.Invalid("", "put the form's fields in its body, not in the query string")
	}
	body, err := h.readLimited(w, r)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(body) {
		return nil, security.Invalid("", "form body is not valid UTF-8")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, security.Invalid("", "malformed form body")
	}
	for k, v := range vals {
		if !slices.Contains(allowed, k) {
			return nil, security.Invalid(quoteName(k), "unknown field")
		}
		if len(v) > 1 {
			return nil, security.Invalid(quoteName(k), "must be given at most once")
		}
	}
	return vals, nil
}

// formLogin serves POST /login with an HTML form body: fields email,
// password and optional next (and csrf_token, ignored: a login form has no
// session to bind one to, so its defence is the origin check). Success
// answers 303 to next when it is a path on this origin ([localPath]), else
// to Config.AfterLogin; failure answers 303 to Config.LoginPage with
// ?error=<code>, next kept, and retry_after when throttled.
func (h *Handler) formLogin(w http.ResponseWriter, r *http.Request) {
	// Login CSRF: a cross-site page must not log the browser into the
	// attacker's account. Browsers send Sec-Fetch-Site or Origin with a
	// form POST; CrossOriginProtection refuses it when cross-origin.
	if err := h.checkOrigin(r, false); err != nil {
		h.refuse(w, r, session.Auth{}, err)
		return
	}
	vals, err := h.readForm(w, r, "email", "password", "next", CSRFFieldName)
	next := ""
	if vals != nil && localPath(vals.Get("next")) {
		next = vals.Get("next")
	}
	if err == nil {
		var res session.LoginResult
		res, err = h.sessions.Login(r.Context(), session.LoginRequest{Email: vals.Get("email"),
			Password: vals.Get("password"), Kind: session.KindWeb, IP: ClientIP(r, h.trusted), UserAgent: r.UserAgent()})
		if err == nil && res.Verification != nil {
			// Only the verification id travels to the host's page.
			seeOther(w, h.verifyURL(res.Verification.ID, ""))
			return
		}
		if err == nil {
			h.setSessionCookie(w, res)
			seeOther(w, cmp.Or(next, h.afterLogin))
			return
		}
	}
	p := h.account(r, session.Auth{}, err)
	var retry time.Duration
	if p.code == CodeTooManyAttempts {
		retry = p.retryAfter
	}
	seeOther(w, h.loginURL(p.code, next, retry))
}

// formLogout serves POST /logout with an HTML form body: the csrf_token
// field (or X-CSRF-Token header) holds a token of [CSRFToken]. It ends the
// caller's session, clears the cookie and answers 303 to
// Config.AfterLogout; without a live session there is nothing to end, and
// it does the same.
func (h *Handler) formLogout(w http.ResponseWriter, r *http.Request) {
	if err := h.checkOrigin(r, false); err != nil {
		h.refuse(w, r, session.Auth{}, err)
		return
	}
	vals, err := h.readForm(w, r, CSRFFieldName)
	if err != nil {
		h.refuse(w, r, session.Auth{}, err)
		return
	}
	a, err := h.authenticate(r, false)
	switch {
	case errors.Is(err, security.ErrUnauthenticated):
		h.endSession(w)
		return
	case err != nil:
		h.refuse(w, r, session.Auth{}, err)
		return
	}
	token, err := pickToken(r.Header.Values(CSRFHeader), vals[CSRFFieldName])
	if err == nil {
		err = h.formCSRF.Check(r.Context(), a.Session.ID, token)
	}
	if err == nil {
		err = h.sessions.Logout(r.Context(), a, ClientIP(r, h.trusted))
		if errors.Is(err, security.ErrNotFound) || errors.Is(err, security.ErrUnauthenticated) {
			err = nil // ended meanwhile
		}
	}
	if err != nil {
		h.refuse(w, r, a, err)
		return
	}
	h.endSession(w)
}

// endSession clears the session cookie and answers 303 to
// Config.AfterLogout.
func (h *Handler) endSession(w http.ResponseWriter) {
	http.SetCookie(w, h.cookie("", -1))
	seeOther(w, h.afterLogout)
}

// setSessionCookie sets the cookie of the web session res made.
func (h *Handler) setSessionCookie(w http.ResponseWriter, res session.LoginResult) {
	maxAge := int(res.Session.ExpiresAt.Sub(res.Session.CreatedAt) / time.Second)
	http.SetCookie(w, h.cookie(res.Token, max(maxAge, 1)))
}
