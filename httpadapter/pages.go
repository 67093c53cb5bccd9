package httpadapter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Defaults of the page settings of [Config].
const (
	DefaultLoginPage  = "/login"
	DefaultAfterLogin = "/"
)

// maxLocalPath bounds a next path, in bytes.
const maxLocalPath = 2048

// configurePages validates and fills the page settings of cfg, and derives
// the CSRF of host forms from cfg.CSRF.
func (h *Handler) configurePages(cfg Config) error {
	h.loginPage = cmp.Or(cfg.LoginPage, DefaultLoginPage)
	h.afterLogin = cmp.Or(cfg.AfterLogin, DefaultAfterLogin)
	h.afterLogout = cmp.Or(cfg.AfterLogout, h.loginPage)
	h.verifyPage = cmp.Or(cfg.VerifyPage, DefaultVerifyPage)
	for _, p := range []struct{ name, value string }{
		{"LoginPage", h.loginPage}, {"AfterLogin", h.afterLogin}, {"AfterLogout", h.afterLogout},
		{"VerifyPage", h.verifyPage}} {
		if !localPath(p.value) {
			return fmt.Errorf("httpadapter: Config.%s %q must be a path on this origin, such as /login", p.name, p.value)
		}
	}
	if strings.ContainsAny(h.loginPage, "?#") {
		return fmt.Errorf("httpadapter: Config.LoginPage %q must have no query or fragment", h.loginPage)
	}
	if strings.ContainsAny(h.verifyPage, "?#") {
		return fmt.Errorf("httpadapter: Config.VerifyPage %q must have no query or fragment", h.verifyPage)
	}
	var err error
	if h.formCSRF, err = cfg.CSRF.Derive(formTokenPurpose, !cfg.SingleUseFormTokens); err != nil {
		return fmt.Errorf("httpadapter: Config.SingleUseFormTokens: %w", err)
	}
	h.forbiddenPage = cfg.ForbiddenPage
	return nil
}

// localPath reports whether s is an absolute path on this origin (with an
// optional query and fragment) that is safe to redirect to: printable ASCII
// without backslashes, at most maxLocalPath bytes, starting with one slash,
// and still so once percent-decoded, with no "." or ".." segment. It refuses everything a browser could
// read as another origin: "//host", "/\host", "https://host", "javascript:",
// "/%2F%2Fhost" and "/%5Chost" (which a server that decodes the path and
// redirects again would turn into one).
func localPath(s string) bool {
	if len(s) == 0 || len(s) > maxLocalPath || s[0] != '/' || (len(s) > 1 && s[1] == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Opaque != "" || u.User != nil || u.Host != "" {
		return false
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	// Dot segments could resolve to "//host" ("/.//host").
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// RequireLogin wraps a host page: a browser (a request that accepts
// text/html and has no X-Requested-With) without a live session is sent
// with 303 to Config.LoginPage, with ?next= naming the page when the
// method is GET or HEAD, so that a form login can bring it back; any other
// client gets the JSON 401 of [Handler.RequireAuth]. With a session, next
// runs with it in the context, for [AuthFrom], [CSRFToken] and
// [CSRFField].
//
// Like RequireAuth it checks no CSRF token: wrap the page's state-changing
// methods in [Handler.Protect] too.
func (h *Handler) RequireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		withAuth, err := h.requireSession(r)
		if err == nil {
			next.ServeHTTP(w, withAuth)
			return
		}
		if !wantsHTML(r) || !errors.Is(err, security.ErrUnauthenticated) {
			h.fail(w, r, err)
			return
		}
		var back string
		if u := r.URL.RequestURI(); (r.Method == http.MethodGet || r.Method == http.MethodHead) && localPath(u) {
			back = u
		}
		seeOther(w, loginURL(h.loginPage, "", back, 0))
	})
}

// loginURL is the login page with the query a page can show: error (one
// of the Code constants), next, and retry_after (whole seconds).
func loginURL(loginPage, code, next string, retryAfter time.Duration) string {
	v := url.Values{}
	if code != "" {
		v.Set("error", code)
	}
	if next != "" {
		v.Set("next", next)
	}
	if retryAfter > 0 {
		v.Set("retry_after", retryAfterSeconds(retryAfter))
	}
	if len(v) == 0 {
		return loginPage
	}
	return loginPage + "?" + v.Encode()
}

// seeOther answers 303 See Other to location, which must be a localPath
// or built from one.
func seeOther(w http.ResponseWriter, location string) {
	hdr := w.Header()
	hdr.Set("Location", location)
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

// wantsHTML reports whether r comes from a browser navigating or posting a
// form: it accepts text/html (or application/xhtml+xml) with a non-zero
// quality, and has no X-Requested-With header (which scripts add). fetch()
// sends Accept: */* by default, which is not a browser page here.
func wantsHTML(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || (mt != "text/html" && mt != "application/xhtml+xml") {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// refuse answers a refused request to a host route or form endpoint: the
// JSON error to API clients and scripts, a page to browsers (see
// Config.ForbiddenPage). Either way it is logged and recorded like
// [Handler.fail].
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, auth session.Auth, err error) {
	if !wantsHTML(r) {
		h.failAs(w, r, auth, err)
		return
	}
	p := h.account(r, auth, err)
	if p.status == http.StatusForbidden {
		page := h.forbiddenPage
		if pg, ok := r.Context().Value(forbiddenPageKey{}).(http.Handler); ok {
			page = pg
		}
		if page != nil {
			page.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), refusalCodeKey{}, p.code)))
			return
		}
	}
	writePage(w, p)
}

type (
	forbiddenPageKey struct{}
	refusalCodeKey   struct{}
)

// WithForbiddenPage returns next with page answering, in place of
// Config.ForbiddenPage, the browsers whose requests inside next the
// adapter's host-route checks refuse with 403 ([Handler.Protect],
// [Handler.FormLogin], [Handler.FormLogout] and the other form
// endpoints): for a UI with a look of its own mounted on the host, such as
// package console. page should answer 403; [RefusalCode] tells it why.
// The refusal is logged and recorded as usual, and API clients still get
// the JSON error.
func WithForbiddenPage(next, page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forbiddenPageKey{}, page)))
	})
}

// RefusalCode is the error code ([CodeCSRFInvalid], [CodeCrossOrigin],
// [CodeSecondFactorRequired], …) of the refusal that a forbidden page
// (Config.ForbiddenPage or [WithForbiddenPage]) is answering, or "" for
// any other request.
func RefusalCode(r *http.Request) string {
	code, _ := r.Context().Value(refusalCodeKey{}).(string)
	return code
}

var refusalPage = template.Must(template.New("refused").Parse(`<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>{{.Status}} {{.Title}}</title>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p>Go back, reload the page and try again.</p>
</html>
`))

// writePage answers p as a short HTML page.
func writePage(w http.ResponseWriter, p problem) {
	msg := p.message
	switch p.code {
	case CodeCSRFInvalid:
		msg = "This form has expired, or it was not sent from this site."
	case CodeCrossOrigin:
		msg = "This request came from another site and was refused."
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.status)
	refusalPage.Execute(w, struct {
		Status         int
		Title, Message string
	}{p.status, http.StatusText(p.status), msg})
}

// WriteSuccess writes the adapter's success envelope, {"success": true,
// "data": data, "message": message}, with status (0 means 200) and the
// headers of every adapter response (application/json, Cache-Control:
// no-store, nosniff). A nil data or empty message is left out. data must
// marshal with encoding/json; if it does not, a 500 error envelope is
// written instead.
func WriteSuccess(w http.ResponseWriter, status int, data any, message string) {
	writeJSON(w, cmp.Or(status, http.StatusOK), envelope{Success: true, Data: data, Message: message})
}

// WriteError writes the adapter's error envelope, {"success": false,
// "message": message, "error": code}, with status and the same headers as
// [WriteSuccess], for a refusal a host handler decides itself. code is a
// machine-readable snake_case word: one of the Code constants where one
// fits. message is shown to the client: put nothing internal in it. To
// answer an error of the domain packages, use [Handler.Fail].
func WriteError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, envelope{Success: false, Message: message, Error: code})
}

// Fail answers err as the adapter's own endpoints do: the errors of
// package security by their status and code ([security.ErrNotFound] 404,
// [security.ErrInvalid] 400 with its reason, [security.ErrForbidden] 403,
// [security.ErrThrottled] 429 with Retry-After, …), anything else as a 500
// that says only "internal error" while err goes to Config.Logger. Refused
// authorizations and CSRF checks are recorded as audit events
// (Config.Events), with the caller of r's context ([AuthFrom]) as actor.
func (h *Handler) Fail(w http.ResponseWriter, r *http.Request, err error) {
	a, _ := AuthFrom(r.Context())
	h.failAs(w, r, a, err)
}
