package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/pgstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
	"github.com/stretchr/testify/require"
)

// fakeMailer records what it was asked to send, and fails while err is set.
type fakeMailer struct {
	mu      sync.Mutex
	codes   []session.LoginCodeNotice
	notices []session.NewIPNotice
	err     error
	sent    chan struct{}
}

func newFakeMailer() *fakeMailer { return &fakeMailer{sent: make(chan struct{}, 100)} }

func (m *fakeMailer) NewIPLogin(_ context.Context, n session.NewIPNotice) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.sent <- struct{}{} }()
	if m.err != nil {
		return m.err
	}
	m.notices = append(m.notices, n)
	return nil
}

func (m *fakeMailer) LoginCode(_ context.Context, c session.LoginCodeNotice) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.codes = append(m.codes, c)
	return nil
}

func (m *fakeMailer) lastCode(t *testing.T) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.NotEmpty(t, m.codes, "no code was mailed")
	return m.codes[len(m.codes)-1].Code
}

var factorKey = bytes.Repeat([]byte{0x42}, session.FactorKeySize)

const ua = "test/1.0"

// stepFixture is a fixture with second factors and a mailer.
func stepFixture(t *testing.T, st fixtureStore, tweak ...func(*session.Config)) (*fixture, *fakeMailer) {
	mailer := newFakeMailer()
	f := newFixtureOn(t, st, append([]func(*session.Config){func(c *session.Config) {
		c.Mailer = mailer
		c.FactorKey = factorKey
	}}, tweak...)...)
	t.Cleanup(func() { f.mgr.Close() })
	return f, mailer
}

func (f *fixture) try(email string, kind session.Kind, ip netip.Addr) (session.LoginResult, error) {
	return f.mgr.Login(f.ctx, session.LoginRequest{Email: email, Password: "pw-" + email, Kind: kind, IP: ip, UserAgent: ua})
}

func (f *fixture) verify(id, code string, ip netip.Addr) (session.LoginResult, error) {
	return f.mgr.VerifyLogin(f.ctx, session.VerifyRequest{ID: id, Code: code, IP: ip, UserAgent: ua})
}

// pending logs in and requires a verification.
func (f *fixture) pending(email string, kind session.Kind, ip netip.Addr) *session.Verification {
	f.t.Helper()
	res, err := f.try(email, kind, ip)
	require.NoError(f.t, err)
	require.NotNil(f.t, res.Verification, "the login should need verification")
	require.Empty(f.t, res.Token)
	require.Empty(f.t, res.Session.ID)
	require.Zero(f.t, res.Principal.UserID)
	return res.Verification
}

// enrolTOTP enrols and confirms TOTP for the user of a, returning the
// secret and the recovery codes.
func (f *fixture) enrolTOTP(a session.Auth) (string, []string) {
	f.t.Helper()
	en, err := f.mgr.EnrollTOTP(f.ctx, a, ipA)
	require.NoError(f.t, err)
	require.Contains(f.t, en.URI, "otpauth://totp/propsec:")
	code, err := session.TOTPCode(en.Secret, f.clock.Now())
	require.NoError(f.t, err)
	codes, err := f.mgr.ConfirmTOTP(f.ctx, a, code, ipA)
	require.NoError(f.t, err)
	require.Len(f.t, codes, session.RecoveryCodeCount)
	return en.Secret, codes
}

func (f *fixture) totp(secret string) string {
	c, err := session.TOTPCode(secret, f.clock.Now())
	require.NoError(f.t, err)
	return c
}

func verificationFailed(t *testing.T, err error, reason string, left int) {
	t.Helper()
	var ve *session.VerificationError
	require.ErrorAs(t, err, &ve)
	require.ErrorIs(t, err, session.ErrVerificationFailed)
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	require.Equal(t, reason, ve.Reason)
	require.Equal(t, left, ve.AttemptsLeft)
}

func testNewIPVerifyByEmail(t *testing.T, st fixtureStore) {
	f, mailer := stepFixture(t, st, func(c *session.Config) { c.NewIP = session.NewIPVerify })
	first, err := f.try("sam@example.com", session.KindWeb, ipA)
	require.NoError(t, err)
	require.Nil(t, first.Verification, "a first login is not a new-IP login")

	v := f.pending("sam@example.com", session.KindMobile, ipB)
	require.Equal(t, []string{session.MethodEmail}, v.Methods)
	require.Equal(t, session.ReasonNewIP, v.Reason)
	require.True(t, session.ValidVerificationID(v.ID))
	require.Equal(t, f.clock.Now().Add(10*time.Minute), v.ExpiresAt)
	code := mailer.lastCode(t)
	require.Len(t, code, session.EmailCodeDigits)
	require.Equal(t, ipB.String(), mailer.codes[0].IP)
	require.Empty(t, f.events(security.EventNewIPVerification), "nothing verified yet")

	wrong := "00000000"
	if code == wrong {
		wrong = "11111111"
	}
	_, err = f.verify(v.ID, wrong, ipB)
	verificationFailed(t, err, "wrong_code", 4)

	res, err := f.verify(v.ID, code, ipB)
	require.NoError(t, err)
	require.Nil(t, res.Verification)
	require.True(t, res.NewIP)
	require.Equal(t, session.KindMobile, res.Session.Kind, "the login's kind")
	require.Equal(t, ipB.String(), res.Session.IP)
	require.Equal(t, int64(staffID), res.Principal.UserID)
	require.True(t, f.live(res.Token))

	// The code and the id are used up.
	_, err = f.verify(v.ID, code, ipB)
	verificationFailed(t, err, "unknown", 0)

	require.Len(t, f.events(security.EventNewIPVerification), 1)
	require.Len(t, f.events(security.EventVerificationStarted), 1)
	ok := f.events(security.EventVerificationSucceeded)
	require.Len(t, ok, 1)
	require.Equal(t, "email", ok[0].Details["method"])
	require.Equal(t, res.Session.ID, ok[0].ActorSessionID)
	failed := f.events(security.EventVerificationFailed)
	require.Len(t, failed, 2)
	require.Equal(t, "wrong_code", failed[0].Details["reason"])
	require.Equal(t, "unknown", failed[1].Details["reason"])
	noSecretIn(t, f, code, v.ID)

	// The address is now known: no verification.
	again, err := f.try("sam@example.com", session.KindWeb, ipB)
	require.NoError(t, err)
	require.Nil(t, again.Verification)
}

// noSecretIn fails when an audit event holds one of secrets.
func noSecretIn(t *testing.T, f *fixture, secrets ...string) {
	t.Helper()
	all, err := f.store.Events(f.ctx)
	require.NoError(t, err)
	dump := fmt.Sprintf("%+v", all)
	for _, s := range secrets {
		require.NotContains(t, dump, s)
	}
}

func testVerificationRefusals(t *testing.T, st fixtureStore) {
	f, mailer := stepFixture(t, st, func(c *session.Config) { c.NewIP = session.NewIPVerify })
	f.login("sam@example.com", session.KindWeb, ipA)
	ipC := netip.MustParseAddr("192.0.2.77")

	t.Run("malformed", func(t *testing.T) {
		v := f.pending("sam@example.com", session.KindWeb, ipB)
		for _, tc := range []struct{ id, code string }{
			{"", "12345678"}, {"sess_abc", "12345678"}, {v.ID + "a", "12345678"}, {strings.ToUpper(v.ID), "1"},
			{v.ID, ""}, {v.ID, "   "}, {v.ID, strings.Repeat("1", 65)},
		} {
			_, err := f.verify(tc.id, tc.code, ipB)
			require.ErrorIs(t, err, security.ErrInvalid, "%q %q", tc.id, tc.code)
		}
		// Nothing was counted: the right code still works.
		_, err := f.verify(v.ID, mailer.lastCode(t), ipB)
		require.NoError(t, err)
	})
	t.Run("foreign IP and user agent", func(t *testing.T) {
		v := f.pending("sam@example.com", session.KindWeb, ipC)
		code := mailer.lastCode(t)
		_, err := f.verify(v.ID, code, ipB)
		verificationFailed(t, err, "foreign_ip", 5)
		_, err = f.mgr.VerifyLogin(f.ctx, session.VerifyRequest{ID: v.ID, Code: code, IP: ipC, UserAgent: "other/1"})
		verificationFailed(t, err, "foreign_user_agent", 5)
		_, err = f.verify(v.ID, code, ipC)
		require.NoError(t, err, "the right client still can")
	})
	t.Run("expired", func(t *testing.T) {
		v := f.pending("sam@example.com", session.KindWeb, netip.MustParseAddr("192.0.2.78"))
		code := mailer.lastCode(t)
		f.clock.Advance(10 * time.Minute)
		_, err := f.verify(v.ID, code, netip.MustParseAddr("192.0.2.78"))
		verificationFailed(t, err, "expired", 0)
	})
}

func testVerificationEndsAfterMaxAttempts(t *testing.T, st fixtureStore) {
	f, mailer := stepFixture(t, st, func(c *session.Config) {
		c.NewIP = session.NewIPVerify
		c.MaxFailuresPerEmail = 100
	})
	f.login("sam@example.com", session.KindWeb, ipA)
	v := f.pending("sam@example.com", session.KindWeb, ipB)
	code := mailer.lastCode(t)
	wrong := "99999999"
	if code == wrong {
		wrong = "88888888"
	}
	for i := 4; i >= 0; i-- {
		_, err := f.verify(v.ID, wrong, ipB)
		verificationFailed(t, err, "wrong_code", i)
	}
	_, err := f.verify(v.ID, code, ipB)
	verificationFailed(t, err, "unknown", 0)
	last := f.events(security.EventVerificationFailed)
	require.Equal(t, "too_many_attempts", last[len(last)-2].Details["reason"])
}

func testVerificationThrottled(t *testing.T, st fixtureStore) {
	f, mailer := stepFixture(t, st, func(c *session.Config) { c.NewIP = session.NewIPVerify })
	f.login("sam@example.com", session.KindWeb, ipA)
	// Four wrong codes over two verifications, then the fifth failure
	// locks the email out, as five wrong passwords would.
	v1 := f.pending("sam@example.com", session.KindWeb, ipB)
	for range 4 {
		_, err := f.verify(v1.ID, "00000001", ipB)
		require.ErrorIs(t, err, session.ErrVerificationFailed)
	}
	v2 := f.pending("sam@example.com", session.KindWeb, ipB)
	_, err := f.verify(v2.ID, "00000001", ipB)
	require.ErrorIs(t, err, session.ErrVerificationFailed)
	_, err = f.verify(v2.ID, mailer.lastCode(t), ipB)
	var te *security.ThrottledError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "throttled", lastEvent(f, security.EventVerificationFailed).Details["reason"])
}

func lastEvent(f *fixture, typ security.EventType) security.Event {
	evs := f.events(typ)
	require.NotEmpty(f.t, evs)
	return evs[len(evs)-1]
}

func testVerifyMailerDown(t *testing.T, st fixtureStore) {
	f, mailer := stepFixture(t, st, func(c *session.Config) { c.NewIP = session.NewIPVerify })
	f.login("sam@example.com", session.KindWeb, ipA)
	mailer.err = errors.New("dial tcp: connection refused")
	res, err := f.try("sam@example.com", session.KindWeb, ipB)
	require.ErrorIs(t, err, security.ErrUnavailable)
	require.Empty(t, res.Token)
	require.Nil(t, res.Verification)
	require.Equal(t, "mail_unavailable", lastEvent(f, security.EventVerificationFailed).Details["reason"])
	require.Len(t, f.events(security.EventLoginSucceeded), 1, "only the first login")
}

func testNewIPNotify(t *testing.T, st fixtureStore) {
	f, mailer := stepFixture(t, st, func(c *session.Config) { c.NewIP = session.NewIPNotify })
	f.login("sam@example.com", session.KindWeb, ipA)
	require.NoError(t, f.mgr.Close())
	require.Empty(t, mailer.notices, "a first login is not a new-IP login")
	res := f.login("sam@example.com", session.KindWeb, ipB)
	<-mailer.sent
	require.Len(t, mailer.notices, 1)
	require.Equal(t, res.Session.ID, mailer.notices[0].SessionID)
	require.Len(t, f.notices, 1, "OnNewIP still runs")

	// A failing mailer does not fail the login.
	mailer.mu.Lock()
	mailer.err = errors.New("smtp: 451 try later")
	mailer.mu.Unlock()
	res = f.login("sam@example.com", session.KindWeb, netip.MustParseAddr("192.0.2.9"))
	require.True(t, f.live(res.Token))
	<-mailer.sent
}

func TestConfigRefusals(t *testing.T) {
	f := newFixture(t)
	for name, cfg := range map[string]session.Config{
		"policy":       {NewIP: "sometimes"},
		"no mailer":    {NewIP: session.NewIPNotify},
		"no key":       {NewIP: session.NewIPVerify, Mailer: newFakeMailer()},
		"short key":    {FactorKey: []byte("short")},
		"dup method":   {Methods: []session.FactorMethod{fakeMethod{name: "totp"}}},
		"empty method": {Methods: []session.FactorMethod{fakeMethod{}}},
	} {
		cfg.Store, cfg.Users = f.store, f.store
		_, err := session.New(cfg)
		require.Error(t, err, name)
	}
	_, err := session.ParseNewIPPolicy("verify")
	require.NoError(t, err)
	_, err = session.ParseNewIPPolicy("VERIFY")
	require.ErrorIs(t, err, security.ErrInvalid)
}

type fakeMethod struct {
	name  string
	users map[int64]bool
}

func (m fakeMethod) Name() string { return m.name }
func (m fakeMethod) Enrolled(_ context.Context, id int64) (bool, error) {
	return m.users[id], nil
}

func testTOTPLogin(t *testing.T, st fixtureStore) {
	f, _ := stepFixture(t, st)
	a := f.auth(f.login("sam@example.com", session.KindWeb, ipA))
	secret, recovery := f.enrolTOTP(a)
	status, err := f.mgr.SecondFactors(f.ctx, a)
	require.NoError(t, err)
	require.Equal(t, session.SecondFactorStatus{Methods: []string{"totp"}, RecoveryCodesLeft: 10, Required: false}, status)

	v := f.pending("sam@example.com", session.KindWeb, ipA)
	require.Equal(t, []string{"totp", "recovery_code"}, v.Methods)
	require.Equal(t, session.ReasonSecondFactor, v.Reason)

	// The code that confirmed the enrolment is used up.
	_, err = f.verify(v.ID, f.totp(secret), ipA)
	verificationFailed(t, err, "replayed_code", 4)
	f.clock.Advance(30 * time.Second)
	code := f.totp(secret)
	res, err := f.verify(v.ID, code, ipA)
	require.NoError(t, err)
	require.True(t, f.live(res.Token))
	require.False(t, res.NewIP)
	require.Empty(t, f.events(security.EventNewIPVerification))

	// The same code at the next login is refused; one step later the
	// next code (within the skew) is accepted, and the earlier one is
	// then refused too.
	v = f.pending("sam@example.com", session.KindMobile, ipA)
	_, err = f.verify(v.ID, code, ipA)
	verificationFailed(t, err, "replayed_code", 4)
	next, err := session.TOTPCode(secret, f.clock.Now().Add(30*time.Second))
	require.NoError(t, err)
	res, err = f.verify(v.ID, next, ipA)
	require.NoError(t, err)
	require.Equal(t, session.KindMobile, res.Session.Kind)

	// A recovery code works once.
	v = f.pending("sam@example.com", session.KindWeb, ipA)
	_, err = f.verify(v.ID, strings.ToUpper(recovery[3]), ipA)
	require.NoError(t, err)
	ok := lastEvent(f, security.EventVerificationSucceeded)
	require.Equal(t, "recovery_code", ok.Details["method"])
	require.Equal(t, "9", ok.Details["recovery_codes_left"])
	v = f.pending("sam@example.com", session.KindWeb, ipA)
	_, err = f.verify(v.ID, recovery[3], ipA)
	verificationFailed(t, err, "wrong_code", 4)
	// An e-mail-shaped code is not accepted without the email method.
	_, err = f.verify(v.ID, "12345678", ipA)
	verificationFailed(t, err, "wrong_code", 3)
	noSecretIn(t, f, secret, recovery[0], code)
}

func testSecondFactorOnlyFromNewIP(t *testing.T, st fixtureStore) {
	f, _ := stepFixture(t, st, func(c *session.Config) { c.SecondFactorOnlyFromNewIP = true })
	a := f.auth(f.login("sam@example.com", session.KindWeb, ipA))
	f.enrolTOTP(a)
	res, err := f.try("sam@example.com", session.KindWeb, ipA)
	require.NoError(t, err)
	require.Nil(t, res.Verification, "a known address")
	v := f.pending("sam@example.com", session.KindWeb, ipB)
	require.Equal(t, session.ReasonSecondFactor, v.Reason)
}

func testRequireStaffSecondFactor(t *testing.T, st fixtureStore) {
	f, _ := stepFixture(t, st, func(c *session.Config) { c.RequireStaffSecondFactor = true })
	res := f.login("ada@example.com", session.KindWeb, ipA)
	require.True(t, res.Restricted)
	require.Empty(t, res.Principal.Permissions)
	a := f.auth(res)
	require.True(t, a.Restricted)
	require.Empty(t, a.Principal.Permissions)
	_, _, err := f.mgr.List(f.ctx, a, session.ListOptions{})
	require.ErrorIs(t, err, security.ErrForbidden, "a restricted session holds no permission")

	cust := f.auth(f.login("cy@example.com", session.KindWeb, ipA))
	require.False(t, cust.Restricted, "customers are not required")

	f.enrolTOTP(a)
	a = f.auth(res)
	require.False(t, a.Restricted, "the same session is no longer restricted once enrolled")
	require.Equal(t, security.AllPermissions, a.Principal.Permissions)
}

func testEnrolTOTPRefusals(t *testing.T, st fixtureStore) {
	f, _ := stepFixture(t, st)
	a := f.auth(f.login("sam@example.com", session.KindWeb, ipA))
	_, err := f.mgr.ConfirmTOTP(f.ctx, a, "123456", ipA)
	require.ErrorIs(t, err, security.ErrNotFound, "nothing pending")
	en, err := f.mgr.EnrollTOTP(f.ctx, a, ipA)
	require.NoError(t, err)
	for _, bad := range []string{"", "12345", "1234567", "abcdef", "12345678"} {
		_, err := f.mgr.ConfirmTOTP(f.ctx, a, bad, ipA)
		require.ErrorIs(t, err, security.ErrInvalid, bad)
	}
	wrong, err := session.TOTPCode(en.Secret, f.clock.Now().Add(-2*time.Minute))
	require.NoError(t, err)
	_, err = f.mgr.ConfirmTOTP(f.ctx, a, wrong, ipA)
	require.ErrorIs(t, err, security.ErrInvalid)
	// A second enrolment replaces the pending one: the old secret no
	// longer confirms.
	en2, err := f.mgr.EnrollTOTP(f.ctx, a, ipA)
	require.NoError(t, err)
	_, err = f.mgr.ConfirmTOTP(f.ctx, a, f.totp(en.Secret), ipA)
	require.ErrorIs(t, err, security.ErrInvalid)
	_, err = f.mgr.ConfirmTOTP(f.ctx, a, f.totp(en2.Secret), ipA)
	require.NoError(t, err)
	_, err = f.mgr.EnrollTOTP(f.ctx, a, ipA)
	require.ErrorIs(t, err, security.ErrConflict)
	_, err = f.mgr.ConfirmTOTP(f.ctx, a, f.totp(en2.Secret), ipA)
	require.ErrorIs(t, err, security.ErrConflict)

	noKey := newFixture(t)
	_, err = noKey.mgr.EnrollTOTP(noKey.ctx, noKey.auth(noKey.login("sam@example.com", session.KindWeb, ipA)), ipA)
	require.ErrorIs(t, err, session.ErrNoFactorKey)
}

func testRemoveAndRegenerate(t *testing.T, st fixtureStore) {
	f, _ := stepFixture(t, st)
	a := f.auth(f.login("sam@example.com", session.KindWeb, ipA))
	_, err := f.mgr.RegenerateRecoveryCodes(f.ctx, a, session.FactorProof{Password: "pw-sam@example.com"}, ipA)
	require.ErrorIs(t, err, security.ErrConflict, "no factor yet")
	secret, old := f.enrolTOTP(a)

	for _, p := range []session.FactorProof{{}, {Password: "x", Code: "123456"}} {
		_, err := f.mgr.RegenerateRecoveryCodes(f.ctx, a, p, ipA)
		require.ErrorIs(t, err, security.ErrInvalid)
	}
	_, err = f.mgr.RegenerateRecoveryCodes(f.ctx, a, session.FactorProof{Password: "wrong"}, ipA)
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	fresh, err := f.mgr.RegenerateRecoveryCodes(f.ctx, a, session.FactorProof{Code: old[0]}, ipA)
	require.NoError(t, err)
	require.Len(t, fresh, 10)
	status, err := f.mgr.SecondFactors(f.ctx, a)
	require.NoError(t, err)
	require.Equal(t, 10, status.RecoveryCodesLeft)
	// The old codes are gone.
	err = f.mgr.RemoveSecondFactors(f.ctx, a, session.FactorProof{Code: old[1]}, ipA)
	require.ErrorIs(t, err, session.ErrVerificationFailed)

	f.clock.Advance(30 * time.Second)
	require.NoError(t, f.mgr.RemoveSecondFactors(f.ctx, a, session.FactorProof{Code: f.totp(secret)}, ipA))
	status, err = f.mgr.SecondFactors(f.ctx, a)
	require.NoError(t, err)
	require.Equal(t, session.SecondFactorStatus{Methods: []string{}}, status)
	res, err := f.try("sam@example.com", session.KindWeb, ipA)
	require.NoError(t, err)
	require.Nil(t, res.Verification)
	require.Len(t, f.events(security.EventSecondFactorRemoved), 1)
	require.Len(t, f.events(security.EventSecondFactorFailed), 2)
}

func testExtraMethod(t *testing.T, st fixtureStore) {
	fm := fakeMethod{name: "passkey", users: map[int64]bool{staffID: true}}
	f, _ := stepFixture(t, st, func(c *session.Config) { c.Methods = []session.FactorMethod{fm} })
	v := f.pending("sam@example.com", session.KindWeb, ipA)
	require.Equal(t, []string{"passkey"}, v.Methods, "no recovery codes without TOTP's")
	pv, err := f.mgr.LookupVerification(f.ctx, v.ID, ipA, ua)
	require.NoError(t, err)
	require.Equal(t, int64(staffID), pv.UserID)
	_, err = f.mgr.LookupVerification(f.ctx, v.ID, ipB, ua)
	verificationFailed(t, err, "foreign_ip", 0)

	no := func(context.Context, session.PendingVerification) (bool, error) { return false, nil }
	yes := func(context.Context, session.PendingVerification) (bool, error) { return true, nil }
	req := session.VerifyRequest{ID: v.ID, IP: ipA, UserAgent: ua}
	_, err = f.mgr.CompleteVerification(f.ctx, req, "passkey", no)
	verificationFailed(t, err, "wrong_code", 4)
	_, err = f.mgr.CompleteVerification(f.ctx, req, "totp", yes)
	require.ErrorIs(t, err, security.ErrInvalid, "only configured methods")
	_, err = f.verify(v.ID, "123456", ipA)
	verificationFailed(t, err, "wrong_code", 3)
	res, err := f.mgr.CompleteVerification(f.ctx, req, "passkey", yes)
	require.NoError(t, err)
	require.True(t, f.live(res.Token))
	require.Equal(t, "passkey", lastEvent(f, security.EventVerificationSucceeded).Details["method"])
}

func testVerificationIDIsNotACredential(t *testing.T, st fixtureStore) {
	f, _ := stepFixture(t, st, func(c *session.Config) { c.NewIP = session.NewIPVerify })
	f.login("sam@example.com", session.KindWeb, ipA)
	v := f.pending("sam@example.com", session.KindWeb, ipB)
	_, err := f.mgr.Authenticate(f.ctx, v.ID)
	require.ErrorIs(t, err, security.ErrUnauthenticated)
	_, err = f.mgr.Authenticate(f.ctx, strings.TrimPrefix(v.ID, "ver_"))
	require.ErrorIs(t, err, security.ErrUnauthenticated)
}

func testConcurrentVerify(t *testing.T, st fixtureStore) {
	f, mailer := stepFixture(t, st, func(c *session.Config) { c.NewIP = session.NewIPVerify })
	f.login("sam@example.com", session.KindWeb, ipA)
	v := f.pending("sam@example.com", session.KindWeb, ipB)
	code := mailer.lastCode(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Go(func() {
			if _, err := f.verify(v.ID, code, ipB); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, wins)
	require.Len(t, f.events(security.EventLoginSucceeded), 2)
}

// stepUpStores open the stores the step-up flows run on: memstore,
// SQLite in a temporary file, and PostgreSQL when PROPSEC_TEST_POSTGRES
// names a server (skipped otherwise, failed with
// PROPSEC_TEST_POSTGRES_REQUIRED=1).
var stepUpStores = []struct {
	name string
	open func(t testing.TB) fixtureStore
}{
	{"memstore", func(testing.TB) fixtureStore { return memstore.New() }},
	{"sqlitestore", func(t testing.TB) fixtureStore {
		st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "propsec.db"))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"pgstore", func(t testing.TB) fixtureStore {
		st, err := pgstore.Open(t.Context(), pgtest.Schema(t))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// TestStepUp runs every step-up flow on every store.
func TestStepUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, fixtureStore)
	}{
		{"NewIPVerifyByEmail", testNewIPVerifyByEmail},
		{"VerificationRefusals", testVerificationRefusals},
		{"VerificationEndsAfterMaxAttempts", testVerificationEndsAfterMaxAttempts},
		{"VerificationThrottled", testVerificationThrottled},
		{"VerifyMailerDown", testVerifyMailerDown},
		{"NewIPNotify", testNewIPNotify},
		{"TOTPLogin", testTOTPLogin},
		{"SecondFactorOnlyFromNewIP", testSecondFactorOnlyFromNewIP},
		{"RequireStaffSecondFactor", testRequireStaffSecondFactor},
		{"EnrolTOTPRefusals", testEnrolTOTPRefusals},
		{"RemoveAndRegenerate", testRemoveAndRegenerate},
		{"VerificationIDIsNotACredential", testVerificationIDIsNotACredential},
		{"ConcurrentVerify", testConcurrentVerify},
		{"ExtraMethod", testExtraMethod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sk := range stepUpStores {
				t.Run(sk.name, func(t *testing.T) { tc.run(t, sk.open(t)) })
			}
		})
	}
}
