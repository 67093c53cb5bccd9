package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

//go:embed templates static
var assets embed.FS

// appConfig configures newApp.
type appConfig struct {
	// Store keeps users, sessions, CSRF nonces and audit events.
	Store *sqlitestore.Store
	// Sessions is the session manager on Store.
	Sessions *session.Manager
	// InsecureCookies drops the Secure flag (and the __Host- prefix) of
	// the session cookie: development on plain HTTP only.
	InsecureCookies bool
	// SingleUseFormTokens makes every form token single-use.
	SingleUseFormTokens bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
}

// app is the web application: its pages, its in-memory notes and the
// adapter that authenticates and protects them.
type app struct {
	adapter *httpadapter.Handler
	mgr     *session.Manager
	trusted []netip.Prefix
	log     *slog.Logger
	pages   map[string]*template.Template
	notes   *noteBook
	flash   *flashes
	mux     *http.ServeMux
	// handler is mux behind the adapter's CanonicalPaths.
	handler http.Handler
}

// Paths of the app's pages.
const (
	loginPath     = "/login"
	homePath      = "/"
	sessionsPath  = "/sessions"
	othersPath    = "/sessions/sign-out-others"
	passwordPath  = "/password"
	notesPath     = "/notes"
	afterLogout   = "/login?signed_out=1"
	contentPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// newApp builds the application on cfg.
func newApp(ctx context.Context, cfg appConfig) (*app, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	key, err := cfg.Store.Secret(ctx, "csrf", 32)
	if err != nil {
		return nil, err
	}
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: cfg.Store})
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	a := &app{mgr: cfg.Sessions, trusted: cfg.TrustedProxies, log: cfg.Logger, pages: pages,
		notes: newNoteBook(), flash: newFlashes(), mux: http.NewServeMux()}
	a.adapter, err = httpadapter.New(httpadapter.Config{Sessions: cfg.Sessions, CSRF: csrf,
		InsecureCookies: cfg.InsecureCookies, SingleUseFormTokens: cfg.SingleUseFormTokens,
		TrustedProxies: cfg.TrustedProxies, Logger: cfg.Logger, Events: cfg.Store,
		LoginPage: loginPath, AfterLogin: homePath, AfterLogout: afterLogout,
		ForbiddenPage: http.HandlerFunc(a.forbidden)})
	if err != nil {
		return nil, err
	}
	a.routes()
	a.handler = a.adapter.CanonicalPaths(a.mux)
	return a, nil
}

// routes mounts the adapter (POST /login, POST /logout and the JSON API)
// and the app's pages.
func (a *app) routes() {
	h, m := a.adapter, a.mux
	h.Register(m)
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET "+loginPath, a.loginPage)
	page := func(f http.HandlerFunc) http.Handler { return h.RequireLogin(h.Protect(f)) }
	m.Handle("GET /{$}", page(a.home))
	m.Handle("GET "+sessionsPath, page(a.sessions))
	m.Handle("POST "+othersPath, page(a.signOutOthers))
	m.Handle("GET "+passwordPath, page(a.passwordPage))
	m.Handle("POST "+passwordPath, page(a.changePassword))
	m.Handle("GET "+notesPath, page(a.notesPage))
	m.Handle("POST "+notesPath, page(a.addNote))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusNotFound, "error", view{Title: "Not found", Error: "There is no page here."})
	})
}

// ServeHTTP serves the app with the headers every page gets: a strict
// Content-Security-Policy (no inline script or style, no framing), no
// MIME sniffing, no Referer to other sites.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	a.handler.ServeHTTP(w, r)
}

// view is what a page template is given.
type view struct {
	Title string
	Nav   string
	// User is the signed-in user; nil on the login and error pages.
	User *security.Principal
	// CSRFField is the hidden input of the page's forms.
	CSRFField template.HTML
	Flash     string
	Error     string

	// Login page.
	Next      string
	SignedOut bool
	// Sessions page.
	Sessions []sessionRow
	Total    int
	// Password page.
	KeepOthers bool
	MinLength  int
	// Notes page.
	Notes    []note
	NoteText string
	MaxNote  int
}

// parsePages parses each page of templates/ with the layout.
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(template.FuncMap{
		"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	}).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "home", "sessions", "password", "notes", "error"} {
		t, err := template.Must(layout.Clone()).ParseFS(assets, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page with status, filling in the user, the form token and
// any flash message from the request.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	if auth, ok := httpadapter.AuthFrom(r.Context()); ok {
		v.User = &auth.Principal
		v.CSRFField = httpadapter.CSRFField(r)
		if v.Flash == "" {
			v.Flash = a.flash.pop(auth.Session.ID)
		}
	}
	var b strings.Builder
	if err := a.pages[page].ExecuteTemplate(&b, "layout.html", v); err != nil {
		a.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// redirect answers 303 to path (a fixed path of the app), after a form
// post, with msg shown once on the next page of this session.
func (a *app) redirect(w http.ResponseWriter, r *http.Request, path, msg string) {
	if auth, ok := httpadapter.AuthFrom(r.Context()); ok && msg != "" {
		a.flash.set(auth.Session.ID, msg)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// forbidden is the adapter's Config.ForbiddenPage: a refused form (missing,
// forged or foreign token, or a cross-origin post) shown as a page.
func (a *app) forbidden(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusForbidden, "error", view{Title: "Form refused",
		Error: "This form has expired, or it was not sent from this site. Nothing was changed. Go back, reload the page and try again."})
}

// loginMessages are the login page's words for the error codes that a
// refused form login comes back with. Unknown codes get a generic line:
// nothing from the query string is shown as it is.
var loginMessages = map[string]string{
	httpadapter.CodeInvalidCredentials: "Wrong email address or password.",
	httpadapter.CodeAccountBlacklisted: "This account is blocked. Contact support.",
	httpadapter.CodeInvalidRequest:     "Enter your email address and password.",
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := view{Title: "Sign in", Next: q.Get("next"), SignedOut: q.Get("signed_out") == "1"}
	switch code := q.Get("error"); {
	case code == "":
	case code == httpadapter.CodeTooManyAttempts:
		v.Error = "Too many failed attempts. Try again " + retryText(q.Get("retry_after")) + "."
	case loginMessages[code] != "":
		v.Error = loginMessages[code]
	default:
		v.Error = "Signing in is not possible right now. Try again later."
	}
	a.render(w, r, http.StatusOK, "login", v)
}

// retryText says when to retry, from a retry_after of whole seconds.
func retryText(seconds string) string {
	n, err := strconv.Atoi(seconds)
	if err != nil || n <= 0 || n > 24*3600 {
		return "later"
	}
	return "in " + duration(time.Duration(n)*time.Second)
}

// duration says d in words, rounded up to whole minutes past a minute.
func duration(d time.Duration) string {
	if d <= time.Minute {
		s := max(int((d+time.Second-1)/time.Second), 1)
		return plural(s, "second")
	}
	return plural(int((d+time.Minute-1)/time.Minute), "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "home", view{Title: "Home", Nav: "home"})
}

// sessionRow is one line of the sessions page.
type sessionRow struct {
	session.SessionInfo
	Device string
}

// maxListed is how many sessions the page shows.
const maxListed = 50

func (a *app) sessions(w http.ResponseWriter, r *http.Request) {
	auth, _ := httpadapter.AuthFrom(r.Context())
	list, total, err := a.mgr.ListOwn(r.Context(), auth, session.ListOptions{Limit: maxListed})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rows := make([]sessionRow, len(list))
	for i, s := range list {
		rows[i] = sessionRow{SessionInfo: s, Device: device(s.Session)}
	}
	a.render(w, r, http.StatusOK, "sessions", view{Title: "Your sessions", Nav: "sessions", Sessions: rows, Total: total})
}

// device names a session's client for people: the app token, or the
// browser's User-Agent, shortened.
func device(s session.Session) string {
	if s.Kind == session.KindMobile {
		return "App (bearer token)"
	}
	ua := strings.TrimSpace(s.UserAgent)
	if ua == "" {
		return "Unknown browser"
	}
	if r := []rune(ua); len(r) > 60 {
		ua = string(r[:60]) + "…"
	}
	return ua
}

func (a *app) signOutOthers(w http.ResponseWriter, r *http.Request) {
	auth, _ := httpadapter.AuthFrom(r.Context())
	n, err := a.mgr.TerminateOthers(r.Context(), auth, httpadapter.ClientIP(r, a.trusted))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	msg := "You were signed in nowhere else."
	if n > 0 {
		msg = "Signed out of " + plural(n, "other session") + "."
	}
	a.redirect(w, r, sessionsPath, msg)
}

func (a *app) passwordPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "password", view{Title: "Change password", Nav: "password",
		MinLength: session.MinPasswordRunes})
}

func (a *app) changePassword(w http.ResponseWriter, r *http.Request) {
	auth, _ := httpadapter.AuthFrom(r.Context())
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	keep := r.PostFormValue("keep_other_sessions") == "on"
	v := view{Title: "Change password", Nav: "password", MinLength: session.MinPasswordRunes, KeepOthers: keep}
	if next != r.PostFormValue("confirm_password") {
		v.Error = "The new password and its confirmation differ."
		a.render(w, r, http.StatusBadRequest, "password", v)
		return
	}
	n, err := a.mgr.ChangePassword(strictBreach(r.Context()), auth, session.PasswordChangeRequest{
		CurrentPassword: current, NewPassword: next, KeepOtherSessions: keep, IP: httpadapter.ClientIP(r, a.trusted)})
	if err == nil {
		msg := "Your password was changed."
		if n > 0 {
			msg += " Signed out of " + plural(n, "other session") + "."
		}
		a.redirect(w, r, passwordPath, msg)
		return
	}
	status, msg := passwordError(err)
	if status == 0 {
		a.fail(w, r, err)
		return
	}
	var te *security.ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", strconv.Itoa(int((te.RetryAfter+time.Second-1)/time.Second)))
	}
	v.Error = msg
	a.render(w, r, status, "password", v)
}

// fieldNames are the password form's labels of ChangePassword's fields.
var fieldNames = map[string]string{"current_password": "The current password", "new_password": "The new password"}

// passwordError is the status and message of a refused password change,
// or 0 for an error the page does not explain (fail handles it).
func passwordError(err error) (int, string) {
	var te *security.ThrottledError
	var ie *security.InvalidError
	switch {
	case errors.Is(err, security.ErrInvalidCredentials):
		return http.StatusBadRequest, "Your current password is not correct."
	case errors.As(err, &te):
		return http.StatusTooManyRequests, "Too many wrong passwords. Try again in " + duration(te.RetryAfter) + "."
	case errors.Is(err, session.ErrBreachCheckFailed):
		return http.StatusServiceUnavailable,
			"The new password could not be checked against known data breaches just now. Nothing was changed; try again later."
	case errors.Is(err, security.ErrConflict):
		return http.StatusConflict, "Your password was changed elsewhere meanwhile. Nothing was changed here; try again."
	case errors.As(err, &ie):
		if name, ok := fieldNames[ie.Field]; ok {
			return http.StatusBadRequest, name + " " + ie.Reason + "."
		}
		return http.StatusBadRequest, ie.Reason + "."
	}
	return 0, ""
}

func (a *app) notesPage(w http.ResponseWriter, r *http.Request) {
	auth, _ := httpadapter.AuthFrom(r.Context())
	a.render(w, r, http.StatusOK, "notes", view{Title: "Notes", Nav: "notes",
		Notes: a.notes.list(auth.Principal.UserID), MaxNote: maxNoteRunes})
}

func (a *app) addNote(w http.ResponseWriter, r *http.Request) {
	auth, _ := httpadapter.AuthFrom(r.Context())
	text := r.PostFormValue("note")
	if problem := a.notes.add(auth.Principal.UserID, text, time.Now()); problem != "" {
		a.render(w, r, http.StatusBadRequest, "notes", view{Title: "Notes", Nav: "notes", Error: problem,
			Notes: a.notes.list(auth.Principal.UserID), NoteText: text, MaxNote: maxNoteRunes})
		return
	}
	a.redirect(w, r, notesPath, "Note saved.")
}

// fail answers an unexpected error: the login page for a session that
// ended meanwhile, else a page that says nothing internal (the cause goes
// to the log).
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, security.ErrUnauthenticated) {
		http.Redirect(w, r, loginPath, http.StatusSeeOther)
		return
	}
	a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	a.render(w, r, http.StatusInternalServerError, "error", view{Title: "Something went wrong",
		Error: "Something went wrong on our side. Try again in a moment."})
}
