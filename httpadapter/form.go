package httpadapter

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
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
	h.formLoginTo(w, r, h.loginPage, h.afterLogin)
}

// formLoginTo is a form login whose failures go back to loginPage and whose
// success without a usable next goes to afterLogin.
func (h *Handler) formLoginTo(w http.ResponseWriter, r *http.Request, loginPage, afterLogin string) {
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
			seeOther(w, cmp.Or(next, afterLogin))
			return
		}
	}
	p := h.account(r, session.Auth{}, err)
	var retry time.Duration
	if p.code == CodeTooManyAttempts {
		retry = p.retryAfter
	}
	seeOther(w, loginURL(loginPage, p.code, next, retry))
}

// formLogout serves POST /logout with an HTML form body: the csrf_token
// field (or X-CSRF-Token header) holds a token of [CSRFToken]. It ends the
// caller's session, clears the cookie and answers 303 to
// Config.AfterLogout; without a live session there is nothing to end, and
// it does the same.
func (h *Handler) formLogout(w http.ResponseWriter, r *http.Request) {
	h.formLogoutTo(w, r, h.afterLogout)
}

// formLogoutTo is a form logout that answers 303 to afterLogout.
func (h *Handler) formLogoutTo(w http.ResponseWriter, r *http.Request, afterLogout string) {
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
		h.endSession(w, afterLogout)
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
	h.endSession(w, afterLogout)
}

// endSession clears the session cookie and answers 303 to afterLogout.
func (h *Handler) endSession(w http.ResponseWriter, afterLogout string) {
	http.SetCookie(w, h.cookie("", -1))
	seeOther(w, afterLogout)
}

// FormLogin returns a handler of a second form login, for a part of the
// host with a sign-in form of its own (such as package console's, under
// its prefix). It works as a form POST /login does (see "Form login" in
// the package doc: the origin check, the fields email, password and
// next, the session cookie), except that a refused login answers 303 to
// loginPage with ?error=, next and retry_after, and a successful one
// without a usable next answers 303 to afterLogin. Both must be paths on
// this origin, loginPage without a query or fragment. A request whose body
// is not application/x-www-form-urlencoded is refused with 415 and
// changes nothing; mount it for POST only.
func (h *Handler) FormLogin(loginPage, afterLogin string) (http.Handler, error) {
	if !localPath(loginPage) || strings.ContainsAny(loginPage, "?#") {
		return nil, fmt.Errorf("httpadapter: FormLogin: login page %q must be a path on this origin without a query", loginPage)
	}
	if !localPath(afterLogin) {
		return nil, fmt.Errorf("httpadapter: FormLogin: %q must be a path on this origin", afterLogin)
	}
	return h.formOnly(func(w http.ResponseWriter, r *http.Request) {
		h.formLoginTo(w, r, loginPage, afterLogin)
	}), nil
}

// FormLogout returns a handler of a second form logout: it works as a form
// POST /logout does (the csrf_token field holds a token of [CSRFToken]),
// except that it answers 303 to afterLogout, a path on this origin. A
// request whose body is not application/x-www-form-urlencoded is refused
// with 415 and changes nothing; mount it for POST only.
func (h *Handler) FormLogout(afterLogout string) (http.Handler, error) {
	if !localPath(afterLogout) {
		return nil, fmt.Errorf("httpadapter: FormLogout: %q must be a path on this origin", afterLogout)
	}
	return h.formOnly(func(w http.ResponseWriter, r *http.Request) {
		h.formLogoutTo(w, r, afterLogout)
	}), nil
}

// formOnly runs serve for POST requests with a form body, and refuses the
// others: 405 for another method, 415 for another body.
func (h *Handler) formOnly(serve http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method != http.MethodPost:
			h.refuse(w, r, session.Auth{}, &httpError{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed,
				message: "Method not allowed", allow: http.MethodPost})
		case !isMediaType(r.Header.Values("Content-Type"), formMediaType):
			h.refuse(w, r, session.Auth{}, &httpError{status: http.StatusUnsupportedMediaType,
				code: CodeUnsupportedMediaType, message: "Send the form as application/x-www-form-urlencoded"})
		default:
			serve(w, r)
		}
	})
}

// setSessionCookie sets the cookie of the web session res made.
func (h *Handler) setSessionCookie(w http.ResponseWriter, res session.LoginResult) {
	maxAge := int(res.Session.ExpiresAt.Sub(res.Session.CreatedAt) / time.Second)
	http.SetCookie(w, h.cookie(res.Token, max(maxAge, 1)))
}
