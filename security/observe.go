package security

import (
	"errors"
	"time"
)

// Observer receives measurements of what the packages of this module do:
// logins, CSRF refusals, scans, breach lookups and so on. A host sets one in
// the Config of each package it wants measured and exports what it receives
// (for example to Prometheus, with package promexport); the packages know
// nothing of an exporter.
//
// Observe is called synchronously on the path it measures, often on every
// request, so it must be cheap, must not block and must be safe for
// concurrent use. It must not keep m.
//
// A Measurement never carries a user id, email, IP address, token, path or
// any other value a client chooses: its Kind and Result come from the fixed
// sets documented on [Kind].
type Observer interface {
	Observe(m Measurement)
}

// Measurement is one thing an [Observer] is told about.
type Measurement struct {
	// Kind says what was measured.
	Kind Kind
	// Result is one of the fixed values documented for Kind ("" where
	// none is).
	Result string
	// N is a count that goes with the measurement, where Kind says so
	// (files scanned, sessions terminated, audit events written).
	N int64
	// Duration is how long it took, where Kind says so.
	Duration time.Duration
}

// Kind names a measurement. Each kind's Result takes only the values listed
// with it.
type Kind string

// The kinds of measurements.
const (
	// KindLogin is a login attempt that was not malformed. Result:
	// "ok", "bad_credentials" (unknown email or wrong password),
	// "throttled", "blacklisted" or "error" (the store failed).
	KindLogin Kind = "login"
	// KindLockout is a failed login that locked an email or an IP out for
	// the rest of the window. Result: "email" or "ip".
	KindLockout Kind = "lockout"
	// KindAuthenticate is a credential checked by session.Manager's
	// Authenticate. Result: "ok", "unauthenticated" or "error". Duration:
	// the check.
	KindAuthenticate Kind = "authenticate"
	// KindRequest is an authenticated request to an endpoint of the HTTP
	// adapter, answered. Result: the status class ("2xx", "3xx", "4xx",
	// "5xx"). Duration: from routing to the answer.
	KindRequest Kind = "request"
	// KindCSRFRefused is a request refused by a CSRF or origin check.
	// Result: a [CSRFReason] or "cross_origin".
	KindCSRFRefused Kind = "csrf_refused"
	// KindSessionsTerminated is sessions ended by someone other than their
	// owner. Result: "terminated" (one session, by a staff action) or
	// "blacklisted" (every session of a user being blacklisted). N: how
	// many sessions.
	KindSessionsTerminated Kind = "sessions_terminated"
	// KindBlacklisted is a user added to the blacklist.
	KindBlacklisted Kind = "blacklisted"
	// KindScan is a finished integrity check. Result: "ok", "error" or
	// "canceled". N: files examined. Duration: the check.
	KindScan Kind = "scan"
	// KindRealtimeRecheck is a batch of paths re-checked by the integrity
	// monitor's real-time detection after file events.
	KindRealtimeRecheck Kind = "realtime_recheck"
	// KindRealtimeFallback is real-time detection falling back to a full
	// scan. Result: "overflow" (the kernel dropped events), "watch_limit"
	// (directories not watched) or "read_error" (events can no longer be
	// read).
	KindRealtimeFallback Kind = "realtime_fallback"
	// KindBreachLookup is a breach-corpus lookup. Result: "ok" or "error".
	// Duration: the lookup.
	KindBreachLookup Kind = "breach_lookup"
	// KindBreachCache is a breach range looked up in a cache. Result:
	// "hit" or "miss".
	KindBreachCache Kind = "breach_cache"
	// KindBreachUpstreamError is a breach source that failed. Result: the
	// source, "hibp", "corpus" or "other".
	KindBreachUpstreamError Kind = "breach_upstream_error"
	// KindAuditEvents is audit events of refused requests. Result:
	// "written", "dropped" (the queue was full) or "failed" (the write
	// failed). N: how many events.
	KindAuditEvents Kind = "audit_events"
	// KindStoreError is a request that failed because a store or another
	// dependency did. Result: "error" (a 500) or "unavailable" (a 503).
	KindStoreError Kind = "store_error"
)

// MultiObserver returns an Observer that passes every measurement to each
// of obs in turn. nil entries are skipped; with none left it returns nil,
// which the packages take as "measure nothing".
func MultiObserver(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		switch o := o.(type) {
		case nil:
		case multiObserver:
			list = append(list, o...)
		default:
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

type multiObserver []Observer

func (m multiObserver) Observe(x Measurement) {
	for _, o := range m {
		o.Observe(x)
	}
}

// CSRFReason says why a CSRF token was refused.
type CSRFReason string

// The reasons a CSRF token is refused.
const (
	// CSRFMissing: no token was sent, or there was no session to bind one
	// to.
	CSRFMissing CSRFReason = "missing"
	// CSRFForged: the token is not one this server could have issued (bad
	// length or characters, unknown version, several different tokens).
	CSRFForged CSRFReason = "forged"
	// CSRFForeign: a well-formed token whose MAC does not match this
	// session, or made in the other mode or for another purpose: usually a
	// token of another session. (A forgery of the right shape looks the
	// same: the MAC cannot tell them apart.)
	CSRFForeign CSRFReason = "foreign"
	// CSRFReplayed: a single-use token used before.
	CSRFReplayed CSRFReason = "replayed"
	// CSRFExpired: the token's lifetime is over.
	CSRFExpired CSRFReason = "expired"
)

// CSRFError is a refused CSRF token. It wraps [ErrCSRF].
type CSRFError struct {
	Reason CSRFReason
	// Detail says more, for logs.
	Detail string
}

// CSRFRefusal returns a [CSRFError] with reason and detail.
func CSRFRefusal(reason CSRFReason, detail string) error {
	return &CSRFError{Reason: reason, Detail: detail}
}

func (e *CSRFError) Error() string { return ErrCSRF.Error() + ": " + e.Detail }

// Is makes a CSRFError match [ErrCSRF].
func (e *CSRFError) Is(target error) bool { return target == ErrCSRF }

// CSRFReasonOf returns why err refused a CSRF token: the reason of a
// [CSRFError] in its chain, [CSRFForged] for any other error wrapping
// [ErrCSRF], and "" for an error that is not a CSRF refusal.
func CSRFReasonOf(err error) CSRFReason {
	var ce *CSRFError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	if errors.Is(err, ErrCSRF) {
		return CSRFForged
	}
	return ""
}
