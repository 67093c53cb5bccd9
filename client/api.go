package client

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Token is the answer of [Client.IssueToken].
type Token struct {
	// Token is the bearer token: a secret.
	Token string `json:"token"`
	// PasswordBreached says the password is in the server's breach data:
	// make the user change it.
	PasswordBreached bool `json:"password_breached"`
	// SecondFactorRequired: a staff user who must enrol a second factor
	// before anything else ([Client.EnrollTOTP]).
	SecondFactorRequired bool `json:"second_factor_required"`
	// Verification, when not nil, means no token was issued yet: the
	// server asks for a code ([Client.VerifyToken]).
	Verification *Verification `json:"-"`
}

// IssueToken exchanges an email and password for a bearer token (POST
// /api/security/mobile-auth) and makes the client use it from now on. When
// the server asks for a second step, Token.Verification is set instead.
func (c *Client) IssueToken(ctx context.Context, email, password string) (*Token, error) {
	var t Token
	env, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/mobile-auth", noAuth: true,
		body: map[string]string{"email": email, "password": password}}, &t)
	if err != nil {
		return nil, err
	}
	if t.Verification, err = pending(env); err != nil || t.Verification != nil {
		return &t, err
	}
	c.SetBearer(t.Token)
	return &t, nil
}

// RevokeToken revokes the client's bearer token (DELETE
// /api/security/mobile-auth) and stops using it.
func (c *Client) RevokeToken(ctx context.Context) error {
	if _, err := c.do(ctx, call{method: http.MethodDelete, path: "/api/security/mobile-auth"}, nil); err != nil {
		return err
	}
	c.SetBearer("")
	return nil
}

// Principal is the user a login authenticated.
type Principal struct {
	UserID           int64    `json:"user_id"`
	UserName         string   `json:"user_name"`
	Email            string   `json:"email"`
	AccountType      string   `json:"account_type"`
	Permissions      []string `json:"permissions"`
	SessionID        string   `json:"session_id"`
	ExpiresAt        string   `json:"expires_at"`
	PasswordBreached bool     `json:"password_breached"`
	// SecondFactorRequired: a staff user who must enrol a second factor
	// before anything else ([Client.EnrollTOTP]).
	SecondFactorRequired bool `json:"second_factor_required"`
	// Verification, when not nil, means no session was made yet: the
	// server asks for a code ([Client.VerifyLogin]).
	Verification *Verification `json:"-"`
}

// Login logs in with the session cookie (POST /login), which the client's
// cookie jar keeps. When the server asks for a second step,
// Principal.Verification is set instead.
func (c *Client) Login(ctx context.Context, email, password string) (*Principal, error) {
	var p Principal
	env, err := c.do(ctx, call{method: http.MethodPost, path: "/login", noAuth: true,
		body: map[string]string{"email": email, "password": password}}, &p)
	if err != nil {
		return nil, err
	}
	if p.Verification, err = pending(env); err != nil || p.Verification != nil {
		return &p, err
	}
	c.mu.Lock()
	c.csrf = "" // bound to the session before
	c.mu.Unlock()
	return &p, nil
}

// Logout ends the caller's session (POST /logout, with a CSRF token).
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/logout", body: struct{}{}, csrf: true}, nil)
	if err == nil {
		c.mu.Lock()
		c.csrf = ""
		c.mu.Unlock()
	}
	return err
}

// CSRFToken fetches a CSRF token for the caller's session (GET
// /api/security/csrf-token). The state-changing methods fetch their own.
func (c *Client) CSRFToken(ctx context.Context) (string, error) {
	var d struct {
		Token string `json:"token"`
	}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/csrf-token"}, &d); err != nil {
		return "", err
	}
	return d.Token, nil
}

// Session is an active session. SessionID is public and never a
// credential.
type Session struct {
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

// SessionQuery filters [Client.Sessions]; zero fields take the server's
// defaults.
type SessionQuery struct {
	UserID int64
	Page   int
	Limit  int
}

// SessionList is a page of sessions; Count counts them over all pages.
type SessionList struct {
	Sessions []Session
	Count    int
	Page     int
}

// Sessions lists active sessions (GET /api/security/sessions?action=list).
func (c *Client) Sessions(ctx context.Context, q SessionQuery) (*SessionList, error) {
	v := url.Values{"action": {"list"}}
	setInt(v, "user_id", q.UserID)
	setInt(v, "page", int64(q.Page))
	setInt(v, "limit", int64(q.Limit))
	var l SessionList
	env, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/sessions", query: v}, &l.Sessions)
	if err != nil {
		return nil, err
	}
	l.Count, l.Page = deref(env.Count), deref(env.Page)
	return &l, nil
}

// BlacklistEntry is a blacklisted user.
type BlacklistEntry struct {
	UserID            int64  `json:"user_id"`
	UserName          string `json:"user_name"`
	Reason            string `json:"reason"`
	BlacklistedBy     int64  `json:"blacklisted_by"`
	BlacklistedByName string `json:"blacklisted_by_name"`
	CreatedAt         string `json:"created_at"`
}

// Blacklist lists the blacklisted users (GET
// /api/security/sessions?action=blacklist_list).
func (c *Client) Blacklist(ctx context.Context) ([]BlacklistEntry, error) {
	var l []BlacklistEntry
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/sessions",
		query: url.Values{"action": {"blacklist_list"}}}, &l)
	return l, err
}

// TerminateSession revokes the session with public id sessionID.
func (c *Client) TerminateSession(ctx context.Context, sessionID string) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/sessions", csrf: true,
		body: map[string]any{"action": "terminate", "session_id": sessionID}}, nil)
	return err
}

type revoked struct {
	SessionsRevoked int `json:"sessions_revoked"`
}

// BlacklistUser blacklists a user, revoking every session and token of
// theirs; it returns how many it revoked.
func (c *Client) BlacklistUser(ctx context.Context, userID int64, reason string) (int, error) {
	var r revoked
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/sessions", csrf: true,
		body: map[string]any{"action": "blacklist_add", "user_id": userID, "reason": reason}}, &r)
	return r.SessionsRevoked, err
}

// UnblacklistUser removes a user from the blacklist.
func (c *Client) UnblacklistUser(ctx context.Context, userID int64) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/sessions", csrf: true,
		body: map[string]any{"action": "blacklist_remove", "user_id": userID}}, nil)
	return err
}

// PasswordChange is the request of [Client.ChangePassword].
type PasswordChange struct {
	Current, New string
	// KeepOtherSessions leaves the caller's other sessions and tokens
	// alive; by default they are revoked.
	KeepOtherSessions bool
}

// ChangePassword changes the caller's password (POST
// /api/security/password) and returns how many other sessions it revoked.
func (c *Client) ChangePassword(ctx context.Context, p PasswordChange) (int, error) {
	var r revoked
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/password", csrf: true,
		body: map[string]any{"current_password": p.Current, "new_password": p.New,
			"revoke_other_sessions": !p.KeepOtherSessions}}, &r)
	return r.SessionsRevoked, err
}

// Alert is a file integrity alert.
type Alert struct {
	ID        int64  `json:"id"`
	Host      string `json:"host"`
	FilePath  string `json:"file_path"`
	AlertType string `json:"alert_type"`
	Change    string `json:"change"`
	Severity  string `json:"severity"`
	Status    int    `json:"status"`
	Details   string `json:"details"`
	CreatedAt string `json:"created_at"`
	CheckID   string `json:"check_id"`
}

// The alert statuses.
const (
	AlertNew      = 0
	AlertResolved = 1
	AlertIgnored  = 2
)

// AlertQuery filters [Client.Alerts]; zero fields take the server's
// defaults.
type AlertQuery struct {
	// Status, when not nil, lists only alerts of that status.
	Status   *int
	Severity string // critical, high, medium or low
	SortBy   string // created_at_desc, created_at_asc or severity_desc
	Page     int
	Limit    int
}

// AlertList is a page of alerts; Total counts them over all pages.
type AlertList struct {
	Alerts []Alert
	Total  int
	Page   int
}

// Alerts lists file integrity alerts (GET
// /api/security/file-integrity-alerts).
func (c *Client) Alerts(ctx context.Context, q AlertQuery) (*AlertList, error) {
	v := url.Values{}
	if q.Status != nil {
		v.Set("status", strconv.Itoa(*q.Status))
	}
	if q.Severity != "" {
		v.Set("severity", q.Severity)
	}
	if q.SortBy != "" {
		v.Set("sortBy", q.SortBy)
	}
	setInt(v, "page", int64(q.Page))
	setInt(v, "limit", int64(q.Limit))
	var l AlertList
	env, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/file-integrity-alerts", query: v}, &l.Alerts)
	if err != nil {
		return nil, err
	}
	l.Total, l.Page = deref(env.Total), deref(env.Page)
	return &l, nil
}

// ResolveAlert resolves one alert.
func (c *Client) ResolveAlert(ctx context.Context, id int64) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/resolve-alert", csrf: true,
		body: map[string]any{"alert_id": id}}, nil)
	return err
}

// ResolveAlerts resolves the alerts ids, all or none, and returns the
// server's message ("N alert(s) resolved").
func (c *Client) ResolveAlerts(ctx context.Context, ids ...int64) (string, error) {
	return c.bulk(ctx, "/api/security/bulk-resolve-alerts", ids)
}

// DeleteAlerts deletes the alerts ids, all or none, and returns the
// server's message ("N alert(s) deleted").
func (c *Client) DeleteAlerts(ctx context.Context, ids ...int64) (string, error) {
	return c.bulk(ctx, "/api/security/bulk-delete-alerts", ids)
}

func (c *Client) bulk(ctx context.Context, path string, ids []int64) (string, error) {
	if ids == nil {
		ids = []int64{}
	}
	env, err := c.do(ctx, call{method: http.MethodPost, path: path, csrf: true, body: map[string]any{"alert_ids": ids}}, nil)
	if err != nil {
		return "", err
	}
	return env.Message, nil
}

// RunIntegrityCheck starts a check of the watched files and returns its
// id; while one runs the [*Error] (409) names it in CheckID.
func (c *Client) RunIntegrityCheck(ctx context.Context) (string, error) {
	var d struct {
		CheckID string `json:"check_id"`
	}
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/run-integrity-check", csrf: true,
		body: struct{}{}}, &d)
	return d.CheckID, err
}

// Check is an integrity check's progress.
type Check struct {
	CheckID         string `json:"check_id"`
	Host            string `json:"host"`
	Status          string `json:"status"` // running, complete or failed
	FilesTotal      int64  `json:"files_total"`
	FilesScanned    int64  `json:"files_scanned"`
	ViolationsFound int64  `json:"violations_found"`
	DurationMS      int64  `json:"duration_ms"`
	StartedAt       string `json:"started_at"`
	// FinishedAt is empty while the check runs.
	FinishedAt string `json:"finished_at"`
}

// CheckProgress reports the progress of a check (GET
// /api/security/file-integrity-progress).
func (c *Client) CheckProgress(ctx context.Context, checkID string) (*Check, error) {
	var ch Check
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/file-integrity-progress",
		query: url.Values{"check_id": {checkID}}}, &ch)
	if err != nil {
		return nil, err
	}
	return &ch, nil
}

// Diff is an alert's change against the baseline.
type Diff struct {
	FilePath     string `json:"file_path"`
	Diff         string `json:"diff"`
	LinesAdded   int    `json:"lines_added"`
	LinesRemoved int    `json:"lines_removed"`
	Binary       bool   `json:"binary"`
}

// FileDiff returns the diff of an alert (GET /api/security/file-diff); an
// alert of another host is an [*Error] (409) naming it in Host.
func (c *Client) FileDiff(ctx context.Context, alertID int64) (*Diff, error) {
	var d Diff
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/file-diff",
		query: url.Values{"alert_id": {strconv.FormatInt(alertID, 10)}}}, &d)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// BreachSuffix is one breached hash of a range.
type BreachSuffix struct {
	Suffix string `json:"suffix"`
	Count  int64  `json:"count"`
}

// Breach is the answer of a breach check. Suffixes is set by
// [Client.BreachRange] only.
type Breach struct {
	Breached bool           `json:"breached"`
	Count    int64          `json:"count"`
	Suffixes []BreachSuffix `json:"suffixes"`
}

// BreachRange asks which breached SHA-1 hashes start with prefix (5 hex
// digits): only the prefix is sent.
func (c *Client) BreachRange(ctx context.Context, prefix string) (*Breach, error) {
	return c.breach(ctx, url.Values{"hash_prefix": {prefix}})
}

// BreachHash asks whether the SHA-1 hash (40 hex digits) is breached; the
// server learns the hash, and records a match.
func (c *Client) BreachHash(ctx context.Context, sha1Hex string) (*Breach, error) {
	if len(sha1Hex) < 5 {
		return c.breach(ctx, url.Values{"hash_prefix": {sha1Hex}})
	}
	return c.breach(ctx, url.Values{"hash_prefix": {sha1Hex[:5]}, "hash_suffix": {sha1Hex[5:]}})
}

// PasswordBreachCount returns how often password appears in the breach
// data, sending only the first 5 hex digits of its SHA-1 hash (k-anonymity)
// and finishing the comparison here.
func (c *Client) PasswordBreachCount(ctx context.Context, password string) (int64, error) {
	sum := sha1.Sum([]byte(password))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	r, err := c.BreachRange(ctx, h[:5])
	if err != nil {
		return 0, err
	}
	for _, s := range r.Suffixes {
		if strings.EqualFold(s.Suffix, h[5:]) {
			return s.Count, nil
		}
	}
	return 0, nil
}

func (c *Client) breach(ctx context.Context, q url.Values) (*Breach, error) {
	var b Breach
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/password-breach-check", query: q}, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// Logins counts login attempts.
type Logins struct {
	Successful int64 `json:"successful"`
	Failed     int64 `json:"failed"`
}

// Counts are the report's counts, over the period or one day.
type Counts struct {
	Logins                   Logins `json:"logins"`
	NewIPVerifications       int64  `json:"new_ip_verifications"`
	SessionsTerminated       int64  `json:"sessions_terminated"`
	BlacklistedUsers         int64  `json:"blacklisted_users"`
	FileIntegrityViolations  int64  `json:"file_integrity_violations"`
	PasswordBreachesDetected int64  `json:"password_breaches_detected"`
}

// ReportDay is one UTC day of a report.
type ReportDay struct {
	Date string `json:"date"`
	Counts
}

// Report is the security report over a period.
type Report struct {
	Period struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"period"`
	Counts
	Daily []ReportDay `json:"daily"`
}

// SecurityReport builds the report over [from, to] (GET
// /api/admin/security-report): ISO 8601 dates or RFC 3339 date-times, ""
// for the server's defaults (the last 7 days).
func (c *Client) SecurityReport(ctx context.Context, from, to string) (*Report, error) {
	var r Report
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "/api/admin/security-report", query: period(from, to, "")}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// SecurityReportCSV returns the report's daily rows as CSV.
func (c *Client) SecurityReportCSV(ctx context.Context, from, to string) ([]byte, error) {
	b, _, err := c.send(ctx, call{method: http.MethodGet, path: "/api/admin/security-report", query: period(from, to, "csv")}, "text/csv")
	return b, err
}

// OpenAPI returns the server's OpenAPI document (GET
// /api/security/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	b, _, err := c.send(ctx, call{method: http.MethodGet, path: "/api/security/openapi.json", noAuth: true}, "application/json")
	return b, err
}

func period(from, to, format string) url.Values {
	v := url.Values{}
	if from != "" {
		v.Set("from", from)
	}
	if to != "" {
		v.Set("to", to)
	}
	if format != "" {
		v.Set("format", format)
	}
	return v
}

func setInt(v url.Values, name string, n int64) {
	if n != 0 {
		v.Set(name, strconv.FormatInt(n, 10))
	}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// IgnoreAlert marks one alert ignored (status 2).
func (c *Client) IgnoreAlert(ctx context.Context, id int64) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/ignore-alert", csrf: true,
		body: map[string]any{"alert_id": id}}, nil)
	return err
}

// IgnoreAlerts marks the alerts ids ignored, all or none, and returns the
// server's message ("N alert(s) ignored").
func (c *Client) IgnoreAlerts(ctx context.Context, ids ...int64) (string, error) {
	return c.bulk(ctx, "/api/security/bulk-ignore-alerts", ids)
}

// Deployment is a deployment window. EndedAt, EndedBy and Accepted are
// zero while it is open.
type Deployment struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	StartedAt   string `json:"started_at"`
	StartedBy   int64  `json:"started_by"`
	EndedAt     string `json:"ended_at"`
	EndedBy     int64  `json:"ended_by"`
	// Accepted counts the changes the window accepted into the baseline.
	Accepted int64 `json:"accepted"`
}

// Deployments is the answer of [Client.Deployments].
type Deployments struct {
	// Open is the open window, or nil.
	Open *Deployment `json:"open"`
	// Recent are the latest ended windows, latest first.
	Recent []Deployment `json:"recent"`
}

// Deployments returns the open deployment window and up to limit ended
// ones (0: the server's default).
func (c *Client) Deployments(ctx context.Context, limit int) (*Deployments, error) {
	v := url.Values{}
	setInt(v, "limit", int64(limit))
	var d Deployments
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "/api/security/deployments", query: v}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// BeginDeployment opens a deployment window: changes made while it is open
// are accepted into the baseline when it ends. If one is open already the
// [*Error] is a 409 conflict.
func (c *Client) BeginDeployment(ctx context.Context, description string) (*Deployment, error) {
	var d Deployment
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/deployments", csrf: true,
		body: map[string]string{"action": "begin", "description": description}}, &d)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// EndDeployment ends the open deployment window (a 404 when none is open)
// and returns it, with how many changes it accepted.
func (c *Client) EndDeployment(ctx context.Context) (*Deployment, error) {
	var d struct {
		Deployment Deployment `json:"deployment"`
	}
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/api/security/deployments", csrf: true,
		body: map[string]string{"action": "end"}}, &d)
	if err != nil {
		return nil, err
	}
	return &d.Deployment, nil
}
