package session

import (
	"errors"
	"time"

	"github.com/propops/propsec/security"
)

// observe passes x to Config.Observer, if set.
func (m *Manager) observe(x security.Measurement) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.Observe(x)
	}
}

// observeLogin measures a login that ended with err. A malformed request
// is not an attempt and is not measured.
func (m *Manager) observeLogin(err error) {
	if m.cfg.Observer == nil || errors.Is(err, security.ErrInvalid) {
		return
	}
	m.observe(security.Measurement{Kind: security.KindLogin, Result: loginResult(err)})
}

// loginResult is the Result of a [security.KindLogin] measurement.
func loginResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, security.ErrInvalidCredentials):
		return "bad_credentials"
	case errors.Is(err, security.ErrThrottled):
		return "throttled"
	case errors.Is(err, security.ErrBlacklisted):
		return "blacklisted"
	}
	return "error"
}

// observeAuthenticate measures a credential check that ended with err
// after d.
func (m *Manager) observeAuthenticate(err error, d time.Duration) {
	result := "ok"
	switch {
	case errors.Is(err, security.ErrUnauthenticated):
		result = "unauthenticated"
	case err != nil:
		result = "error"
	}
	m.observe(security.Measurement{Kind: security.KindAuthenticate, Result: result, Duration: d})
}

// observeBlacklist measures a user blacklisted and the n sessions that
// revoked.
func (m *Manager) observeBlacklist(n int) {
	m.observe(security.Measurement{Kind: security.KindBlacklisted})
	if n > 0 {
		m.observe(security.Measurement{Kind: security.KindSessionsTerminated, Result: "blacklisted", N: int64(n)})
	}
}
