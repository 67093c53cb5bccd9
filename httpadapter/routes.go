package httpadapter

import (
	"errors"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// routes lists every path the adapter serves and, per method, how.
func (h *Handler) routes() map[string]map[string]endpoint {
	r := map[string]map[string]endpoint{
		"/api/security/csrf-token": {
			http.MethodGet: {auth: authAny, restricted: true, prepare: h.issueCSRF},
		},
		"/api/security/sessions": {
			http.MethodGet:  {auth: authAny, staff: true, query: true, prepare: h.readSessions},
			http.MethodPost: {auth: authAny, staff: true, body: true, csrf: true, prepare: h.changeSessions},
		},
		"/api/security/mobile-auth": {
			http.MethodPost:   {body: true, prepare: h.issueToken},
			http.MethodDelete: {auth: authBearer, restricted: true, prepare: h.revokeToken},
		},
		"/login": {
			http.MethodPost: {body: true, prepare: h.login, form: h.formLogin},
		},
		"/logout": {
			http.MethodGet:  {auth: authAny, restricted: true, checkOrigin: true, prepare: h.logout},
			http.MethodPost: {auth: authAny, restricted: true, body: true, csrf: true, prepare: h.logout, form: h.formLogout},
		},
	}
	maps.Copy(r, h.integrityRoutes())
	maps.Copy(r, h.breachRoutes())
	maps.Copy(r, h.reportRoutes())
	maps.Copy(r, h.passwordRoutes())
	maps.Copy(r, h.openAPIRoutes())
	maps.Copy(r, h.verifyRoutes())
	maps.Copy(r, h.mfaRoutes())
	return r
}

// issueCSRF serves GET /api/security/csrf-token.
func (h *Handler) issueCSRF(c *call) (func() (reply, error), error) {
	return func() (reply, error) {
		return reply{data: map[string]string{"token": h.csrf.Issue(c.auth.Session.ID)},
			message: "CSRF token issued"}, nil
	}, nil
}

// timeJSON formats t for the API: RFC 3339 in UTC.
func timeJSON(t time.Time) string { return t.UTC().Format(time.RFC3339) }

type sessionJSON struct {
	SessionID  string `json:"session_id"`
	UserID     int64  `json:"user_id"`
	UserName   string `json:"user_name"`
	IPAddress  string `json:"ip_address"`
	UserAgent  string `json:"user_agent"`
	Location   string `json:"location"`
	LastActive string `json:"last_active"`
	IsCurrent  bool   `json:"is_current"`
	CreatedAt  string `json:"created_at"`
	Kind       string `json:"kind"`
}

type blacklistJSON struct {
	UserID            int64  `json:"user_id"`
	UserName          string `json:"user_name"`
	Reason            string `json:"reason"`
	BlacklistedBy     int64  `json:"blacklisted_by"`
	BlacklistedByName string `json:"blacklisted_by_name"`
	CreatedAt         string `json:"created_at"`
}

// queryValues parses the query string, refusing a malformed one and any
// repeated parameter; each parameter's one value is returned.
func queryValues(r *http.Request) (map[string]string, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, security.Invalid("", "malformed query string")
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) > 1 {
			return nil, security.Invalid(quoteName(k), "must be given at most once")
		}
		out[k] = v[0]
	}
	return out, nil
}

// allowOnly refuses any parameter not in allowed.
func allowOnly(q map[string]string, allowed ...string) error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(allowed, k) {
			return security.Invalid(quoteName(k), "unknown query parameter")
		}
	}
	return nil
}

// positiveInt reads a decimal integer in [1, max] written without sign or
// leading zeros.
func positiveInt(name, s string, max int64, reason string) (int64, error) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, security.Invalid(name, reason)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > max {
		return 0, security.Invalid(name, reason)
	}
	return n, nil
}

// pageParams reads the optional parameters page (1 to maxPage) and limit
// (1 to maxLimit) into page and limit, which hold their defaults.
func pageParams(q map[string]string, maxPage int64, maxLimit int, page, limit *int) error {
	if s, ok := q["page"]; ok {
		n, err := positiveInt("page", s, maxPage, "must be a positive integer")
		if err != nil {
			return err
		}
		*page = int(n)
	}
	if s, ok := q["limit"]; ok {
		n, err := positiveInt("limit", s, int64(maxLimit), "must be between 1 and "+strconv.Itoa(maxLimit))
		if err != nil {
			return err
		}
		*limit = int(n)
	}
	return nil
}

// parseSessionListQuery reads the parameters of GET
// /api/security/sessions?action=list: the optional user_id (positive),
// page (1 to MaxInt32) and limit (1 to session.MaxListLimit); any other
// parameter but action is refused.
func parseSessionListQuery(q map[string]string) (session.ListOptions, error) {
	if err := allowOnly(q, "action", "user_id", "page", "limit"); err != nil {
		return session.ListOptions{}, err
	}
	opts := session.ListOptions{Page: 1, Limit: session.DefaultListLimit}
	if s, ok := q["user_id"]; ok {
		var err error
		if opts.UserID, err = positiveInt("user_id", s, math.MaxInt64, "must be a positive integer"); err != nil {
			return session.ListOptions{}, err
		}
	}
	if err := pageParams(q, math.MaxInt32, session.MaxListLimit, &opts.Page, &opts.Limit); err != nil {
		return session.ListOptions{}, err
	}
	return opts, nil
}

// readSessions serves GET /api/security/sessions?action=list|blacklist_list.
func (h *Handler) readSessions(c *call) (func() (reply, error), error) {
	q, err := queryValues(c.r)
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	switch action := q["action"]; action {
	case "list":
		opts, err := parseSessionListQuery(q)
		if err != nil {
			return nil, err
		}
		return func() (reply, error) {
			list, total, err := h.sessions.List(ctx, c.auth, opts)
			if err != nil {
				return reply{}, err
			}
			data := make([]sessionJSON, len(list))
			for i, s := range list {
				data[i] = sessionJSON{SessionID: s.ID, UserID: s.UserID, UserName: s.UserName, IPAddress: s.IP,
					UserAgent: s.UserAgent, Location: s.Location, LastActive: timeJSON(s.LastActive),
					IsCurrent: s.IsCurrent, CreatedAt: timeJSON(s.CreatedAt), Kind: string(s.Kind)}
			}
			return reply{data: data, message: "Sessions retrieved", count: &total, page: &opts.Page}, nil
		}, nil
	case "blacklist_list":
		if err := allowOnly(q, "action"); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			list, err := h.sessions.ListBlacklist(ctx, c.auth)
			if err != nil {
				return reply{}, err
			}
			data := make([]blacklistJSON, len(list))
			for i, e := range list {
				data[i] = blacklistJSON{UserID: e.UserID, UserName: e.UserName, Reason: e.Reason,
					BlacklistedBy: e.BlacklistedBy, BlacklistedByName: e.BlacklistedByName, CreatedAt: timeJSON(e.CreatedAt)}
			}
			n := len(data)
			return reply{data: data, message: "Blacklist retrieved", count: &n}, nil
		}, nil
	case "":
		return nil, security.Invalid("action", "is required (list or blacklist_list)")
	default:
		return nil, security.Invalid("action", "must be list or blacklist_list")
	}
}

// changeSessions serves POST /api/security/sessions: terminate,
// blacklist_add and blacklist_remove.
func (h *Handler) changeSessions(c *call) (func() (reply, error), error) {
	action, actionField, err := c.action()
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	switch action {
	case "terminate":
		var id string
		if err := c.bind(actionField, stringField("session_id", &id, true)); err != nil {
			return nil, err
		}
		if !security.ValidID(session.IDPrefix, id) {
			return nil, security.Invalid("session_id", "must be a session id (sess_…)")
		}
		return func() (reply, error) {
			if err := h.sessions.Terminate(ctx, c.auth, id, c.ip); err != nil {
				return reply{}, describe(err, security.ErrNotFound, "Session not found")
			}
			return reply{message: "Session terminated"}, nil
		}, nil
	case "blacklist_add":
		var userID int64
		var reason string
		if err := c.bind(actionField, intField("user_id", &userID, true), stringField("reason", &reason, true)); err != nil {
			return nil, err
		}
		if err := validUserID(userID); err != nil {
			return nil, err
		}
		switch reason = strings.TrimSpace(reason); {
		case reason == "":
			return nil, security.Invalid("reason", "is required")
		case utf8.RuneCountInString(reason) > session.MaxReasonRunes:
			return nil, security.Invalidf("reason", "must be at most %d characters", session.MaxReasonRunes)
		}
		return func() (reply, error) {
			n, err := h.sessions.Blacklist(ctx, c.auth, userID, reason, c.ip)
			if err != nil {
				err = describe(err, security.ErrNotFound, "User not found")
				return reply{}, describe(err, security.ErrConflict, "User is already blacklisted")
			}
			return reply{data: map[string]int{"sessions_revoked": n},
				message: "User blacklisted and all sessions terminated"}, nil
		}, nil
	case "blacklist_remove":
		var userID int64
		if err := c.bind(actionField, intField("user_id", &userID, true)); err != nil {
			return nil, err
		}
		if err := validUserID(userID); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			if err := h.sessions.Unblacklist(ctx, c.auth, userID, c.ip); err != nil {
				return reply{}, describe(err, security.ErrNotFound, "User is not blacklisted")
			}
			return reply{message: "User removed from blacklist"}, nil
		}, nil
	default:
		return nil, security.Invalid("action", "must be terminate, blacklist_add or blacklist_remove")
	}
}

func validUserID(id int64) error {
	if id <= 0 {
		return security.Invalid("user_id", "must be a positive integer")
	}
	return nil
}

// credentials decodes an {email, password} body.
func (c *call) credentials() (email, password string, err error) {
	err = c.bind(stringField("email", &email, true), stringField("password", &password, true))
	return email, password, err
}

// issueToken serves POST /api/security/mobile-auth.
func (h *Handler) issueToken(c *call) (func() (reply, error), error) {
	email, password, err := c.credentials()
	if err != nil {
		return nil, err
	}
	return func() (reply, error) {
		t, err := h.mobile.Issue(c.r.Context(), email, password, c.ip, c.r.UserAgent())
		if err != nil {
			return reply{}, err
		}
		if t.Verification != nil {
			return verificationReply(t.Verification), nil
		}
		data := map[string]any{"token": t.Token}
		if t.PasswordBreached {
			data["password_breached"] = true
		}
		if t.Restricted {
			data["second_factor_required"] = true
		}
		return reply{data: data, message: "Mobile authentication token issued"}, nil
	}, nil
}

// revokeToken serves DELETE /api/security/mobile-auth.
func (h *Handler) revokeToken(c *call) (func() (reply, error), error) {
	return func() (reply, error) {
		if err := h.mobile.Revoke(c.r.Context(), c.auth, c.ip); err != nil {
			return reply{}, revokeError(err, "A bearer token from mobile-auth is required")
		}
		return reply{message: "Token revoked"}, nil
	}, nil
}

type principalJSON struct {
	UserID      int64                 `json:"user_id"`
	UserName    string                `json:"user_name"`
	Email       string                `json:"email"`
	AccountType security.AccountType  `json:"account_type"`
	Permissions []security.Permission `json:"permissions"`
	SessionID   string                `json:"session_id"`
	ExpiresAt   string                `json:"expires_at"`
	// PasswordBreached is set when the password was found in breach data
	// (session.Config.BreachCheck): the client should make the user change it.
	PasswordBreached bool `json:"password_breached,omitempty"`
	// SecondFactorRequired is set for a restricted staff session
	// (session.Config.RequireStaffSecondFactor): it may only enrol one.
	SecondFactorRequired bool `json:"second_factor_required,omitempty"`
}

// login serves POST /login: a web session behind the session cookie, or
// a 202 when the login needs verification.
func (h *Handler) login(c *call) (func() (reply, error), error) {
	email, password, err := c.credentials()
	if err != nil {
		return nil, err
	}
	return func() (reply, error) {
		res, err := h.sessions.Login(c.r.Context(), session.LoginRequest{Email: email, Password: password,
			Kind: session.KindWeb, IP: c.ip, UserAgent: c.r.UserAgent()})
		if err != nil {
			return reply{}, err
		}
		return h.loginReply(c.w, res), nil
	}, nil
}

// logout serves GET and POST /logout: it revokes the caller's session and
// clears the cookie.
func (h *Handler) logout(c *call) (func() (reply, error), error) {
	if c.ep.body {
		if err := c.bind(); err != nil {
			return nil, err
		}
	}
	return func() (reply, error) {
		if err := h.sessions.Logout(c.r.Context(), c.auth, c.ip); err != nil {
			return reply{}, revokeError(err, "Authentication required")
		}
		http.SetCookie(c.w, h.cookie("", -1))
		return reply{message: "Logged out"}, nil
	}, nil
}

// revokeError maps the failure to revoke the caller's own session: one
// revoked by someone else since it authenticated no longer authenticates.
func revokeError(err error, unauthenticated string) error {
	if errors.Is(err, security.ErrNotFound) {
		return errInvalidToken
	}
	return describe(err, security.ErrUnauthenticated, unauthenticated)
}

// cookie returns the session cookie with value, kept for maxAge seconds
// (negative: delete it now).
func (h *Handler) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: h.cookieName, Value: value, Path: "/", MaxAge: maxAge,
		Secure: h.secureCookie, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}
