package httpadapter

import (
	"net/http"
	"time"

	"github.com/propops/propsec/security"
)

// observe passes m to Config.Observer, if set.
func (h *Handler) observe(m security.Measurement) {
	if h.obs != nil {
		h.obs.Observe(m)
	}
}

// observeProblem measures a refused or failed request that p answers: a
// CSRF refusal by reason, a cross-origin refusal, a failure of a store or
// dependency.
func (h *Handler) observeProblem(err error, p problem) {
	if h.obs == nil {
		return
	}
	switch {
	case p.code == CodeCSRFInvalid:
		h.observe(security.Measurement{Kind: security.KindCSRFRefused, Result: string(security.CSRFReasonOf(err))})
	case p.code == CodeCrossOrigin:
		h.observe(security.Measurement{Kind: security.KindCSRFRefused, Result: "cross_origin"})
	case p.status == http.StatusServiceUnavailable:
		h.observe(security.Measurement{Kind: security.KindStoreError, Result: "unavailable"})
	case p.status >= 500:
		h.observe(security.Measurement{Kind: security.KindStoreError, Result: "error"})
	}
}

// observeRequest measures c, answered with err (nil: success), if it was
// authenticated; start is when it was routed.
func (h *Handler) observeRequest(c *call, err error, start time.Time) {
	if h.obs == nil || c.auth.Session.ID == "" {
		return
	}
	status := http.StatusOK
	if err != nil {
		status = classify(err).status
	}
	h.observe(security.Measurement{Kind: security.KindRequest, Result: statusClass(status),
		Duration: time.Since(start)})
}

// statusClass is "2xx" for 200 to 299, and so on.
func statusClass(status int) string {
	switch {
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	}
	return "5xx"
}

// observe measures n refusal events that ended as result.
func (q *refusalQueue) observe(result string, n int) {
	if q.obs != nil {
		q.obs.Observe(security.Measurement{Kind: security.KindAuditEvents, Result: result, N: int64(n)})
	}
}
