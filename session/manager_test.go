package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/stretchr/testify/require"
)

// cheap keeps argon2 fast in tests; the production defaults are tested in
// password_test.go and measured by BenchmarkLoginTiming.
var cheap = session.Hasher{Memory: 64, Time: 1, Threads: 1}

var (
	ipA = netip.MustParseAddr("203.0.113.10")
	ipB = netip.MustParseAddr("198.51.100.7")
)

type fixture struct {
	t     *testing.T
	ctx   context.Context
	store fixtureStore
	clock *fakeclock.Clock
	mgr   *session.Manager
	// notices collects OnNewIP calls.
	notices []session.NewIPNotice
}

const (
	adminID    = 1 // staff, every permission
	staffID    = 2 // staff, no permission
	customerID = 3 // not staff
	victimID   = 4 // staff, no permission
)

// fixtureStore is what the fixture needs of a store.
type fixtureStore interface {
	session.Store
	session.UserDirectory
	UpsertUser(ctx context.Context, u session.User) error
	Events(ctx context.Context) ([]security.Event, error)
	LoginFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error)
	SetPasswordHash(ctx context.Context, userID int64, phc string) error
}

func newFixture(t *testing.T, tweak ...func(*session.Config)) *fixture {
	t.Helper()
	return newFixtureOn(t, memstore.New(), tweak...)
}

// newFixtureOn is newFixture on the store st.
func newFixtureOn(t *testing.T, st fixtureStore, tweak ...func(*session.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), store: st,
		clock: fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	users := []session.User{
		{Principal: security.Principal{UserID: adminID, Name: "Ada Admin", Email: "ada@example.com",
			AccountType: security.AccountStaff, Permissions: security.AllPermissions}},
		{Principal: security.Principal{UserID: staffID, Name: "Sam Staff", Email: "sam@example.com",
			AccountType: security.AccountStaff}},
		{Principal: security.Principal{UserID: customerID, Name: "Cy Customer", Email: "cy@example.com",
			AccountType: security.AccountCustomer, Permissions: security.AllPermissions}},
		{Principal: security.Principal{UserID: victimID, Name: "Vic Tim", Email: "vic@example.com",
			AccountType: security.AccountStaff}},
	}
	for _, u := range users {
		h, err := cheap.Hash("pw-" + u.Email)
		require.NoError(t, err)
		u.PasswordHash = h
		require.NoError(t, f.store.UpsertUser(f.ctx, u))
	}
	cfg := session.Config{Store: f.store, Users: f.store, Clock: f.clock, Hasher: cheap,
		OnNewIP: func(_ context.Context, n session.NewIPNotice) { f.notices = append(f.notices, n) }}
	for _, tw := range tweak {
		tw(&cfg)
	}
	m, err := session.New(cfg)
	require.NoError(t, err)
	f.mgr = m
	return f
}

func (f *fixture) login(email string, kind session.Kind, ip netip.Addr) session.LoginResult {
	f.t.Helper()
	res, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: email, Password: "pw-" + email, Kind: kind, IP: ip, UserAgent: "test/1.0"})
	require.NoError(f.t, err)
	return res
}

func (f *fixture) auth(res session.LoginResult) session.Auth {
	f.t.Helper()
	a, err := f.mgr.Authenticate(f.ctx, res.Token)
	require.NoError(f.t, err)
	return a
}

func (f *fixture) events(typ security.EventType) []security.Event {
	return eventsOfType(f.t, f.store, typ)
}

// eventsOfType returns the events of typ that st recorded, oldest first.
func eventsOfType(t *testing.T, st interface {
	Events(context.Context) ([]security.Event, error)
}, typ security.EventType) []security.Event {
	t.Helper()
	all, err := st.Events(context.Background())
	require.NoError(t, err)
	var out []security.Event
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (f *fixture) live(token string) bool {
	_, err := f.mgr.Authenticate(f.ctx, token)
	if err != nil && !errors.Is(err, security.ErrUnauthenticated) {
		f.t.Fatal(err)
	}
	return err == nil
}

func TestLoginCreatesSession(t *testing.T) {
	f := newFixture(t)
	web := f.login("ada@example.com", session.KindWeb, ipA)
	require.True(t, security.ValidTokenFormat(web.Token))
	require.True(t, security.ValidID(session.IDPrefix, web.Session.ID))
	require.Equal(t, security.HashToken(web.Token), web.Session.TokenHash)
	require.Equal(t, int64(adminID), web.Principal.UserID)
	require.Equal(t, f.clock.Now().Add(12*time.Hour), web.Session.ExpiresAt)
	require.Equal(t, 30*time.Minute, web.Session.IdleTimeout)
	require.Equal(t, "test/1.0", web.Session.UserAgent)
	require.Equal(t, "", web.Session.Location, "a public IP with no table is unknown")

	mres, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: " ADA@example.com ", Password: "pw-ada@example.com",
		Kind: session.KindMobile, IP: netip.MustParseAddr("10.1.2.3")})
	require.NoError(t, err, "emails are trimmed; memstore compares them case-insensitively")
	mob := mres
	require.Equal(t, f.clock.Now().Add(90*24*time.Hour), mob.Session.ExpiresAt)
	require.Equal(t, session.LocalNetworkName, mob.Session.Location)

	stored, err := f.store.SessionByID(f.ctx, web.Session.ID)
	require.NoError(t, err)
	require.Equal(t, web.Session.TokenHash, stored.TokenHash, "only the hash is stored")
	require.Len(t, f.events(security.EventLoginSucceeded), 2)
	require.Len(t, f.events(security.EventTokenIssued), 1, "bearer tokens are audited")
}

func TestLoginBadInputIsNotAnAttempt(t *testing.T) {
	f := newFixture(t)
	long := make([]byte, session.MaxPasswordBytes+1)
	cases := map[string]session.LoginRequest{
		"no email":      {Password: "x", Kind: session.KindWeb},
		"blank email":   {Email: "   ", Password: "x", Kind: session.KindWeb},
		"no password":   {Email: "ada@example.com", Kind: session.KindWeb},
		"long password": {Email: "ada@example.com", Password: string(long), Kind: session.KindWeb},
		"long email":    {Email: string(long[:300]), Password: "x", Kind: session.KindWeb},
		"bad kind":      {Email: "ada@example.com", Password: "x", Kind: "tv"},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.mgr.Login(f.ctx, req)
			require.ErrorIs(t, err, security.ErrInvalid)
		})
	}
	all, _ := f.store.Events(f.ctx)
	require.Empty(t, all, "malformed requests are not attempts")
}

func TestLoginFailures(t *testing.T) {
	f := newFixture(t)
	_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "ada@example.com", Password: "wrong", Kind: session.KindWeb, IP: ipA})
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	_, err2 := f.mgr.Login(f.ctx, session.LoginRequest{Email: "nobody@example.com", Password: "wrong", Kind: session.KindWeb, IP: ipA})
	require.ErrorIs(t, err2, security.ErrInvalidCredentials)
	require.Equal(t, err.Error(), err2.Error(), "unknown email and wrong password look the same")

	failed := f.events(security.EventLoginFailed)
	require.Len(t, failed, 2)
	require.Equal(t, "bad_credentials", failed[0].Details["reason"])
	require.Equal(t, "unknown_user", failed[1].Details["reason"])
	require.Empty(t, f.events(security.EventLoginSucceeded))
}

func TestThrottlingByEmail(t *testing.T) {
	f := newFixture(t)
	wrong := session.LoginRequest{Email: "ada@example.com", Password: "wrong", Kind: session.KindWeb, IP: ipA}
	for i := range 5 {
		_, err := f.mgr.Login(f.ctx, wrong)
		require.ErrorIs(t, err, security.ErrInvalidCredentials, "attempt %d", i+1)
		f.clock.Advance(time.Minute)
	}
	require.Len(t, f.events(security.EventLockout), 1, "one lockout event when the limit is reached")

	// Locked out: even the right password is refused without being checked.
	_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "ada@example.com", Password: "pw-ada@example.com", Kind: session.KindWeb, IP: ipB})
	var th *security.ThrottledError
	require.ErrorAs(t, err, &th)
	// The first failure was 5 minutes ago; it leaves the window in 10.
	require.Equal(t, 10*time.Minute, th.RetryAfter)
	failed := f.events(security.EventLoginFailed)
	require.Equal(t, "throttled", failed[len(failed)-1].Details["reason"], "a throttled attempt counts as a failed login")

	// Throttled attempts do not extend the lockout.
	for range 10 {
		_, err = f.mgr.Login(f.ctx, wrong)
		require.ErrorIs(t, err, security.ErrThrottled)
	}
	f.clock.Advance(10 * time.Minute)
	res, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "ada@example.com", Password: "pw-ada@example.com", Kind: session.KindWeb, IP: ipB})
	require.NoError(t, err, "the oldest failure left the window")
	require.NotEmpty(t, res.Token)

	// Success clears the email's failures: 4 more failures do not lock.
	for range 4 {
		_, err := f.mgr.Login(f.ctx, wrong)
		require.ErrorIs(t, err, security.ErrInvalidCredentials)
	}
	f.login("ada@example.com", session.KindWeb, ipA)

	// Other emails were never affected.
	f.login("sam@example.com", session.KindWeb, ipA)
}

func TestThrottlingByIP(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.MaxFailuresPerIP = 6 })
	for i := range 6 {
		_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "guess" + string(rune('a'+i)) + "@example.com",
			Password: "x", Kind: session.KindWeb, IP: ipA})
		require.ErrorIs(t, err, security.ErrInvalidCredentials)
	}
	_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "sam@example.com", Password: "pw-sam@example.com", Kind: session.KindWeb, IP: ipA})
	require.ErrorIs(t, err, security.ErrThrottled)
	f.login("sam@example.com", session.KindWeb, ipB) // another IP is fine
	require.Len(t, f.events(security.EventLockout), 1)
}

// TestThrottlingConcurrent: wrong passwords sent all at once are counted
// one after another, so no more than the limit reach the hash, and the
// lockout is recorded once.
func TestThrottlingConcurrent(t *testing.T) {
	f := newFixture(t)
	const n = 40
	errs := make(chan error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "ada@example.com", Password: "wrong",
				Kind: session.KindWeb, IP: ipA})
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	counts := map[string]int{}
	for err := range errs {
		switch {
		case errors.Is(err, security.ErrInvalidCredentials):
			counts["checked"]++
		case errors.Is(err, security.ErrThrottled):
			counts["throttled"]++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	require.Equal(t, map[string]int{"checked": 5, "throttled": n - 5}, counts)
	require.Len(t, f.events(security.EventLockout), 1)
	require.Len(t, f.events(security.EventLoginFailed), n, "every attempt is a failed login")
	failures, _, err := f.store.LoginFailures(f.ctx, "email:ada@example.com", time.Time{})
	require.NoError(t, err)
	require.Equal(t, 5, failures, "throttled attempts record no failure")
}

// TestThrottlingWithdrawsRightPasswords: an attempt is reserved as a
// failure before its password is checked; a right password withdraws it, so
// successful logins, and a blacklisted user's right password, never add up
// to a lockout.
func TestThrottlingWithdrawsRightPasswords(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.MaxFailuresPerIP, c.MaxFailuresPerEmail = 2, 2 })
	for range 4 {
		f.login("sam@example.com", session.KindWeb, ipA)
	}
	admin := f.auth(f.login("ada@example.com", session.KindWeb, ipB))
	_, err := f.mgr.Blacklist(f.ctx, admin, victimID, "testing", ipB)
	require.NoError(t, err)
	for range 4 {
		_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "vic@example.com", Password: "pw-vic@example.com",
			Kind: session.KindWeb, IP: ipA})
		require.ErrorIs(t, err, security.ErrBlacklisted)
	}
	for _, key := range []string{"ip:" + ipA.String(), "email:sam@example.com", "email:vic@example.com"} {
		n, _, err := f.store.LoginFailures(f.ctx, key, time.Time{})
		require.NoError(t, err)
		require.Zero(t, n, key)
	}
	f.login("sam@example.com", session.KindWeb, ipA)
}

// Retry-After waits for the key that is locked, not for a key with
// younger failures that is still under its limit.
func TestThrottlingRetryAfterCountsOnlyLockedKeys(t *testing.T) {
	f := newFixture(t)
	for range 5 {
		_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "ada@example.com", Password: "wrong", Kind: session.KindWeb, IP: ipB})
		require.ErrorIs(t, err, security.ErrInvalidCredentials)
	}
	f.clock.Advance(14 * time.Minute)
	// A fresh failure from ipA for another email: ipA has 1, far under 50,
	// and its oldest failure leaves the window only in 15 minutes.
	_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "nobody@example.com", Password: "x", Kind: session.KindWeb, IP: ipA})
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	_, err = f.mgr.Login(f.ctx, session.LoginRequest{Email: "ada@example.com", Password: "wrong", Kind: session.KindWeb, IP: ipA})
	var th *security.ThrottledError
	require.ErrorAs(t, err, &th)
	require.Equal(t, time.Minute, th.RetryAfter, "ada's oldest failure leaves the window in a minute")
}

func TestBlacklistedLogin(t *testing.T) {
	f := newFixture(t)
	admin := f.auth(f.login("ada@example.com", session.KindWeb, ipA))
	_, err := f.mgr.Blacklist(f.ctx, admin, victimID, "testing", ipA)
	require.NoError(t, err)

	_, err = f.mgr.Login(f.ctx, session.LoginRequest{Email: "vic@example.com", Password: "pw-vic@example.com", Kind: session.KindMobile, IP: ipA})
	require.ErrorIs(t, err, security.ErrBlacklisted)
	_, err = f.mgr.Login(f.ctx, session.LoginRequest{Email: "vic@example.com", Password: "wrong", Kind: session.KindMobile, IP: ipA})
	require.ErrorIs(t, err, security.ErrInvalidCredentials, "blacklisting is revealed only to the right password")

	require.NoError(t, f.mgr.Unblacklist(f.ctx, admin, victimID, ipA))
	f.login("vic@example.com", session.KindMobile, ipA)
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	res := f.login("sam@example.com", session.KindWeb, ipA)
	a := f.auth(res)
	require.Equal(t, res.Session.ID, a.Session.ID)
	require.Equal(t, "Sam Staff", a.Principal.Name)

	for _, bad := range []string{"", "abc", res.Token[:63], res.Token + "0", security.NewToken()} {
		_, err := f.mgr.Authenticate(f.ctx, bad)
		require.ErrorIs(t, err, security.ErrUnauthenticated, bad)
	}

	t.Run("last_active is debounced", func(t *testing.T) {
		f.clock.Advance(59 * time.Second)
		require.Equal(t, res.Session.LastActive, f.auth(res).Session.LastActive)
		f.clock.Advance(time.Second)
		now := f.clock.Now()
		require.Equal(t, now, f.auth(res).Session.LastActive)
		stored, _ := f.store.SessionByID(f.ctx, res.Session.ID)
		require.Equal(t, now, stored.LastActive)
	})
	t.Run("idle timeout", func(t *testing.T) {
		f.clock.Advance(29 * time.Minute)
		require.True(t, f.live(res.Token))
		f.clock.Advance(30 * time.Minute)
		require.False(t, f.live(res.Token))
	})
	t.Run("absolute lifetime", func(t *testing.T) {
		r := f.login("sam@example.com", session.KindWeb, ipA)
		for range 24 { // active every 29 minutes for 12 hours
			f.clock.Advance(29 * time.Minute)
			require.True(t, f.live(r.Token))
		}
		f.clock.Advance(time.Hour)
		require.False(t, f.live(r.Token))
	})
	t.Run("deleted user", func(t *testing.T) {
		r := f.login("vic@example.com", session.KindWeb, ipA)
		other := memstore.New() // a directory that no longer knows the user
		m2, err := session.New(session.Config{Store: f.store, Users: other, Clock: f.clock, Hasher: cheap})
		require.NoError(t, err)
		_, err = m2.Authenticate(f.ctx, r.Token)
		require.ErrorIs(t, err, security.ErrUnauthenticated)
	})
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	res := f.login("sam@example.com", session.KindWeb, ipA)
	require.NoError(t, f.mgr.Logout(f.ctx, f.auth(res), ipA))
	require.False(t, f.live(res.Token))
	require.Len(t, f.events(security.EventLogout), 1)
	mob := f.login("sam@example.com", session.KindMobile, ipA)
	require.NoError(t, f.mgr.Logout(f.ctx, f.auth(mob), ipA))
	require.Len(t, f.events(security.EventTokenRevoked), 1, "a mobile logout is a token revocation")
}

func TestNewIPVerification(t *testing.T) {
	f := newFixture(t)
	first := f.login("sam@example.com", session.KindWeb, ipA)
	require.False(t, first.NewIP, "the first ever login does not count")
	require.False(t, f.login("sam@example.com", session.KindMobile, ipA).NewIP)
	r := f.login("sam@example.com", session.KindWeb, ipB)
	require.True(t, r.NewIP)
	require.False(t, f.login("sam@example.com", session.KindWeb, ipB).NewIP)
	// A failed login from a new address teaches nothing.
	_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "sam@example.com", Password: "no", Kind: session.KindWeb, IP: netip.MustParseAddr("192.0.2.1")})
	require.Error(t, err)
	require.True(t, f.login("sam@example.com", session.KindWeb, netip.MustParseAddr("192.0.2.1")).NewIP)

	evs := f.events(security.EventNewIPVerification)
	require.Len(t, evs, 2)
	require.Equal(t, ipB.String(), evs[0].IP)
	require.Len(t, f.notices, 2)
	require.Equal(t, r.Session.ID, f.notices[0].SessionID)
	require.Equal(t, "sam@example.com", f.notices[0].User.Email)
}

func TestRehashOnLogin(t *testing.T) {
	f := newFixture(t)
	before, _ := f.store.UserByID(f.ctx, staffID)
	stronger := session.Hasher{Memory: 128, Time: 1, Threads: 1}
	m2, err := session.New(session.Config{Store: f.store, Users: f.store, Clock: f.clock, Hasher: stronger})
	require.NoError(t, err)
	_, err = m2.Login(f.ctx, session.LoginRequest{Email: "sam@example.com", Password: "pw-sam@example.com", Kind: session.KindWeb, IP: ipA})
	require.NoError(t, err)
	after, _ := f.store.UserByID(f.ctx, staffID)
	require.NotEqual(t, before.PasswordHash, after.PasswordHash)
	require.Contains(t, after.PasswordHash, "m=128,t=1,p=1")
	ok, stale, err := stronger.Verify(after.PasswordHash, "pw-sam@example.com")
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, stale)
}

func TestTerminate(t *testing.T) {
	f := newFixture(t)
	admin := f.auth(f.login("ada@example.com", session.KindWeb, ipA))
	staff := f.auth(f.login("sam@example.com", session.KindWeb, ipA))
	staffOther := f.login("sam@example.com", session.KindMobile, ipA)
	customer := f.auth(f.login("cy@example.com", session.KindWeb, ipA))
	victim := f.login("vic@example.com", session.KindWeb, ipA)

	cases := []struct {
		name  string
		actor session.Auth
		id    string
		want  error
	}{
		{"non-staff", customer, victim.Session.ID, security.ErrForbidden},
		{"staff without permission, other user", staff, victim.Session.ID, security.ErrForbidden},
		{"own current session", admin, admin.Session.ID, security.ErrInvalid},
		{"malformed id", admin, "sess_../../etc", security.ErrInvalid},
		{"unknown id", admin, security.NewID(session.IDPrefix), security.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, f.mgr.Terminate(f.ctx, tc.actor, tc.id, ipA), tc.want)
		})
	}
	require.True(t, f.live(victim.Token), "refused terminations changed nothing")
	_, err := f.mgr.Authenticate(f.ctx, victim.Session.ID)
	require.ErrorIs(t, err, security.ErrUnauthenticated, "a public session id is not a credential")
	require.Empty(t, f.events(security.EventSessionTerminated))

	// Any staff member may end their own other sessions.
	require.NoError(t, f.mgr.Terminate(f.ctx, staff, staffOther.Session.ID, ipA))
	require.False(t, f.live(staffOther.Token))
	require.ErrorIs(t, f.mgr.Terminate(f.ctx, staff, staffOther.Session.ID, ipA), security.ErrNotFound, "already terminated")

	require.NoError(t, f.mgr.Terminate(f.ctx, admin, victim.Session.ID, ipA))
	require.False(t, f.live(victim.Token))
	evs := f.events(security.EventSessionTerminated)
	require.Len(t, evs, 2)
	require.Equal(t, victim.Session.ID, evs[1].Subject)
	require.Equal(t, int64(adminID), evs[1].ActorUserID)
}

func TestBlacklist(t *testing.T) {
	f := newFixture(t)
	admin := f.auth(f.login("ada@example.com", session.KindWeb, ipA))
	staff := f.auth(f.login("sam@example.com", session.KindWeb, ipA))
	v1 := f.login("vic@example.com", session.KindWeb, ipA)
	v2 := f.login("vic@example.com", session.KindMobile, ipA)
	v3 := f.login("vic@example.com", session.KindMobile, ipB)
	// A session that already ended is not counted as terminated.
	v0 := f.login("vic@example.com", session.KindWeb, ipA)
	require.NoError(t, f.mgr.Logout(f.ctx, f.auth(v0), ipA))

	long := make([]rune, session.MaxReasonRunes+1)
	for i := range long {
		long[i] = 'é'
	}
	bad := []struct {
		name   string
		actor  session.Auth
		user   int64
		reason string
		want   error
	}{
		{"no permission", staff, victimID, "x", security.ErrForbidden},
		{"empty reason", admin, victimID, "  ", security.ErrInvalid},
		{"long reason", admin, victimID, string(long), security.ErrInvalid},
		{"zero user", admin, 0, "x", security.ErrInvalid},
		{"self", admin, adminID, "x", security.ErrInvalid},
		{"unknown user", admin, 999, "x", security.ErrNotFound},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.mgr.Blacklist(f.ctx, tc.actor, tc.user, tc.reason, ipA)
			require.ErrorIs(t, err, tc.want)
		})
	}
	require.True(t, f.live(v1.Token))
	list, err := f.mgr.ListBlacklist(f.ctx, admin)
	require.NoError(t, err)
	require.Empty(t, list)

	n, err := f.mgr.Blacklist(f.ctx, admin, victimID, string(long[:session.MaxReasonRunes]), ipA)
	require.NoError(t, err, "exactly the maximum length is fine")
	require.Equal(t, 3, n)
	for _, r := range []session.LoginResult{v1, v2, v3} {
		require.False(t, f.live(r.Token))
	}
	require.Len(t, f.events(security.EventBlacklistAdded), 1)
	require.Len(t, f.events(security.EventSessionTerminated), 3, "three revoked sessions count as three terminations")

	_, err = f.mgr.Blacklist(f.ctx, admin, victimID, "again", ipA)
	require.ErrorIs(t, err, security.ErrConflict)

	list, err = f.mgr.ListBlacklist(f.ctx, admin)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "Vic Tim", list[0].UserName)
	require.Equal(t, int64(adminID), list[0].BlacklistedBy)
	_, err = f.mgr.ListBlacklist(f.ctx, staff)
	require.ErrorIs(t, err, security.ErrForbidden)

	require.ErrorIs(t, f.mgr.Unblacklist(f.ctx, staff, victimID, ipA), security.ErrForbidden)
	require.ErrorIs(t, f.mgr.Unblacklist(f.ctx, admin, staffID, ipA), security.ErrNotFound)
	require.NoError(t, f.mgr.Unblacklist(f.ctx, admin, victimID, ipA))
	require.ErrorIs(t, f.mgr.Unblacklist(f.ctx, admin, victimID, ipA), security.ErrNotFound)
	require.False(t, f.live(v2.Token), "removal revives nothing")
	f.login("vic@example.com", session.KindMobile, ipA)
}

func TestList(t *testing.T) {
	f := newFixture(t)
	admin := f.auth(f.login("ada@example.com", session.KindWeb, ipA))
	staff := f.auth(f.login("sam@example.com", session.KindWeb, ipA))
	for range 3 {
		f.clock.Advance(time.Second)
		f.login("vic@example.com", session.KindMobile, ipA)
	}
	gone := f.login("vic@example.com", session.KindWeb, ipA)
	require.NoError(t, f.mgr.Terminate(f.ctx, admin, gone.Session.ID, ipA))

	_, _, err := f.mgr.List(f.ctx, staff, session.ListOptions{})
	require.ErrorIs(t, err, security.ErrForbidden)

	all, total, err := f.mgr.List(f.ctx, admin, session.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, 5, total, "terminated sessions are not listed")
	require.Len(t, all, 5)
	current := 0
	for _, s := range all {
		if s.IsCurrent {
			current++
			require.Equal(t, admin.Session.ID, s.ID)
		}
	}
	require.Equal(t, 1, current)

	page, total, err := f.mgr.List(f.ctx, admin, session.ListOptions{UserID: victimID, Page: 2, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, 3, total)
	require.Len(t, page, 1)
	require.Equal(t, "Vic Tim", page[0].UserName)

	for _, o := range []session.ListOptions{{Page: -1}, {Limit: 1001}, {Limit: -1}, {UserID: -5}, {Page: 1 << 30, Limit: 1000}} {
		_, _, err := f.mgr.List(f.ctx, admin, o)
		require.ErrorIs(t, err, security.ErrInvalid, "%+v", o)
	}
}

func TestNewRequiresStoreAndUsers(t *testing.T) {
	_, err := session.New(session.Config{})
	require.Error(t, err)
}

// touchFails is a store whose TouchSession always fails.
type touchFails struct{ session.Store }

func (touchFails) TouchSession(context.Context, string, time.Time) error {
	return errors.New("database is locked")
}

func TestAuthenticateSurvivesFailedTouch(t *testing.T) {
	f := newFixture(t)
	res := f.login("sam@example.com", session.KindWeb, ipA)
	m2, err := session.New(session.Config{Store: touchFails{f.store}, Users: f.store, Clock: f.clock, Hasher: cheap})
	require.NoError(t, err)
	f.clock.Advance(5 * time.Minute)
	a, err := m2.Authenticate(f.ctx, res.Token)
	require.NoError(t, err, "a failed activity write does not fail the request")
	require.Equal(t, res.Session.LastActive, a.Session.LastActive, "and LastActive is not claimed to have moved")
}

func TestBreachCheckAtLogin(t *testing.T) {
	var checked []string
	var fail error
	f := newFixture(t, func(c *session.Config) {
		c.BreachCheck = func(_ context.Context, pw string) (bool, error) {
			checked = append(checked, pw)
			return pw == "pw-sam@example.com", fail
		}
	})
	res := f.login("sam@example.com", session.KindWeb, ipA)
	require.True(t, res.PasswordBreached, "a breached password is flagged, not refused")
	require.True(t, f.live(res.Token))
	evs := f.events(security.EventPasswordBreachDetected)
	require.Len(t, evs, 1)
	require.Equal(t, res.Session.ID, evs[0].ActorSessionID)
	for _, v := range evs[0].Details {
		require.NotContains(t, v, "pw-sam")
	}

	require.False(t, f.login("ada@example.com", session.KindWeb, ipA).PasswordBreached)
	_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "ada@example.com", Password: "wrong", Kind: session.KindWeb, IP: ipA})
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	require.Equal(t, []string{"pw-sam@example.com", "pw-ada@example.com"}, checked, "only right passwords are checked")

	fail = fmt.Errorf("hibp down: %w", security.ErrUnavailable)
	_, err = f.mgr.Login(f.ctx, session.LoginRequest{Email: "ada@example.com", Password: "pw-ada@example.com", Kind: session.KindWeb, IP: ipA})
	require.ErrorIs(t, err, security.ErrUnavailable, "fail closed unless the check itself fails open")
	require.Len(t, f.events(security.EventLoginSucceeded), 2, "no session for the failed check")
}
