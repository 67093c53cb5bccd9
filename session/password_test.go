package session_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/stretchr/testify/require"
)

func TestHasherDefaults(t *testing.T) {
	var h session.Hasher // zero value: OWASP parameters
	phc, err := h.Hash("correct horse")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$"), phc)
	ok, stale, err := session.DefaultHasher.Verify(phc, "correct horse")
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, stale)
	ok, _, err = h.Verify(phc, "correct horsE")
	require.NoError(t, err)
	require.False(t, ok)
	other, _ := h.Hash("correct horse")
	require.NotEqual(t, phc, other, "salted")
}

func TestHasherRejectsMalformed(t *testing.T) {
	good, _ := cheap.Hash("pw")
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := slices.Clone(parts)
		p[i] = v
		return strings.Join(p, "$")
	}
	bad := map[string]string{
		"empty":          "",
		"bcrypt":         "$2y$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"argon2i":        with(1, "argon2i"),
		"version":        with(2, "v=16"),
		"huge memory":    with(3, "m=99999999,t=1,p=1"),
		"huge time":      with(3, "m=64,t=1000,p=1"),
		"zero threads":   with(3, "m=64,t=1,p=0"),
		"unknown param":  with(3, "m=64,t=1,p=1,x=2"),
		"bad salt":       with(4, "!!!"),
		"short key":      with(5, "AAAA"),
		"missing fields": "$argon2id$v=19$m=64,t=1,p=1$",
	}
	for name, phc := range bad {
		t.Run(name, func(t *testing.T) {
			ok, _, err := cheap.Verify(phc, "pw")
			require.Error(t, err)
			require.False(t, ok)
		})
	}
	_, err := cheap.Hash(strings.Repeat("x", session.MaxPasswordBytes+1))
	require.Error(t, err)
}

func TestLoginWithCorruptStoredHash(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.store.SetPasswordHash(f.ctx, staffID, "garbage"))
	_, err := f.mgr.Login(f.ctx, session.LoginRequest{Email: "sam@example.com", Password: "garbage", Kind: session.KindWeb, IP: ipA})
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
}

func FuzzVerifyPHC(f *testing.F) {
	good, _ := cheap.Hash("pw")
	f.Add(good, "pw")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "")
	f.Fuzz(func(t *testing.T, phc, pw string) {
		// Must never panic, and never take more than the parameter caps.
		ok, _, err := cheap.Verify(phc, pw)
		if err != nil && ok {
			t.Fatal("ok with error")
		}
	})
}

// BenchmarkLoginTiming measures, with the production argon2id parameters,
// how long a login takes for an unknown email and for a known email with a
// wrong password. It reports both medians and their ratio: a ratio near 1
// means timing does not reveal which emails exist.
//
//	go test ./session -run '^$' -bench LoginTiming -benchtime 40x
func BenchmarkLoginTiming(b *testing.B) {
	ctx := context.Background()
	st := memstore.New()
	phc, err := session.DefaultHasher.Hash("the right password")
	require.NoError(b, err)
	require.NoError(b, st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 1, Name: "U",
		Email: "known@example.com", AccountType: security.AccountStaff}, PasswordHash: phc}))
	// Throttling would stop the benchmark after 5 failures; raise it.
	m, err := session.New(session.Config{Store: st, Users: st, MaxFailuresPerEmail: 1 << 30, MaxFailuresPerIP: 1 << 30})
	require.NoError(b, err)
	attempt := func(email string) time.Duration {
		start := time.Now()
		_, err := m.Login(ctx, session.LoginRequest{Email: email, Password: "a wrong password", Kind: session.KindMobile, IP: ipA})
		d := time.Since(start)
		if err != security.ErrInvalidCredentials {
			b.Fatalf("unexpected result: %v", err)
		}
		return d
	}
	attempt("warmup@example.com") // warms up: the first argon2 call allocates its memory
	var unknown, wrong []time.Duration
	for b.Loop() {
		// Interleave so drift in machine load hits both alike.
		unknown = append(unknown, attempt("nobody@example.com"))
		wrong = append(wrong, attempt("known@example.com"))
	}
	mu, mw := median(unknown), median(wrong)
	b.ReportMetric(float64(mu.Microseconds()), "unknown-µs")
	b.ReportMetric(float64(mw.Microseconds()), "wrongpw-µs")
	b.ReportMetric(float64(mu)/float64(mw), "ratio")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
