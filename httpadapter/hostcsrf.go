package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sync"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Where [Handler.Protect] looks for a host form's CSRF token.
const (
	// CSRFHeader is the request header that carries a CSRF token, for
	// scripts (fetch, XHR).
	CSRFHeader = "X-CSRF-Token"
	// CSRFFieldName is the form field that carries a CSRF token, in an
	// application/x-www-form-urlencoded or multipart/form-data body.
	CSRFFieldName = "csrf_token"
)

// formTokenPurpose separates the MAC of host-form tokens from that of the
// tokens of GET /api/security/csrf-token (see [security.CSRF.Derive]).
const formTokenPurpose = "httpadapter host forms"

// requestState is what the adapter's wrappers put in a request's context:
// its session, if it has one, and the form token of the page it renders.
type requestState struct {
	auth   session.Auth
	authed bool
	forms  *security.CSRF

	once  sync.Once
	token string
}

// withState returns r with st in its context.
func (h *Handler) withState(r *http.Request, st *requestState) *http.Request {
	st.forms = h.formCSRF
	return r.WithContext(context.WithValue(r.Context(), authKey{}, st))
}

// CSRFToken returns a CSRF token for the forms and scripts of the page that
// r renders: put it in a form's csrf_token field ([CSRFField] writes the
// whole input) or send it in the X-CSRF-Token header. It is bound to the
// request's session; one token is issued per request, however often it is
// asked for, and issuing writes nothing.
//
// It returns "" when r did not pass through [Handler.Protect],
// [Handler.RequireLogin] or [Handler.RequireAuth], or has no session (a
// login page): there is then no session to bind a token to.
//
// These tokens are accepted by Protect and by a form POST /logout only, not
// by the adapter's JSON endpoints, which take the tokens of GET
// /api/security/csrf-token (and those are refused here).
func CSRFToken(r *http.Request) string {
	st, ok := r.Context().Value(authKey{}).(*requestState)
	if !ok || !st.authed || st.forms == nil {
		return ""
	}
	st.once.Do(func() { st.token = st.forms.Issue(st.auth.Session.ID) })
	return st.token
}

// CSRFField returns a hidden form input holding [CSRFToken], for
// html/template: {{.CSRFField}} inside a <form method="post">. It is empty
// when CSRFToken is.
func CSRFField(r *http.Request) template.HTML {
	tok := CSRFToken(r)
	if tok == "" {
		return ""
	}
	// The token is lowercase hex: nothing in it needs escaping.
	return template.HTML(`<input type="hidden" name="` + CSRFFieldName + `" value="` + tok + `">`)
}

// Protect wraps host routes with CSRF and cross-origin protection, with
// the same settings as the adapter's own endpoints (Config.CrossOrigin,
// Config.MaxBodyBytes).
//
// Safe methods (GET, HEAD, OPTIONS, TRACE) pass; their pages can call
// [CSRFToken] and [CSRFField]. Any other method must come from this origin
// (net/http's CrossOriginProtection: Sec-Fetch-Site, then Origin against
// Host) and carry a token from CSRFToken, bound to the request's session:
// in the X-CSRF-Token header, or else in the csrf_token field of an
// application/x-www-form-urlencoded body (at most Config.MaxBodyBytes) or
// a multipart/form-data body, never in the query string. A multipart body
// is parsed as r.ParseMultipartForm does, Config.MaxBodyBytes of it in
// memory and the rest of its files in temporary files, with no cap on the
// whole: bound uploads with http.MaxBytesHandler around Protect, or send
// the token in the header (the body is then not read). A request without a
// session is refused: wrap only routes of logged-in users.
//
// A refusal is a 403 (a body over the limit: 413), answered with the JSON
// error envelope (csrf_invalid or cross_origin) to API clients and scripts,
// and with Config.ForbiddenPage or a short built-in page to browsers (a
// request that accepts text/html and has no X-Requested-With); it is
// logged and recorded like the adapter's own refusals. The wrapped handler
// can read the form it parsed from r.PostForm.
//
// Protect authenticates the request itself unless an outer
// [Handler.RequireAuth] or [Handler.RequireLogin] did, and puts its session
// in the context for [AuthFrom]; place either inside or outside it.
func (h *Handler) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, st, authErr := h.state(r)
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			next.ServeHTTP(w, r)
			return
		}
		if st.authed && st.auth.Restricted {
			h.refuse(w, r, st.auth, errSecondFactorRequired)
			return
		}
		if err := h.checkHostForm(w, r, st, authErr); err != nil {
			h.refuse(w, r, st.auth, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// state returns r with a requestState in its context, authenticating r
// unless an outer wrapper did. A request without a usable credential gets
// an unauthenticated state; the error says why.
func (h *Handler) state(r *http.Request) (*http.Request, *requestState, error) {
	if st, ok := r.Context().Value(authKey{}).(*requestState); ok && st.authed {
		return r, st, nil
	}
	st := &requestState{}
	a, err := h.authenticate(r, false)
	if err == nil {
		st.auth, st.authed = a, true
	}
	return h.withState(r, st), st, err
}

// checkHostForm runs the checks of an unsafe request to a protected host
// route: origin, session, token.
func (h *Handler) checkHostForm(w http.ResponseWriter, r *http.Request, st *requestState, authErr error) error {
	if err := h.checkOrigin(r, false); err != nil {
		return err
	}
	if !st.authed {
		if authErr != nil && !errors.Is(authErr, security.ErrUnauthenticated) {
			return authErr // the store failed: a 500, not a CSRF refusal
		}
		return security.CSRFRefusal(security.CSRFMissing, "no session")
	}
	var field []string
	if len(r.Header.Values(CSRFHeader)) == 0 {
		if err := h.parseHostForm(w, r); err != nil {
			return err
		}
		field = r.PostForm[CSRFFieldName]
	}
	token, err := pickToken(r.Header.Values(CSRFHeader), field)
	if err != nil {
		return err
	}
	return h.formCSRF.Check(r.Context(), st.auth.Session.ID, token)
}

// parseHostForm parses a form body into r.PostForm: urlencoded through
// http.MaxBytesReader (Config.MaxBodyBytes), multipart with that much in
// memory and the rest of its files in temporary files. Any other body is
// left unread.
func (h *Handler) parseHostForm(w http.ResponseWriter, r *http.Request) error {
	ct := r.Header.Values("Content-Type")
	var err error
	switch {
	case isMediaType(ct, formMediaType):
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
		err = r.ParseForm()
	case len(ct) == 1 && hasMediaType(ct[0], "multipart/form-data"):
		err = r.ParseMultipartForm(h.maxBody)
	default:
		return nil
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return h.errTooLarge()
	case err != nil:
		return security.Invalid("", "malformed form body")
	}
	return nil
}

// pickToken returns the one token of the X-CSRF-Token header values, or
// else of the csrf_token field values.
func pickToken(header, field []string) (string, error) {
	switch {
	case len(header) > 1:
		return "", fmt.Errorf("%w: more than one %s header", security.ErrCSRF, CSRFHeader)
	case len(header) == 1:
		return header[0], nil
	case len(field) > 1:
		return "", fmt.Errorf("%w: more than one %s field", security.ErrCSRF, CSRFFieldName)
	case len(field) == 1:
		return field[0], nil
	}
	return "", security.CSRFRefusal(security.CSRFMissing, "missing")
}
