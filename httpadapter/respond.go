package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/propops/propsec/security"
)

// envelope is every response body: the success fields, or the error fields.
type envelope struct {
	Success bool   `json:"success"`
	Data    any    `json:"data,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
	Count   *int   `json:"count,omitempty"`
	Total   *int   `json:"total,omitempty"`
	Page    *int   `json:"page,omitempty"`
}

// reply is what an endpoint answers on success.
type reply struct {
	data    any
	message string
	count   *int
	total   *int
	page    *int
}

// Machine-readable error codes, the "error" field of an error response.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeUnauthenticated      = "unauthenticated"
	CodeInvalidCredentials   = "invalid_credentials"
	CodeForbidden            = "forbidden"
	CodeCSRFInvalid          = "csrf_invalid"
	CodeCrossOrigin          = "cross_origin"
	CodeAccountBlacklisted   = "account_blacklisted"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodeBodyTooLarge         = "body_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeTooManyAttempts      = "too_many_attempts"
	CodeInternal             = "internal_error"
	CodeUnavailable          = "unavailable"
)

// setCommonHeaders sets the headers every response carries, whatever its
// outcome.
func setCommonHeaders(w http.ResponseWriter) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
}

func writeJSON(w http.ResponseWriter, status int, body envelope) {
	setCommonHeaders(w)
	b, err := json.Marshal(body)
	if err != nil { // cannot happen: every body is built from plain values
		status = http.StatusInternalServerError
		b = []byte(`{"success":false,"message":"internal error","error":"internal_error"}`)
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeReply(w http.ResponseWriter, rep reply) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Data: rep.data, Message: rep.message,
		Count: rep.count, Total: rep.total, Page: rep.page})
}

// httpError is a refusal decided by the adapter itself (method, media type,
// body size, origin), with its status and public message.
type httpError struct {
	status  int
	code    string
	message string
	allow   string // for 405
}

func (e *httpError) Error() string { return e.message }

// publicError attaches the message shown to the client to a domain error,
// such as "Session not found" to an [security.ErrNotFound] from terminate,
// and optionally data the client needs to act on it (the running check's
// id with a 409).
type publicError struct {
	err     error
	message string
	data    any
}

func (e *publicError) Error() string { return e.err.Error() }
func (e *publicError) Unwrap() error { return e.err }

// describe gives err the public message msg when it wraps sentinel.
func describe(err, sentinel error, msg string) error {
	if err != nil && errors.Is(err, sentinel) {
		return &publicError{err: err, message: msg}
	}
	return err
}

// errInvalidToken is a credential that was presented but does not
// authenticate: malformed, unknown, revoked or expired.
var errInvalidToken = &publicError{err: security.ErrUnauthenticated, message: "Invalid or expired credentials"}

// problem is how an error is answered.
type problem struct {
	status     int
	code       string
	message    string
	allow      string
	retryAfter time.Duration
	wwwAuth    string
	data       any
}

// classify maps err to its response. Domain errors are recognised only
// through the sentinels of package security; anything else is a 500 whose
// details stay in the log.
func classify(err error) problem {
	var he *httpError
	if errors.As(err, &he) {
		return problem{status: he.status, code: he.code, message: he.message, allow: he.allow}
	}
	var p problem
	switch {
	case errors.Is(err, security.ErrCSRF):
		p = problem{status: http.StatusForbidden, code: CodeCSRFInvalid, message: "Invalid or missing CSRF token"}
	case errors.Is(err, security.ErrBlacklisted):
		p = problem{status: http.StatusForbidden, code: CodeAccountBlacklisted, message: "This account is blacklisted"}
	case errors.Is(err, security.ErrInvalidCredentials):
		p = problem{status: http.StatusUnauthorized, code: CodeInvalidCredentials, message: "Invalid email or password",
			wwwAuth: `Bearer realm="propsec"`}
	case errors.Is(err, security.ErrUnauthenticated):
		p = problem{status: http.StatusUnauthorized, code: CodeUnauthenticated, message: "Authentication required",
			wwwAuth: `Bearer realm="propsec"`}
		if errors.Is(err, errInvalidToken) {
			p.wwwAuth = `Bearer realm="propsec", error="invalid_token"`
		}
	case errors.Is(err, security.ErrForbidden):
		p = problem{status: http.StatusForbidden, code: CodeForbidden, message: "You do not have permission to do this"}
	case errors.Is(err, security.ErrInvalid):
		p = problem{status: http.StatusBadRequest, code: CodeInvalidRequest, message: "Invalid input"}
		var ie *security.InvalidError
		if errors.As(err, &ie) {
			p.message = ie.Error()
		}
	case errors.Is(err, security.ErrNotFound):
		p = problem{status: http.StatusNotFound, code: CodeNotFound, message: "Not found"}
	case errors.Is(err, security.ErrConflict):
		p = problem{status: http.StatusConflict, code: CodeConflict, message: "Conflict"}
	case errors.Is(err, security.ErrThrottled):
		p = problem{status: http.StatusTooManyRequests, code: CodeTooManyAttempts,
			message: "Too many attempts; try again later", retryAfter: time.Minute}
		var te *security.ThrottledError
		if errors.As(err, &te) {
			p.retryAfter = te.RetryAfter
		}
	case errors.Is(err, security.ErrUnavailable):
		p = problem{status: http.StatusServiceUnavailable, code: CodeUnavailable, message: "Service unavailable"}
	default:
		return problem{status: http.StatusInternalServerError, code: CodeInternal, message: "internal error"}
	}
	var pe *publicError
	if errors.As(err, &pe) {
		p.message, p.data = pe.message, pe.data
	}
	return p
}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := math.Ceil(d.Seconds())
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(int64(s), 10)
}

// fail answers err and logs it. The log line names the request by method and
// path only (never headers, query values, bodies or credentials); the error
// text of a 500 goes to the log and never to the client.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := classify(err)
	hdr := w.Header()
	if p.allow != "" {
		hdr.Set("Allow", p.allow)
	}
	if p.retryAfter > 0 {
		hdr.Set("Retry-After", retryAfterSeconds(p.retryAfter))
	}
	if p.wwwAuth != "" {
		hdr.Set("WWW-Authenticate", p.wwwAuth)
	}
	writeJSON(w, p.status, envelope{Success: false, Data: p.data, Message: p.message, Error: p.code})

	level := slog.LevelDebug
	msg := "propsec: request refused"
	if p.status >= 500 {
		level, msg = slog.LevelError, "propsec: request failed"
	}
	ctx := r.Context()
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug // the client went away
	}
	h.log.LogAttrs(ctx, level, msg,
		slog.String("method", r.Method),
		slog.String("path", security.CleanText(r.URL.Path, 256)),
		slog.Int("status", p.status),
		slog.String("code", p.code),
		slog.String("error", err.Error()))
}
