package console

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Defaults of [Options].
const (
	DefaultPrefix = "/console/"
	DefaultAPI    = "/api/security"
)

// ContentSecurityPolicy is the Content-Security-Policy of every response
// of the console: nothing from another origin, no inline script or style,
// no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Options configures [NewHandler]. Adapter and Sessions are required;
// the other services are optional, and the views they serve are left out
// without them.
type Options struct {
	// Adapter authenticates requests (the session cookie of its form
	// login), protects the console's forms (host-form CSRF tokens and the
	// cross-origin check) and runs its sign-in and sign-out. Required.
	Adapter *httpadapter.Handler
	// Sessions lists, terminates and blacklists sessions. Required: it is
	// the Manager the Adapter was built with.
	Sessions *session.Manager
	// Integrity serves the Alerts and Checks views; nil leaves them out.
	Integrity *integrity.Monitor
	// Report serves the Report view; nil leaves it out.
	Report *report.Generator
	// Passkeys lists and removes the signed-in user's passkeys on the
	// Security view, which registers them (and the verify page signs in
	// with them) through the Adapter's passkey endpoints: give the
	// Service of the Adapter's Config.Passkeys. Nil leaves passkeys out.
	Passkeys *passkey.Service
	// Prefix is the path the host mounts the console under, with a slash at
	// each end. Default "/console/". The host registers the handler for it:
	// mux.Handle(prefix, h).
	Prefix string
	// API is the path of the adapter's /api/security endpoints, which the
	// Password check view's script calls. Default "/api/security".
	API string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// the client address of audit events (see [httpadapter.ClientIP]):
	// give the Adapter's.
	TrustedProxies []netip.Prefix
	// Clock tells the time of the report's default period; nil means the
	// system clock.
	Clock security.Clock
	// Logger receives failures the console cannot show (a store error); nil
	// means slog.Default().
	Logger *slog.Logger
}

// handler serves the console; [NewHandler] builds it.
type handler struct {
	o      Options
	prefix string
	api    string
	log    *slog.Logger
	mux    http.Handler
	assets *assetSet
	pages  map[string]*template.Template
}

// NewHandler returns the console for opts, or an error naming the option
// that is missing or unusable. It starts nothing.
func NewHandler(opts Options) (http.Handler, error) {
	if opts.Adapter == nil || opts.Sessions == nil {
		return nil, errors.New("console: Options.Adapter and Options.Sessions are required")
	}
	h := &handler{o: opts, log: cmp.Or(opts.Logger, slog.Default())}
	var err error
	if h.prefix, err = normalisePrefix(cmp.Or(opts.Prefix, DefaultPrefix)); err != nil {
		return nil, err
	}
	h.api = strings.TrimSuffix(cmp.Or(opts.API, DefaultAPI), "/")
	if !cleanPath(h.api + "/") {
		return nil, fmt.Errorf("console: Options.API %q must be a path on this origin, such as /api/security", opts.API)
	}
	if h.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if h.pages, err = parseTemplates(); err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	if err := h.routes(); err != nil {
		return nil, err
	}
	return h, nil
}

// normalisePrefix gives p one slash at each end and refuses what is not a
// plain path.
func normalisePrefix(p string) (string, error) {
	p = "/" + strings.Trim(p, "/") + "/"
	if p == "//" {
		p = "/"
	}
	if !cleanPath(p) {
		return "", fmt.Errorf("console: Options.Prefix %q must be a plain path such as /console/", p)
	}
	return p, nil
}

// cleanPath reports whether p is a path of printable ASCII without
// query, fragment, percent-escapes, backslashes, mux wildcards, dot
// segments or repeated slashes.
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`?#%\{}"'<>`, c) >= 0 {
			return false
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// Paths of the console, relative to the prefix.
const (
	pathLogin      = "login"
	pathLogout     = "logout"
	pathSessions   = "sessions"
	pathTerminate  = "sessions/terminate"
	pathBlacklist  = "blacklist/add"
	pathUnblack    = "blacklist/remove"
	pathAlerts     = "alerts"
	pathChecks     = "checks"
	pathRunCheck   = "checks/run"
	pathProgress   = "checks/progress"
	pathDeployBeg  = "deployments/begin"
	pathDeployEnd  = "deployments/end"
	pathReport     = "report"
	pathReportCSV  = "report.csv"
	pathPassword   = "password"
	pathAssetsRoot = "assets/"
)

// routes mounts every console route on h.mux.
func (h *handler) routes() error {
	a := h.o.Adapter
	// A sign-in that needs a second step goes to the console's own verify
	// page, which posts its code to verify.
	login, verify, err := a.FormSignIn(h.prefix, h.prefix+pathVerify, h.prefix)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	logout, err := a.FormLogout(h.prefix + "?signed_out=1")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	m := http.NewServeMux()
	p := h.prefix
	page := func(f http.HandlerFunc) http.Handler { return a.Protect(f) }
	m.Handle("GET "+p+"{$}", page(h.home))
	m.Handle("POST "+p+pathLogin, login)
	m.Handle("POST "+p+pathLogout, logout)
	m.Handle("GET "+p+pathVerify, page(h.verifyPage))
	m.Handle("POST "+p+pathVerify, verify)
	if h.o.Sessions.SecondFactorsSupported() {
		enrol := func(f staffPage) http.Handler { return a.ProtectEnrolment(h.member(f)) }
		m.Handle("GET "+p+pathSecurity, enrol(h.securityPage))
		m.Handle("POST "+p+pathTOTPEnroll, enrol(h.totpEnroll))
		m.Handle("POST "+p+pathTOTPConfirm, enrol(h.totpConfirm))
		m.Handle("POST "+p+pathTOTPRemove, enrol(h.totpRemove))
		m.Handle("POST "+p+pathRecoveryCodes, enrol(h.recoveryCodes))
		if h.o.Passkeys != nil {
			m.Handle("POST "+p+pathPasskeyRemove, enrol(h.passkeyRemove))
		}
	}
	// Typed or bookmarked, the form addresses lead to the console.
	m.HandleFunc("GET "+p+pathLogin, func(w http.ResponseWriter, _ *http.Request) { seeOther(w, p) })
	m.HandleFunc("GET "+p+pathLogout, func(w http.ResponseWriter, _ *http.Request) { seeOther(w, p) })
	m.Handle("GET "+p+pathSessions, page(h.staff(h.sessionsPage)))
	m.Handle("GET "+p+pathTerminate, page(h.staff(h.confirmTerminate)))
	m.Handle("POST "+p+pathTerminate, page(h.staff(h.terminate)))
	m.Handle("POST "+p+pathBlacklist, page(h.staff(h.blacklistAdd)))
	m.Handle("POST "+p+pathUnblack, page(h.staff(h.blacklistRemove)))
	m.Handle("GET "+p+pathPassword, page(h.staff(h.passwordPage)))
	if h.o.Integrity != nil {
		m.Handle("GET "+p+pathAlerts, page(h.staff(h.alertsPage)))
		m.Handle("POST "+p+pathAlerts, page(h.staff(h.changeAlerts)))
		m.Handle("GET "+p+pathAlerts+"/{id}", page(h.staff(h.alertPage)))
		m.Handle("GET "+p+pathChecks, page(h.staff(h.checksPage)))
		m.Handle("POST "+p+pathRunCheck, page(h.staff(h.runCheck)))
		m.Handle("GET "+p+pathProgress, page(http.HandlerFunc(h.progress)))
		m.Handle("POST "+p+pathDeployBeg, page(h.staff(h.beginDeployment)))
		m.Handle("POST "+p+pathDeployEnd, page(h.staff(h.endDeployment)))
	}
	if h.o.Report != nil {
		m.Handle("GET "+p+pathReport, page(h.staff(h.reportPage)))
		m.Handle("GET "+p+pathReportCSV, page(h.staff(h.reportCSV)))
	}
	m.HandleFunc("GET "+p+pathAssetsRoot+"{name}", h.asset)
	m.Handle(p, page(h.notFound))
	h.mux = httpadapter.WithForbiddenPage(m, http.HandlerFunc(h.refused))
	return nil
}

// refused answers a form that the adapter's checks refused (an expired or
// forged CSRF token, another site's request) as a console page.
func (h *handler) refused(w http.ResponseWriter, r *http.Request) {
	msg := "This request was refused."
	switch httpadapter.RefusalCode(r) {
	case httpadapter.CodeCSRFInvalid:
		msg = "This form has expired, or it was not sent from this console. Reload the page and try again."
	case httpadapter.CodeCrossOrigin:
		msg = "This request came from another site and was refused."
	case httpadapter.CodeSecondFactorRequired:
		msg = "Set up a second factor before using the console."
	}
	var a *session.Auth
	if got, ok := httpadapter.AuthFrom(r.Context()); ok {
		a = &got
	}
	h.fail(w, r, a, &pageError{status: http.StatusForbidden, msg: msg})
}

// ServeHTTP serves the console with its security headers on every answer.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	if !strings.HasPrefix(r.URL.Path, h.prefix) {
		// Mounted elsewhere than its prefix: nothing here is ours.
		h.notFound(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// url is a console path with an optional query.
func (h *handler) url(rel string, q url.Values) string {
	if len(q) == 0 {
		return h.prefix + rel
	}
	return h.prefix + rel + "?" + q.Encode()
}

// seeOther answers 303 to a console URL.
func seeOther(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

// staffPage is a view's handler, given the signed-in staff user.
type staffPage func(w http.ResponseWriter, r *http.Request, a session.Auth)

// staff runs f for a signed-in staff user. Without a session a GET goes
// to the sign-in form (with next), any other method is refused; a
// customer sees that a staff account is required.
func (h *handler) staff(f staffPage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := httpadapter.AuthFrom(r.Context())
		switch {
		case !ok && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			seeOther(w, h.url("", url.Values{"next": {r.URL.RequestURI()}}))
		case !ok:
			h.fail(w, r, nil, &pageError{status: http.StatusUnauthorized, msg: "Sign in first."})
		case !a.Principal.IsStaff():
			h.render(w, r, http.StatusForbidden, "customer", h.newView(r, &a, "Staff account required", ""))
		case a.Restricted && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			// A staff user who must enrol a second factor may do only that.
			seeOther(w, h.url(pathSecurity, url.Values{"notice": {noticeFactorNeeded}}))
		case a.Restricted:
			h.fail(w, r, &a, &pageError{status: http.StatusForbidden, msg: notices[noticeFactorNeeded]})
		default:
			f(w, r, a)
		}
	}
}

// home serves the prefix: the sign-in form when signed out, else the
// first view the user may open.
func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	a, ok := httpadapter.AuthFrom(r.Context())
	if !ok {
		h.signInPage(w, r)
		return
	}
	if !a.Principal.IsStaff() {
		h.render(w, r, http.StatusOK, "customer", h.newView(r, &a, "Staff account required", ""))
		return
	}
	if a.Restricted {
		seeOther(w, h.url(pathSecurity, url.Values{"notice": {noticeFactorNeeded}}))
		return
	}
	v := h.newView(r, &a, "Console", "")
	if len(v.Nav) == 0 {
		h.render(w, r, http.StatusOK, "empty", v)
		return
	}
	seeOther(w, h.prefix+v.Nav[0].Path)
}

// ip is the client address of r.
func (h *handler) ip(r *http.Request) netip.Addr { return httpadapter.ClientIP(r, h.o.TrustedProxies) }

// actor is the caller of r as the integrity Monitor's audit events name it.
func (h *handler) actor(r *http.Request, a session.Auth) integrity.Actor {
	return integrity.Actor{UserID: a.Principal.UserID, SessionID: a.Session.ID, IP: h.ip(r).String()}
}

// pageError is a refusal the console shows as a page.
type pageError struct {
	status int
	msg    string
}

func (e *pageError) Error() string { return e.msg }

// describe maps an error of the domain packages to a status and words a
// user can read; anything unknown is a 500 logged with its cause.
func (h *handler) describe(r *http.Request, err error) (int, string) {
	var pe *pageError
	var inv *security.InvalidError
	var busy *integrity.BusyError
	var other *integrity.OtherHostError
	switch {
	case errors.As(err, &pe):
		return pe.status, pe.msg
	case errors.As(err, &inv):
		return http.StatusBadRequest, inv.Error()
	case errors.Is(err, security.ErrForbidden):
		return http.StatusForbidden, "You do not have the permission for this."
	case errors.As(err, &other):
		return http.StatusConflict, "This alert was raised on " + other.Host + "; open the console there."
	case errors.As(err, &busy), errors.Is(err, security.ErrConflict):
		return http.StatusConflict, "That conflicts with the current state: reload and try again."
	case errors.Is(err, security.ErrNotFound):
		return http.StatusNotFound, "Not found: it may have ended or been removed meanwhile."
	case errors.Is(err, security.ErrInvalid):
		return http.StatusBadRequest, "The request was not valid."
	}
	h.log.Error("console", "method", r.Method, "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "Something went wrong on the server. Try again later."
}

// fail answers err as an error page (with the navigation when a is set).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, a *session.Auth, err error) {
	status, msg := h.describe(r, err)
	v := h.newView(r, a, http.StatusText(status), "")
	v.Error = msg
	h.render(w, r, status, "error", v)
}

// notFound answers the HTML page of an unknown console path.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	var a *session.Auth
	if got, ok := httpadapter.AuthFrom(r.Context()); ok && got.Principal.IsStaff() {
		a = &got
	}
	h.fail(w, r, a, &pageError{status: http.StatusNotFound, msg: "There is no page here."})
}
