package httpadapter

import (
	"errors"
	"net/http"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/security"
)

// CodeBreachSourceUnavailable is the error code of a breach check that could
// not be made because the breach source (HIBP, or the corpus file) failed.
// The answer is then 503, never "not breached".
const CodeBreachSourceUnavailable = "breach_source_unavailable"

// breachRoutes lists GET /api/security/password-breach-check, or nothing
// without Config.Breach.
func (h *Handler) breachRoutes() map[string]map[string]endpoint {
	if h.breach == nil {
		return nil
	}
	return map[string]map[string]endpoint{
		"/api/security/password-breach-check": {
			http.MethodGet: {auth: authAny, query: true, prepare: h.breachCheck},
		},
	}
}

// breachJSON answers a check with hash_suffix.
type breachJSON struct {
	Breached bool  `json:"breached"`
	Count    int64 `json:"count"`
}

// breachRangeJSON answers a check with the prefix alone: suffixes is always
// there, [] when no breached hash shares the prefix.
type breachRangeJSON struct {
	breachJSON
	Suffixes []breach.Entry `json:"suffixes"`
}

// breachCheck serves GET /api/security/password-breach-check?hash_prefix=
// [&hash_suffix=]. Only the prefix leaves the process. With the prefix
// alone, breached says whether any breached hash shares it, count how many
// do, and suffixes lists them so the client finishes the comparison; with
// hash_suffix, breached and count are exact for that one hash (and a match
// is audited as password_breach_detected).
func (h *Handler) breachCheck(c *call) (func() (reply, error), error) {
	q, err := queryValues(c.r)
	if err != nil {
		return nil, err
	}
	if err := allowOnly(q, "hash_prefix", "hash_suffix"); err != nil {
		return nil, err
	}
	rawPrefix, ok := q["hash_prefix"]
	if !ok {
		return nil, security.Invalid("hash_prefix", "is required")
	}
	prefix, err := breach.ParsePrefix(rawPrefix)
	if err != nil {
		return nil, err
	}
	suffix := ""
	if s, ok := q["hash_suffix"]; ok {
		if suffix, err = breach.ParseSuffix(s); err != nil {
			return nil, err
		}
		if h.breach.Kind() != breach.SHA1 {
			return nil, security.Invalid("hash_suffix", "this server's breach source does not hold SHA-1 hashes")
		}
	}
	return func() (reply, error) {
		ctx := c.r.Context()
		if suffix != "" {
			ctx = breach.ContextWithEvent(ctx, security.Event{ActorUserID: c.auth.Principal.UserID,
				ActorSessionID: c.auth.Session.ID, SubjectUserID: c.auth.Principal.UserID,
				IP: c.ip.String(), Details: map[string]string{"via": "password-breach-check"}})
			res, err := h.breach.CheckSHA1(ctx, prefix+suffix)
			if err != nil {
				return reply{}, h.breachError(c, err)
			}
			return reply{data: breachJSON{Breached: res.Breached, Count: res.Count}}, nil
		}
		r, err := h.breach.Range(ctx, prefix)
		if err != nil {
			return reply{}, h.breachError(c, err)
		}
		entries := r.Entries()
		return reply{data: breachRangeJSON{breachJSON: breachJSON{Breached: len(entries) > 0, Count: int64(len(entries))},
			Suffixes: entries}}, nil
	}, nil
}

// breachError turns a source failure into a 503 that says the check could
// not be made; the cause goes to the log only.
func (h *Handler) breachError(c *call, err error) error {
	if !errors.Is(err, security.ErrUnavailable) {
		return err
	}
	h.log.WarnContext(c.r.Context(), "propsec: breach source unavailable", "err", err.Error())
	return &httpError{status: http.StatusServiceUnavailable, code: CodeBreachSourceUnavailable,
		message: "The password breach source is unavailable; nothing was checked"}
}
