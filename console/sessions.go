package console

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// sessionsPerPage is the page size of the Sessions view.
const sessionsPerPage = 25

// notices are the messages a redirect after a change may name (?notice=),
// with %d for ?n= where they count; nothing else is shown from the URL.
var notices = map[string]string{
	"terminated":      "Session terminated.",
	"blacklisted":     "User blacklisted; %d session(s) terminated.",
	"unblacklisted":   "User removed from the blacklist.",
	"resolved":        "%d alert(s) resolved.",
	"ignored":         "%d alert(s) ignored.",
	"deleted":         "%d alert(s) deleted.",
	"started":         "Integrity check started.",
	"running":         "A check was already running: it is shown below.",
	"deploy_started":  "Deployment started: changes are not alerted on until it ends.",
	"deploy_ended":    "Deployment ended: %d change(s) accepted into the baseline.",
	"signed_out":      "You are signed out.",
	"already_ended":   "That session had already ended.",
	"not_blacklisted": "That user was not on the blacklist.",
}

// notice is the message of r's ?notice= (and ?n=), or "".
func notice(r *http.Request) string {
	q := r.URL.Query()
	msg, ok := notices[q.Get("notice")]
	if !ok {
		if q.Get("signed_out") == "1" {
			return notices["signed_out"]
		}
		return ""
	}
	if strings.Contains(msg, "%d") {
		n, _ := strconv.Atoi(q.Get("n"))
		msg = fmt.Sprintf(msg, max(n, 0))
	}
	return msg
}

// done answers 303 to a view with a notice.
func (h *handler) done(w http.ResponseWriter, rel string, q url.Values, key string, n int) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("notice", key)
	if strings.Contains(notices[key], "%d") {
		q.Set("n", strconv.Itoa(n))
	}
	seeOther(w, h.url(rel, q))
}

// loginErrors are the words of the sign-in form's ?error= codes.
var loginErrors = map[string]string{
	httpadapter.CodeInvalidCredentials: "The email or password is wrong.",
	httpadapter.CodeTooManyAttempts:    "Too many attempts. Wait a while and try again.",
	httpadapter.CodeAccountBlacklisted: "This account is blocked. Ask an administrator.",
	httpadapter.CodeInvalidRequest:     "Enter your email and password.",
}

// signInData is the Data of the sign-in page.
type signInData struct{ Next string }

// signInPage is the sign-in form at the prefix.
func (h *handler) signInPage(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r, nil, "Sign in", "")
	q := r.URL.Query()
	if code := q.Get("error"); code != "" {
		v.Error = loginErrors[code]
		if v.Error == "" {
			v.Error = "Signing in failed. Try again."
		}
		if s := q.Get("retry_after"); code == httpadapter.CodeTooManyAttempts && s != "" {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				v.Error = fmt.Sprintf("Too many attempts. Try again in %d seconds.", n)
			}
		}
	}
	v.Notice = notice(r)
	// Only a console path is kept as next; the adapter checks it again.
	if next := q.Get("next"); strings.HasPrefix(next, h.prefix) && !strings.HasPrefix(next, "//") && len(next) <= 2048 {
		v.Data = signInData{Next: next}
	} else {
		v.Data = signInData{}
	}
	h.render(w, r, http.StatusOK, "signin", v)
}

// pager is the paging of a list.
type pager struct {
	Page, Pages, Total int
	// Prev and Next are the URLs of the neighbouring pages, "" at the ends.
	Prev, Next string
}

// newPager pages total items, per to a page, at page; link makes a page's
// URL.
func newPager(page, per, total int, link func(page int) string) pager {
	p := pager{Page: page, Total: total, Pages: max(1, (total+per-1)/per)}
	if page > 1 {
		p.Prev = link(min(page-1, p.Pages))
	}
	if page < p.Pages {
		p.Next = link(page + 1)
	}
	return p
}

// pageParam reads ?page= (default 1); a bad one is a 400.
func pageParam(q url.Values) (int, error) {
	s := q.Get("page")
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > math.MaxInt32 {
		return 0, &pageError{status: http.StatusBadRequest, msg: "The page number must be a positive whole number."}
	}
	return n, nil
}

// userIDParam reads a positive user id, "" meaning 0.
func userIDParam(s, what string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, &pageError{status: http.StatusBadRequest, msg: what + " must be a positive whole number."}
	}
	return n, nil
}

// sessionsData is the Data of the Sessions view.
type sessionsData struct {
	UserID    string
	Sessions  []session.SessionInfo
	Pager     pager
	Blacklist []session.BlacklistEntry
	// Reason and BlacklistUser refill the blacklist form after a refusal.
	BlacklistUser, Reason string
}

// sessionsPage is the Sessions view: ?user_id= filters, ?page= pages.
func (h *handler) sessionsPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.showSessions(w, r, a, http.StatusOK, "", nil)
}

// showSessions renders the Sessions view, with errMsg and the refused
// blacklist form's values after a refusal.
func (h *handler) showSessions(w http.ResponseWriter, r *http.Request, a session.Auth, status int, errMsg string, form url.Values) {
	v := h.newView(r, &a, "Sessions", pathSessions)
	if !v.Can("sessions") && !v.Can("blacklist") {
		h.fail(w, r, &a, security.ErrForbidden)
		return
	}
	q := r.URL.Query()
	page, err := pageParam(q)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	uid, err := userIDParam(q.Get("user_id"), "The user ID")
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	d := sessionsData{BlacklistUser: form.Get("user_id"), Reason: form.Get("reason")}
	// ?blacklist_user= fills in the blacklist form (a row's Blacklist… link).
	if n, err := userIDParam(q.Get("blacklist_user"), "The user ID"); err == nil && n > 0 && form == nil {
		d.BlacklistUser = strconv.FormatInt(n, 10)
	}
	if uid > 0 {
		d.UserID = strconv.FormatInt(uid, 10)
	}
	ctx := r.Context()
	if v.Can("sessions") {
		list, total, err := h.o.Sessions.List(ctx, a, session.ListOptions{UserID: uid, Page: page, Limit: sessionsPerPage})
		if err != nil {
			h.fail(w, r, &a, err)
			return
		}
		d.Sessions = list
		d.Pager = newPager(page, sessionsPerPage, total, func(p int) string {
			pq := url.Values{"page": {strconv.Itoa(p)}}
			if d.UserID != "" {
				pq.Set("user_id", d.UserID)
			}
			return h.url(pathSessions, pq)
		})
	}
	if v.Can("blacklist") {
		if d.Blacklist, err = h.o.Sessions.ListBlacklist(ctx, a); err != nil {
			h.fail(w, r, &a, err)
			return
		}
	}
	v.Data, v.Notice, v.Error = d, notice(r), errMsg
	h.render(w, r, status, "sessions", v)
}

// CanTerminate reports whether the view's user may terminate s: never
// their current session; their own others always; anyone's with the
// terminate permission.
func (v *view) CanTerminate(s session.SessionInfo) bool {
	if s.IsCurrent || s.ID == v.Session || v.User == nil {
		return false
	}
	return s.UserID == v.User.UserID || v.Can("terminate")
}

// terminateData is the Data of the confirmation page.
type terminateData struct {
	ID string
	// Info is the session, when it could be found on its user's list.
	Info  *session.SessionInfo
	Own   bool
	Back  string
	Found bool
}

// confirmTerminate asks for confirmation before terminating
// ?session_id= (of ?user_id=, to show who it is).
func (h *handler) confirmTerminate(w http.ResponseWriter, r *http.Request, a session.Auth) {
	v := h.newView(r, &a, "Terminate session", pathSessions)
	q := r.URL.Query()
	id := q.Get("session_id")
	if !security.ValidID(session.IDPrefix, id) {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "That is not a session id."})
		return
	}
	d := terminateData{ID: id, Own: id == a.Session.ID, Back: h.url(pathSessions, nil)}
	if uid, err := userIDParam(q.Get("user_id"), "The user ID"); err == nil && uid > 0 && v.Can("sessions") {
		list, _, err := h.o.Sessions.List(r.Context(), a, session.ListOptions{UserID: uid, Limit: session.MaxListLimit})
		if err != nil {
			h.fail(w, r, &a, err)
			return
		}
		for i := range list {
			if list[i].ID == id {
				d.Info, d.Found = &list[i], true
			}
		}
	}
	if d.Info != nil && !v.CanTerminate(*d.Info) && !d.Own {
		h.fail(w, r, &a, security.ErrForbidden)
		return
	}
	if d.Info == nil && !v.Can("terminate") && !d.Own {
		h.fail(w, r, &a, security.ErrForbidden)
		return
	}
	v.Data = d
	h.render(w, r, http.StatusOK, "terminate", v)
}

// postForm returns the fields of a form POST that Protect has parsed,
// refusing a field given more than once.
func postForm(r *http.Request, fields ...string) (url.Values, error) {
	out := url.Values{}
	for _, f := range fields {
		vs := r.PostForm[f]
		if len(vs) > 1 {
			return nil, &pageError{status: http.StatusBadRequest, msg: "The form sent " + f + " more than once."}
		}
		if len(vs) == 1 {
			out.Set(f, vs[0])
		}
	}
	return out, nil
}

// terminate ends the session of the form's session_id.
func (h *handler) terminate(w http.ResponseWriter, r *http.Request, a session.Auth) {
	f, err := postForm(r, "session_id")
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	id := f.Get("session_id")
	if !security.ValidID(session.IDPrefix, id) {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "That is not a session id."})
		return
	}
	if id == a.Session.ID {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest,
			msg: "This is the session you are using: sign out instead."})
		return
	}
	err = h.o.Sessions.Terminate(r.Context(), a, id, h.ip(r))
	if errors.Is(err, security.ErrNotFound) {
		h.done(w, pathSessions, nil, "already_ended", 0)
		return
	}
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	h.done(w, pathSessions, nil, "terminated", 0)
}

// blacklistAdd blacklists the form's user_id for its reason.
func (h *handler) blacklistAdd(w http.ResponseWriter, r *http.Request, a session.Auth) {
	f, err := postForm(r, "user_id", "reason")
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	refuse := func(status int, msg string) {
		r.URL.RawQuery = ""
		h.showSessions(w, r, a, status, msg, f)
	}
	uid, err := userIDParam(f.Get("user_id"), "The user ID")
	if err != nil || uid == 0 {
		refuse(http.StatusBadRequest, "The user ID must be a positive whole number.")
		return
	}
	reason := strings.TrimSpace(f.Get("reason"))
	switch {
	case reason == "":
		refuse(http.StatusBadRequest, "Give a reason for the blacklisting.")
		return
	case utf8.RuneCountInString(reason) > session.MaxReasonRunes || !utf8.ValidString(reason):
		refuse(http.StatusBadRequest, fmt.Sprintf("The reason must be at most %d characters.", session.MaxReasonRunes))
		return
	}
	n, err := h.o.Sessions.Blacklist(r.Context(), a, uid, reason, h.ip(r))
	switch {
	case errors.Is(err, security.ErrForbidden):
		h.fail(w, r, &a, err)
	case errors.Is(err, security.ErrNotFound):
		refuse(http.StatusNotFound, "There is no user with that ID.")
	case errors.Is(err, security.ErrConflict):
		refuse(http.StatusConflict, "That user is already blacklisted.")
	case err != nil:
		status, msg := h.describe(r, err)
		refuse(status, msg)
	default:
		h.done(w, pathSessions, nil, "blacklisted", n)
	}
}

// blacklistRemove takes the form's user_id off the blacklist.
func (h *handler) blacklistRemove(w http.ResponseWriter, r *http.Request, a session.Auth) {
	f, err := postForm(r, "user_id")
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	uid, err := userIDParam(f.Get("user_id"), "The user ID")
	if err != nil || uid == 0 {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "The user ID must be a positive whole number."})
		return
	}
	err = h.o.Sessions.Unblacklist(r.Context(), a, uid, h.ip(r))
	switch {
	case errors.Is(err, security.ErrNotFound):
		h.done(w, pathSessions, nil, "not_blacklisted", 0)
	case err != nil:
		h.fail(w, r, &a, err)
	default:
		h.done(w, pathSessions, nil, "unblacklisted", 0)
	}
}

// passwordPage is the Password check view; its script does the work.
func (h *handler) passwordPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	h.render(w, r, http.StatusOK, "password", h.newView(r, &a, "Password check", pathPassword))
}
