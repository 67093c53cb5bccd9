package session_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// nopMailer sends nothing: the benchmarks measure propsec, not SMTP.
type nopMailer struct{ code string }

func (*nopMailer) NewIPLogin(context.Context, session.NewIPNotice) error { return nil }
func (m *nopMailer) LoginCode(_ context.Context, c session.LoginCodeNotice) error {
	m.code = c.Code
	return nil
}

// BenchmarkStepUpLogin measures a login completed by a verification
// against a password-only login on the same store, with the cheap test
// hasher (one hash each: the difference is what verification adds,
// besides hashes and mail). Each iteration moves the clock past a TOTP
// step, as a code is accepted once.
//
//   - password-only: Login of a user without a factor;
//   - totp: Login (verification stored) + VerifyLogin with a TOTP code;
//   - email: Login from a new address under NewIPVerify (code "mailed"
//     to a no-op Mailer) + VerifyLogin with the code.
func BenchmarkStepUpLogin(b *testing.B) {
	for _, sk := range stepUpStores[:2] {
		b.Run(sk.name, func(b *testing.B) {
			for _, mode := range []string{"password-only", "totp", "email"} {
				b.Run(mode, func(b *testing.B) { benchStepUp(b, sk.open, mode) })
			}
		})
	}
}

func benchStepUp(b *testing.B, open func(testing.TB) fixtureStore, mode string) {
	ctx := context.Background()
	st := open(b)
	clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	phc, err := cheap.Hash("pw")
	require.NoError(b, err)
	require.NoError(b, st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 1, Name: "U",
		Email: "u@example.com", AccountType: security.AccountCustomer}, PasswordHash: phc}))
	mailer := &nopMailer{}
	cfg := session.Config{Store: st, Users: st, Clock: clock, Hasher: cheap, FactorKey: factorKey, Mailer: mailer,
		MaxFailuresPerIP: 1 << 30}
	if mode == "email" {
		cfg.NewIP = session.NewIPVerify
	}
	m, err := session.New(cfg)
	require.NoError(b, err)
	req := session.LoginRequest{Email: "u@example.com", Password: "pw", Kind: session.KindWeb, IP: ipA, UserAgent: ua}
	res, err := m.Login(ctx, req)
	require.NoError(b, err)
	var secret string
	if mode == "totp" {
		a, err := m.Authenticate(ctx, res.Token)
		require.NoError(b, err)
		en, err := m.EnrollTOTP(ctx, a, ipA)
		require.NoError(b, err)
		code, _ := session.TOTPCode(en.Secret, clock.Now())
		_, err = m.ConfirmTOTP(ctx, a, code, ipA)
		require.NoError(b, err)
		secret = en.Secret
	}
	ip, n := ipA, uint32(0)
	for b.Loop() {
		clock.Advance(31 * time.Second)
		if mode == "email" {
			// A new address each time: a verified one becomes known.
			n++
			ip = netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
			req.IP = ip
		}
		res, err := m.Login(ctx, req)
		require.NoError(b, err)
		if mode == "password-only" {
			continue
		}
		code := mailer.code
		if mode == "totp" {
			code, _ = session.TOTPCode(secret, clock.Now())
		}
		_, err = m.VerifyLogin(ctx, session.VerifyRequest{ID: res.Verification.ID, Code: code, IP: ip, UserAgent: ua})
		require.NoError(b, err)
	}
}
