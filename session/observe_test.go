package session_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// tally counts measurements by kind and result, adding N where set.
type tally struct {
	mu  sync.Mutex
	got map[string]int64
}

func (t *tally) Observe(m security.Measurement) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.got == nil {
		t.got = map[string]int64{}
	}
	n := m.N
	if n == 0 {
		n = 1
	}
	t.got[string(m.Kind)+"/"+m.Result] += n
}

func TestObserver(t *testing.T) {
	obs := &tally{}
	f := newFixture(t, func(c *session.Config) { c.Observer = obs; c.MaxFailuresPerEmail = 2 })
	login := func(email, pw string) error {
		_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: email, Password: pw, Kind: session.KindWeb, IP: ipA})
		return err
	}
	admin := f.auth(f.login("ada@example.com", session.KindWeb, ipA))
	victim := f.login("vic@example.com", session.KindWeb, ipB)
	f.login("vic@example.com", session.KindMobile, ipB)

	require.ErrorIs(t, login("", "x"), security.ErrInvalid, "malformed: not an attempt")
	require.ErrorIs(t, login("nobody@example.com", "x"), security.ErrInvalidCredentials)
	require.ErrorIs(t, login("sam@example.com", "wrong"), security.ErrInvalidCredentials)
	require.ErrorIs(t, login("sam@example.com", "wrong"), security.ErrInvalidCredentials, "locks sam out")
	require.ErrorIs(t, login("sam@example.com", "pw-sam@example.com"), security.ErrThrottled)

	_, err := f.mgr.Authenticate(f.ctx, security.NewToken())
	require.ErrorIs(t, err, security.ErrUnauthenticated)
	_, err = f.mgr.Authenticate(f.ctx, victim.Token)
	require.NoError(t, err)

	require.NoError(t, f.mgr.Terminate(f.ctx, admin, victim.Session.ID, ipA))
	n, err := f.mgr.Blacklist(f.ctx, admin, victimID, "testing", ipA)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the mobile session is left")
	require.ErrorIs(t, login("vic@example.com", "pw-vic@example.com"), security.ErrBlacklisted)

	require.Equal(t, map[string]int64{
		"login/ok":                        3,
		"login/bad_credentials":           3,
		"login/throttled":                 1,
		"login/blacklisted":               1,
		"lockout/email":                   1,
		"authenticate/ok":                 2, // f.auth and the victim's
		"authenticate/unauthenticated":    1,
		"sessions_terminated/terminated":  1,
		"sessions_terminated/blacklisted": 1,
		"blacklisted/":                    1,
	}, obs.got)
}
