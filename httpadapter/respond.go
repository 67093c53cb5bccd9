package httpadapter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
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
	// write, when set, answers instead of the JSON envelope (the CSV
	// report) and sets every header itself.
	write func(http.ResponseWriter)
	// status is the success status; zero means 200.
	status int
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
	b = append(b, '\n')
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeReply(w http.ResponseWriter, rep reply) {
	if rep.write != nil {
		rep.write(w)
		return
	}
	writeJSON(w, cmp.Or(rep.status, http.StatusOK), envelope{Success: true, Data: rep.data, Message: rep.message,
		Count: rep.count, Total: rep.total, Page: rep.page})
}

// httpError is a refusal decided by the adapter itself (method, media type,
// body size, origin), with its status and public message.
type httpError struct {
	status  int
	code    string
	message string
	allow   string // for 405
	data    any    // the error answer's data, if any
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
		return problem{status: he.status, code: he.code, message: he.message, allow: he.allow, data: he.data}
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
	h.failAs(w, r, session.Auth{}, err)
}

// failAs is fail for a request made as auth (zero: not authenticated); a
// refused authorization or CSRF check is also queued as an audit event.
func (h *Handler) failAs(w http.ResponseWriter, r *http.Request, auth session.Auth, err error) {
	p := h.account(r, auth, err)
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
}

// account classifies err, queues the audit event of a refusal (see
// noteRefusal) and logs it, and returns how to answer it.
func (h *Handler) account(r *http.Request, auth session.Auth, err error) problem {
	p := classify(err)
	h.noteRefusal(r, auth, p)
	h.observeProblem(err, p)
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
	return p
}

// The audit events of refused requests, recorded when [Config.Events] is set.
const (
	// EventAuthorizationRefused is a request refused with 401 (no, or an
	// invalid, credential) or 403 (not staff, missing permission). Details:
	// method, path, status, code.
	EventAuthorizationRefused security.EventType = "authorization_refused"
	// EventCSRFFailed is a state-changing request refused for a missing,
	// forged, foreign or replayed CSRF token (code csrf_invalid) or as a
	// cross-origin browser request (code cross_origin).
	EventCSRFFailed security.EventType = "csrf_failed"
)

// DefaultRefusalQueue is the default of [Config.RefusalQueue].
const DefaultRefusalQueue = 1024

// refusalBatch is the most events one write carries.
const refusalBatch = 256

// refusalQueue carries refusal events from requests to [Handler.Run].
//
// Why asynchronous and bounded: a refusal is cheap for a client to cause
// (any request without a credential), and a durable event costs a commit
// (an fsync). Writing it inside the request would let an unauthenticated
// flood cap the server at the store's commit rate and amplify each refused
// request into a disk write. Instead the request only tries to put the
// event on a buffered channel; [Handler.Run] drains it, writing up to
// refusalBatch events per transaction (one fsync for a burst). When the
// queue is full the event is dropped and counted, so a flood costs a
// bounded amount of memory and at most one commit per batch, and the drop
// count ([Handler.RefusalStats]) tells the operator that refusals were
// lost. The log line of every refusal (Config.Logger) is still written.
type refusalQueue struct {
	events   security.EventRecorder
	obs      security.Observer
	ch       chan security.Event
	recorded atomic.Uint64
	dropped  atomic.Uint64
	failed   atomic.Uint64
}

func newRefusalQueue(events security.EventRecorder, size int) *refusalQueue {
	if size == 0 {
		size = DefaultRefusalQueue
	}
	return &refusalQueue{events: events, ch: make(chan security.Event, size)}
}

// noteRefusal queues the audit event of a refused request, if p is a
// refused authorization or CSRF check. Login failures (invalid_credentials,
// account_blacklisted) are left out: package session records them. The
// event names the request by method and path, never its headers, query,
// body or credentials; the actor by user id and public session id.
func (h *Handler) noteRefusal(r *http.Request, auth session.Auth, p problem) {
	q := h.refusals
	if q == nil {
		return
	}
	var typ security.EventType
	switch p.code {
	case CodeUnauthenticated, CodeForbidden:
		typ = EventAuthorizationRefused
	case CodeCSRFInvalid, CodeCrossOrigin:
		typ = EventCSRFFailed
	default:
		return
	}
	ev := security.Event{Time: security.Now(h.clock), Type: typ, ActorUserID: auth.Principal.UserID,
		ActorSessionID: auth.Session.ID, Subject: security.CleanText(r.URL.Path, 256),
		IP: ClientIP(r, h.trusted).String(),
		Details: map[string]string{"method": security.CleanText(r.Method, 16),
			"status": strconv.Itoa(p.status), "code": p.code}}
	select {
	case q.ch <- ev:
	default:
		q.dropped.Add(1)
		q.observe("dropped", 1)
	}
}

// RefusalStats counts the refused requests of [Config.Events]: recorded
// (repeats within one batch share one event, whose "count" detail says how
// many it stands for), dropped because the queue was full, and lost because
// a write failed. All zero without Config.Events.
type RefusalStats struct {
	Recorded, Dropped, Failed uint64
	// Queued is how many wait for [Handler.Run] now.
	Queued int
}

// RefusalStats returns the counters of the refusal events, for metrics.
func (h *Handler) RefusalStats() RefusalStats {
	q := h.refusals
	if q == nil {
		return RefusalStats{}
	}
	return RefusalStats{Recorded: q.recorded.Load(), Dropped: q.dropped.Load(), Failed: q.failed.Load(),
		Queued: len(q.ch)}
}

// Run writes the queued refusal events ([Config.Events]) until ctx is
// done, then writes what is still queued and returns nil. Run it in its own
// goroutine, once; without Config.Events it waits for ctx and returns.
// Until Run runs, refusal events queue up to Config.RefusalQueue and are
// then dropped.
func (h *Handler) Run(ctx context.Context) error {
	q := h.refusals
	if q == nil {
		<-ctx.Done()
		return nil
	}
	batch := make([]security.Event, 0, refusalBatch)
	for {
		select {
		case ev := <-q.ch:
			batch = q.fill(append(batch[:0], ev))
			// A write under way finishes even if ctx ends meanwhile.
			q.write(context.WithoutCancel(ctx), h.log, batch)
		case <-ctx.Done():
			// Flush what is queued now, with a bounded grace.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for len(q.ch) > 0 && fctx.Err() == nil {
				batch = q.fill(batch[:0])
				q.write(fctx, h.log, batch)
			}
			return nil
		}
	}
}

// refusalKey is what makes two refusal events repeats of each other.
type refusalKey struct {
	typ                  security.EventType
	user                 int64
	session, path, ip    string
	method, status, code string
}

// coalesce merges the repeats within one batch (same type, actor, path,
// client IP, method and outcome) into the first of them, whose details then
// hold "count" (how many refusals it stands for) and "last" (the time of the
// last, RFC 3339 with nanoseconds). Under a flood from one client this turns
// a batch of 256 rows into one, so the writes cost little CPU as well as
// one commit per batch.
func coalesce(batch []security.Event) []security.Event {
	if len(batch) < 2 {
		return batch
	}
	seen := make(map[refusalKey]int, len(batch))
	counts := make([]int, 0, len(batch))
	out := batch[:0]
	for _, ev := range batch {
		k := refusalKey{ev.Type, ev.ActorUserID, ev.ActorSessionID, ev.Subject, ev.IP,
			ev.Details["method"], ev.Details["status"], ev.Details["code"]}
		if i, ok := seen[k]; ok {
			counts[i]++
			out[i].Details["last"] = ev.Time.UTC().Format(time.RFC3339Nano)
			continue
		}
		seen[k] = len(out)
		out = append(out, ev)
		counts = append(counts, 1)
	}
	for i, n := range counts {
		if n > 1 {
			out[i].Details["count"] = strconv.Itoa(n)
		}
	}
	return out
}

// fill appends queued events to batch without waiting, up to refusalBatch.
func (q *refusalQueue) fill(batch []security.Event) []security.Event {
	for len(batch) < refusalBatch {
		select {
		case ev := <-q.ch:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// write records batch in one call (one transaction), within ctx, after
// coalescing repeats.
func (q *refusalQueue) write(ctx context.Context, log *slog.Logger, batch []security.Event) {
	if len(batch) == 0 {
		return
	}
	if err := q.events.RecordEvents(ctx, coalesce(batch)...); err != nil {
		q.failed.Add(uint64(len(batch)))
		q.observe("failed", len(batch))
		log.LogAttrs(ctx, slog.LevelError, "propsec: recording refusal events failed",
			slog.Int("events", len(batch)), slog.String("error", err.Error()))
		return
	}
	q.recorded.Add(uint64(len(batch)))
	q.observe("written", len(batch))
}
