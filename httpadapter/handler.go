package httpadapter

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/mobileauth"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Config configures [New]. Zero fields take the documented defaults.
type Config struct {
	// Sessions runs logins, sessions and the blacklist. Required.
	Sessions *session.Manager
	// Mobile issues and revokes bearer tokens; nil means
	// mobileauth.New(Sessions).
	Mobile *mobileauth.Service
	// CSRF issues and checks CSRF tokens. Required.
	CSRF *security.CSRF
	// Integrity serves the file-integrity endpoints (alerts, on-demand
	// checks, progress, diffs). nil leaves them out: their paths then get
	// the JSON 404 of any unknown path. The Handler only calls it; the host
	// runs Init, Run and Close.
	Integrity *integrity.Monitor
	// Breach answers GET /api/security/password-breach-check. nil leaves
	// the route out (it then gets the JSON 404 of an unknown path). Build
	// it fail-closed (the default): the endpoint must say "could not
	// check" (503), never "not breached", when the source fails.
	Breach *breach.Checker
	// Report answers GET /api/admin/security-report. nil leaves the route
	// out (it then gets the JSON 404 of an unknown path).
	Report *report.Generator
	// Events, when set, receives an audit event for every refused
	// authorization (401, 403: [EventAuthorizationRefused]) and CSRF or
	// cross-origin failure ([EventCSRFFailed]), through a bounded queue
	// that [Handler.Run] drains (see [Handler.RefusalStats]). Login
	// failures are not repeated here: package session records them. nil
	// records none.
	Events security.EventRecorder
	// Observer, if set, is told of authenticated requests and their
	// latency, CSRF and cross-origin refusals by reason, requests failed by
	// a store or dependency, and the refusal audit events written and
	// dropped (see [security.Kind]). Give the same one to package session
	// to measure logins. nil measures nothing.
	Observer security.Observer
	// RefusalQueue bounds the refusal events waiting for [Handler.Run];
	// past it they are dropped and counted. Default 1024.
	RefusalQueue int
	// Clock tells the time of refusal events and of the report's default
	// period; nil means the system clock.
	Clock security.Clock
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// is believed (see [ClientIP]). Empty: the connection's address is the
	// client's, and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// Logger receives refused and failed requests (method, path, status,
	// error; never credentials, bodies or headers). nil means
	// slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body. Default 1 MiB.
	MaxBodyBytes int64
	// CookieName names the session cookie set by POST /login. Default
	// "__Host-propsec_session", or "propsec_session" with InsecureCookies
	// (browsers accept a "__Host-" cookie only with the Secure flag).
	CookieName string
	// InsecureCookies drops the Secure flag from the session cookie, so that
	// it travels over plain HTTP. Only for development on localhost without
	// TLS: anyone on the network path can then steal sessions.
	InsecureCookies bool
	// CrossOrigin refuses cross-origin browser requests on every
	// state-changing route. nil means http.NewCrossOriginProtection(); set
	// one to trust another origin (AddTrustedOrigin). The same instance
	// guards host routes wrapped in [Handler.Protect] and form logins.
	CrossOrigin *http.CrossOriginProtection

	// LoginPage is the host's login page, a path on this origin: a browser
	// sent away by [Handler.RequireLogin] goes there with ?next=, and a
	// refused form login comes back to it with ?error= (see "Form login"
	// in the package doc). Default "/login".
	LoginPage string
	// AfterLogin is where a successful form login goes when it names no
	// usable next. Default "/".
	AfterLogin string
	// AfterLogout is where a form logout goes. Default: LoginPage.
	AfterLogout string
	// VerifyPage is the host's page where a user types the code of a form
	// login that needs verification (session.Config.NewIP verify, or a
	// second factor): the form login answers 303 to it with
	// ?verification_id=ver_… (and nothing else), and the page posts a form
	// with verification_id and code to POST /api/security/verify-login,
	// which answers 303 to AfterLogin, or back here with &error=. A path
	// on this origin. Default "/login/verify".
	VerifyPage string
	// SingleUseFormTokens makes the tokens of [CSRFToken] and [CSRFField]
	// single-use. By default they are reusable for the session until they
	// expire (12 hours), so that a form reached with the back button or
	// submitted from a second tab still works; see "Protecting your own
	// routes" in the package doc. Single-use needs CSRF to have a
	// NonceStore.
	SingleUseFormTokens bool
	// ForbiddenPage, when set, answers browsers (requests that accept
	// text/html) refused with 403 by [Handler.Protect] or by a form
	// login's or logout's origin or CSRF check; it should answer 403. nil
	// means a short built-in page. API clients always get the JSON error.
	ForbiddenPage http.Handler
}

// DefaultMaxBodyBytes is the default of [Config.MaxBodyBytes].
const DefaultMaxBodyBytes = 1 << 20

// Default session cookie names; see [Config.CookieName].
const (
	DefaultCookieName         = "__Host-propsec_session"
	DefaultInsecureCookieName = "propsec_session"
)

// Handler serves the documented security endpoints. Mount it with
// [Handler.Register] on the host's mux, or use it as an http.Handler. It is
// safe for concurrent use.
type Handler struct {
	sessions     *session.Manager
	mobile       *mobileauth.Service
	csrf         *security.CSRF
	integrity    *integrity.Monitor
	breach       *breach.Checker
	report       *report.Generator
	clock        security.Clock
	refusals     *refusalQueue
	obs          security.Observer
	trusted      []netip.Prefix
	log          *slog.Logger
	maxBody      int64
	cookieName   string
	secureCookie bool
	crossOrigin  *http.CrossOriginProtection
	mux          *http.ServeMux

	formCSRF      *security.CSRF
	loginPage     string
	afterLogin    string
	afterLogout   string
	verifyPage    string
	forbiddenPage http.Handler
}

// New returns a Handler for cfg, or an error when a required field is
// missing or a setting is unusable.
func New(cfg Config) (*Handler, error) {
	if cfg.Sessions == nil || cfg.CSRF == nil {
		return nil, errors.New("httpadapter: Config.Sessions and Config.CSRF are required")
	}
	h := &Handler{sessions: cfg.Sessions, mobile: cfg.Mobile, csrf: cfg.CSRF, integrity: cfg.Integrity, breach: cfg.Breach,
		report: cfg.Report, clock: cfg.Clock, obs: cfg.Observer,
		log: cfg.Logger, maxBody: cfg.MaxBodyBytes, cookieName: cfg.CookieName,
		secureCookie: !cfg.InsecureCookies, crossOrigin: cfg.CrossOrigin}
	if h.mobile == nil {
		h.mobile = mobileauth.New(cfg.Sessions)
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	switch {
	case h.maxBody < 0:
		return nil, errors.New("httpadapter: Config.MaxBodyBytes must not be negative")
	case h.maxBody == 0:
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.cookieName == "" {
		h.cookieName = DefaultCookieName
		if cfg.InsecureCookies {
			h.cookieName = DefaultInsecureCookieName
		}
	}
	if err := (&http.Cookie{Name: h.cookieName, Value: "x"}).Valid(); err != nil {
		return nil, fmt.Errorf("httpadapter: Config.CookieName: %w", err)
	}
	lower := strings.ToLower(h.cookieName)
	if cfg.InsecureCookies && (strings.HasPrefix(lower, "__host-") || strings.HasPrefix(lower, "__secure-")) {
		return nil, fmt.Errorf("httpadapter: cookie %q needs the Secure flag, which InsecureCookies drops", h.cookieName)
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("httpadapter: invalid trusted proxy prefix %v", p)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		h.trusted = append(h.trusted, p.Masked())
	}
	if h.crossOrigin == nil {
		h.crossOrigin = http.NewCrossOriginProtection()
	}
	if err := h.configurePages(cfg); err != nil {
		return nil, err
	}
	if cfg.Events != nil {
		if cfg.RefusalQueue < 0 {
			return nil, errors.New("httpadapter: Config.RefusalQueue must not be negative")
		}
		h.refusals = newRefusalQueue(cfg.Events, cfg.RefusalQueue)
		h.refusals.obs = cfg.Observer
	}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	h.mux.Handle("/", http.HandlerFunc(h.notFound))
	return h, nil
}

// Register mounts every endpoint on mux:
//
//	GET         /api/security/csrf-token
//	GET, POST   /api/security/sessions
//	POST, DELETE /api/security/mobile-auth
//	POST        /login
//	GET, POST   /logout
//	GET         /api/security/openapi.json
//
// with Config.Integrity set, also
//
//	GET         /api/security/file-integrity-alerts
//	POST        /api/security/resolve-alert
//	POST        /api/security/bulk-resolve-alerts
//	POST        /api/security/bulk-delete-alerts
//	POST        /api/security/run-integrity-check
//	GET         /api/security/file-integrity-progress
//	GET         /api/security/file-diff
//	POST        /api/security/ignore-alert
//	POST        /api/security/bulk-ignore-alerts
//	GET, POST   /api/security/deployments
//
// with Config.Breach set, GET /api/security/password-breach-check; with
// Config.Report set, GET /api/admin/security-report; when the session store
// can change passwords ([session.Manager.CanChangePasswords]),
// POST /api/security/password; when it keeps second factors
// ([session.Manager.SecondFactorsSupported]), POST
// /api/security/verify-login and GET, POST /api/security/mfa; and a JSON 404 for every other path under /api/security/ and /api/admin/.
// A wrong method on one of these paths gets a JSON 405 with an Allow header;
// HEAD is served as GET without a body (not on /logout). Wrap the mux in
// [Handler.CanonicalPaths] so that unclean paths there get the JSON 404
// too rather than the mux's redirect.
// A host may still register a more specific pattern, such as "GET /login"
// for its login page; the mux prefers it.
func (h *Handler) Register(mux *http.ServeMux) {
	for path, methods := range h.routes() {
		mux.Handle(path, h.route(methods))
	}
	mux.Handle("/api/security/", http.HandlerFunc(h.notFound))
	mux.Handle("/api/admin/", http.HandlerFunc(h.notFound))
}

// ServeHTTP serves the same routes as [Handler.Register] mounts, and a JSON
// 404 for every other path, including every path http.ServeMux would
// redirect (see [Handler.CanonicalPaths]).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if muxRedirects(r, true) {
		h.notFound(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// CanonicalPaths wraps the host's handler, usually the mux given to
// [Handler.Register], so that the requests http.ServeMux would answer with
// a redirect and an HTML body, before any handler of the adapter runs, get
// the adapter's JSON 404 instead: a path under /api/security/ or
// /api/admin/, as sent or once cleaned, that is not in canonical form
// (with "." or ".." elements or repeated slashes, such as
// /api/security/../admin/security-report), and /api/security and
// /api/admin without their slash. Every other request goes to next
// unchanged.
//
//	srv := &http.Server{Handler: h.CanonicalPaths(mux)}
func (h *Handler) CanonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if muxRedirects(r, false) {
			h.notFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiPrefixes are the path prefixes the adapter answers for entirely.
var apiPrefixes = []string{"/api/security", "/api/admin"}

// muxRedirects reports whether http.ServeMux, holding the adapter's
// routes, would redirect r: a bare prefix to the prefix with its slash, or
// a path not in canonical form to its cleaned form; the latter only for
// the adapter's prefixes unless anyPath.
func muxRedirects(r *http.Request, anyPath bool) bool {
	if r.Method == http.MethodConnect || r.RequestURI == "*" {
		return false // the mux cleans neither
	}
	raw := r.URL.EscapedPath()
	clean := cleanPath(raw)
	under := false
	for _, p := range apiPrefixes {
		if clean == p {
			return true
		}
		under = under || strings.HasPrefix(raw, p+"/") || strings.HasPrefix(clean, p+"/")
	}
	return clean != raw && (anyPath || under)
}

// cleanPath is http.ServeMux's canonical form of p: path.Clean, keeping a
// trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(bodyless(w, r), r, &httpError{status: http.StatusNotFound, code: CodeNotFound, message: "Not found"})
}

// headWriter answers a HEAD request: the headers of the GET, no body.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bodyless returns w, or for a HEAD request a writer that drops the body
// (net/http's server drops it too, but a host's middleware or recorder
// may not).
func bodyless(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if r.Method == http.MethodHead {
		return headWriter{w}
	}
	return w
}

// authMode says which credentials an endpoint needs.
type authMode int

const (
	authNone   authMode = iota // unauthenticated endpoint
	authAny                    // bearer token or session cookie
	authBearer                 // bearer token only
)

// endpoint is one method of one route. Every request goes through the same
// checks, in this order: method (405), origin (403), authentication (401),
// staff (403), media type (415), body size (413), query and body decoding
// and validation (400), CSRF (403); then the domain call.
type endpoint struct {
	auth  authMode
	staff bool // staff-only route
	// restricted: a restricted session (session.Auth.Restricted) may use
	// it; every other route refuses one with 403 second_factor_required.
	restricted bool
	body       bool // takes a JSON object body
	csrf       bool // needs a CSRF token
	// checkOrigin marks a safe method that changes state (GET /logout):
	// it is refused unless the request shows it is same-origin (see
	// [Handler.checkOrigin]), and HEAD is not served as it.
	checkOrigin bool
	// query: prepare validates the query string itself; otherwise any query
	// parameter is refused.
	query bool
	// prepare decodes and validates the request (errors are 400s) and
	// returns the domain call, which runs only after the CSRF check.
	prepare func(c *call) (run func() (reply, error), err error)
	// form, when set, serves the request instead when its body is an
	// HTML form (application/x-www-form-urlencoded): see form.go.
	form http.HandlerFunc
}

// call is one request passing through an endpoint.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	ep   endpoint
	auth session.Auth
	ip   netip.Addr
	body object
	// csrfToken is the body's csrf_token member, if sent.
	csrfToken  string
	csrfInBody bool
}

// bind decodes the body into fields, and the csrf_token member too when the
// endpoint needs a CSRF token.
func (c *call) bind(fields ...field) error {
	if c.ep.csrf {
		_, c.csrfInBody = c.body.values["csrf_token"]
		fields = append(fields, stringField("csrf_token", &c.csrfToken, false))
	}
	return c.body.bind(fields...)
}

// route dispatches a path's methods. HEAD is served as GET without the
// body, unless that GET changes state (GET /logout).
func (h *Handler) route(methods map[string]endpoint) http.Handler {
	if get, ok := methods[http.MethodGet]; ok && !get.checkOrigin {
		methods = maps.Clone(methods)
		methods[http.MethodHead] = get
	}
	allowHeader := strings.Join(slices.Sorted(maps.Keys(methods)), ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = bodyless(w, r)
		ep, ok := methods[r.Method]
		if !ok {
			h.fail(w, r, &httpError{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed,
				message: "Method not allowed", allow: allowHeader})
			return
		}
		if ep.form != nil && isMediaType(r.Header.Values("Content-Type"), formMediaType) {
			ep.form(w, r)
			return
		}
		c := &call{w: w, r: r, ep: ep, ip: ClientIP(r, h.trusted)}
		var start time.Time
		if h.obs != nil {
			start = time.Now()
		}
		rep, err := h.serve(c)
		if err != nil {
			h.failAs(w, r, c.auth, err)
		} else {
			writeReply(w, rep)
		}
		h.observeRequest(c, err, start)
	})
}

var errCrossOrigin = &httpError{status: http.StatusForbidden, code: CodeCrossOrigin,
	message: "Cross-origin request refused"}

// errLogoutOrigin refuses a GET /logout that may come from another site.
var errLogoutOrigin = &httpError{status: http.StatusForbidden, code: CodeCrossOrigin,
	message: "GET /logout needs a same-origin request; log out with POST /logout and a CSRF token"}

// serve runs the checks of c.ep in order, then its domain call.
func (h *Handler) serve(c *call) (reply, error) {
	r := c.r
	if err := h.checkOrigin(r, c.ep.checkOrigin); err != nil {
		return reply{}, err
	}
	if c.ep.auth != authNone {
		a, err := h.authenticate(r, c.ep.auth == authBearer)
		if err != nil {
			return reply{}, err
		}
		c.auth = a
		if a.Restricted && !c.ep.restricted {
			return reply{}, errSecondFactorRequired
		}
	}
	if c.ep.staff && !c.auth.Principal.IsStaff() {
		return reply{}, &publicError{err: security.ErrForbidden, message: "Staff account required"}
	}
	if c.ep.body {
		body, err := h.readBody(c.w, r)
		if err != nil {
			return reply{}, err
		}
		if c.body, err = parseObject(body); err != nil {
			return reply{}, err
		}
	}
	if !c.ep.query && r.URL.RawQuery != "" {
		return reply{}, security.Invalid("", "this endpoint takes no query parameters")
	}
	run, err := c.ep.prepare(c)
	if err != nil {
		return reply{}, err
	}
	if c.ep.csrf {
		if err := h.checkCSRF(c); err != nil {
			return reply{}, err
		}
	}
	return run()
}

// checkOrigin refuses cross-origin browser requests with an unsafe method,
// by net/http's CrossOriginProtection.
//
// With stateChangingGet (GET /logout) it asks CrossOriginProtection about
// the request as if it were a POST, and also refuses a request that
// carries neither Sec-Fetch-Site nor Origin, which CrossOriginProtection
// lets through: an older browser's top-level navigation from another
// site sends neither (a GET navigation has no Origin), yet carries the
// session cookie. A request with an Authorization header is not refused
// for that: only that header is then looked at for a credential, and a
// browser never attaches it to a cross-site request by itself.
func (h *Handler) checkOrigin(r *http.Request, stateChangingGet bool) error {
	if !stateChangingGet {
		if err := h.crossOrigin.Check(r); err != nil {
			return errCrossOrigin
		}
		return nil
	}
	post := r.Clone(r.Context())
	post.Method = http.MethodPost
	if err := h.crossOrigin.Check(post); err != nil {
		return errLogoutOrigin
	}
	hdr := r.Header
	if hdr.Get("Sec-Fetch-Site") == "" && hdr.Get("Origin") == "" && len(hdr.Values("Authorization")) == 0 {
		return errLogoutOrigin
	}
	return nil
}

// readBody checks the media type, then reads the body through
// http.MaxBytesReader, before anything parses it.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if !jsonMediaType(r.Header.Values("Content-Type")) {
		return nil, &httpError{status: http.StatusUnsupportedMediaType, code: CodeUnsupportedMediaType,
			message: "Content-Type must be application/json"}
	}
	return h.readLimited(w, r)
}

// readLimited reads the body through http.MaxBytesReader: at most
// Config.MaxBodyBytes, else a 413.
func (h *Handler) readLimited(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	// MaxBytesReader stops after MaxBodyBytes+1 bytes whatever the
	// Content-Length says, and has the server close the connection.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, h.errTooLarge()
	}
	if err != nil {
		return nil, security.Invalid("", "could not read the request body")
	}
	return body, nil
}

// errTooLarge is the 413 of a body over Config.MaxBodyBytes.
func (h *Handler) errTooLarge() error {
	return &httpError{status: http.StatusRequestEntityTooLarge, code: CodeBodyTooLarge,
		message: fmt.Sprintf("Request body must be at most %d bytes", h.maxBody)}
}

// jsonMediaType reports whether the Content-Type values are exactly one
// application/json, with no parameter but an optional charset=utf-8.
func jsonMediaType(values []string) bool {
	return isMediaType(values, "application/json")
}

// hasMediaType reports whether the Content-Type value v names the media
// type want, whatever its parameters.
func hasMediaType(v, want string) bool {
	mt, _, err := mime.ParseMediaType(v)
	return err == nil && mt == want
}

// isMediaType reports whether the Content-Type values are exactly one
// want, with no parameter but an optional charset=utf-8.
func isMediaType(values []string, want string) bool {
	if len(values) != 1 {
		return false
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != want {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// checkCSRF checks the token from the body's csrf_token or the X-CSRF-Token
// header (both may be sent if they are equal) against the caller's session.
func (h *Handler) checkCSRF(c *call) error {
	header := c.r.Header.Values("X-CSRF-Token")
	if len(header) > 1 {
		return fmt.Errorf("%w: more than one X-CSRF-Token header", security.ErrCSRF)
	}
	token := c.csrfToken
	if len(header) == 1 {
		if c.csrfInBody && header[0] != token {
			return fmt.Errorf("%w: body and header tokens differ", security.ErrCSRF)
		}
		token = header[0]
	}
	return h.csrf.Check(c.r.Context(), c.auth.Session.ID, token)
}
