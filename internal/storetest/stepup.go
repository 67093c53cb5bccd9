package storetest

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// newVerification returns a pending verification of userID made at t0,
// with every field set.
func newVerification(userID int64) session.PendingVerification {
	return session.PendingVerification{
		IDHash: security.HashToken(security.NewToken()), UserID: userID, Kind: session.KindMobile,
		IP: "203.0.113.10", UserAgent: "Mozilla/5.0 (storetest)", Location: "London, GB",
		Methods: []string{"totp", "passkey", "recovery_code"}, Reason: "second_factor", NewIP: true,
		PasswordBreached: true, CodeHash: bytes.Repeat([]byte{0xc0}, 32),
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}
}

func normVerification(v session.PendingVerification) session.PendingVerification {
	v.CreatedAt, v.ExpiresAt = utc(v.CreatedAt), utc(v.ExpiresAt)
	if len(v.CodeHash) == 0 {
		v.CodeHash = nil
	}
	return v
}

func testVerifications(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	st := open(t)
	v := newVerification(42)
	ev := event("verification_started", "ver#1")
	require.NoError(t, st.CreateVerification(ctx, v, []security.Event{ev}))
	got, err := st.VerificationByIDHash(ctx, v.IDHash)
	require.NoError(t, err)
	assert.Equal(t, normVerification(v), normVerification(got))
	assert.Equal(t, []security.Event{normEvent(ev)}, eventsAfter(t, st, 0))
	assert.Error(t, st.CreateVerification(ctx, v, nil), "a duplicate id hash")

	// Without an e-mailed code and with one method.
	plain := newVerification(43)
	plain.CodeHash, plain.Methods, plain.NewIP, plain.PasswordBreached = nil, []string{"email"}, false, false
	require.NoError(t, st.CreateVerification(ctx, plain, nil))
	got, err = st.VerificationByIDHash(ctx, plain.IDHash)
	require.NoError(t, err)
	assert.Equal(t, normVerification(plain), normVerification(got))

	_, err = st.VerificationByIDHash(ctx, security.HashToken("unknown"))
	require.ErrorIs(t, err, security.ErrNotFound)

	// Failures count up to max, which deletes it; events come with each.
	n0 := len(allEvents(t, st))
	for i := 1; i <= 3; i++ {
		n, err := st.FailVerification(ctx, v.IDHash, 3, []security.Event{event("verification_failed", "ver#1")})
		require.NoError(t, err)
		require.Equal(t, i, n)
		if i < 3 {
			got, err := st.VerificationByIDHash(ctx, v.IDHash)
			require.NoError(t, err)
			require.Equal(t, i, got.Attempts)
		}
	}
	_, err = st.VerificationByIDHash(ctx, v.IDHash)
	require.ErrorIs(t, err, security.ErrNotFound, "ended at max")
	_, err = st.FailVerification(ctx, v.IDHash, 3, []security.Event{event("verification_failed", "late")})
	require.ErrorIs(t, err, security.ErrNotFound)
	require.Len(t, eventsAfter(t, st, n0), 3, "no event for a verification gone")

	// Consumed once.
	require.NoError(t, st.ConsumeVerification(ctx, plain.IDHash))
	require.ErrorIs(t, st.ConsumeVerification(ctx, plain.IDHash), security.ErrNotFound)
	_, err = st.VerificationByIDHash(ctx, plain.IDHash)
	require.ErrorIs(t, err, security.ErrNotFound)

	// PurgeExpired deletes verifications that expired before its bound.
	old, live := newVerification(44), newVerification(45)
	old.ExpiresAt = t0.Add(-time.Minute)
	require.NoError(t, st.CreateVerification(ctx, old, nil))
	require.NoError(t, st.CreateVerification(ctx, live, nil))
	require.NoError(t, st.PurgeExpired(ctx, t0))
	_, err = st.VerificationByIDHash(ctx, old.IDHash)
	require.ErrorIs(t, err, security.ErrNotFound)
	_, err = st.VerificationByIDHash(ctx, live.IDHash)
	require.NoError(t, err)
}

// race runs fn from 20 goroutines started together and counts how many
// returned true.
func race(t *testing.T, fn func() (bool, error)) int {
	t.Helper()
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			<-start
			ok, err := fn()
			if err != nil {
				errs <- err
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return int(wins.Load())
}

func testVerificationsConcurrent(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	st := open(t)
	v := newVerification(42)
	require.NoError(t, st.CreateVerification(ctx, v, nil))
	n0 := len(allEvents(t, st))
	counted := race(t, func() (bool, error) {
		_, err := st.FailVerification(ctx, v.IDHash, 5, []security.Event{event("verification_failed", "ver")})
		if err != nil && !errorsIsNotFound(err) {
			return false, err
		}
		return err == nil, nil
	})
	assert.Equal(t, 5, counted, "of 20 concurrent wrong codes, exactly max count")
	assert.Len(t, eventsAfter(t, st, n0), 5)

	w := newVerification(43)
	require.NoError(t, st.CreateVerification(ctx, w, nil))
	consumed := race(t, func() (bool, error) {
		err := st.ConsumeVerification(ctx, w.IDHash)
		if err != nil && !errorsIsNotFound(err) {
			return false, err
		}
		return err == nil, nil
	})
	assert.Equal(t, 1, consumed, "of 20 concurrent completions, exactly one")
}

func errorsIsNotFound(err error) bool { return errors.Is(err, security.ErrNotFound) }

func sealed(b byte) []byte { return bytes.Repeat([]byte{b}, 60) }

func codes(seed byte, n int) []session.RecoveryCodeHash {
	out := make([]session.RecoveryCodeHash, n)
	for i := range out {
		out[i][0], out[i][1] = seed, byte(i)
	}
	return out
}

func testTOTP(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	st := open(t)
	_, err := st.TOTP(ctx, 42)
	require.ErrorIs(t, err, security.ErrNotFound)
	require.ErrorIs(t, st.ConfirmTOTP(ctx, 42, sealed(1), t0, 5, nil, nil), security.ErrNotFound)

	ev := event("second_factor_enrollment_started", "42")
	require.NoError(t, st.PutPendingTOTP(ctx, session.TOTPFactor{UserID: 42, Sealed: sealed(1), CreatedAt: t0},
		[]security.Event{ev}))
	f, err := st.TOTP(ctx, 42)
	require.NoError(t, err)
	assert.Equal(t, sealed(1), f.Sealed)
	assert.False(t, f.Confirmed())
	assert.True(t, f.CreatedAt.Equal(t0))
	won, err := st.UseTOTPStep(ctx, 42, 9, nil)
	require.NoError(t, err)
	assert.False(t, won, "a pending factor accepts no step")

	// A new pending enrolment replaces the old one: the old secret no
	// longer confirms.
	require.NoError(t, st.PutPendingTOTP(ctx, session.TOTPFactor{UserID: 42, Sealed: sealed(2), CreatedAt: t0.Add(time.Second)}, nil))
	require.ErrorIs(t, st.ConfirmTOTP(ctx, 42, sealed(1), t0, 5, codes(1, 10), nil), security.ErrConflict)
	left, err := st.RecoveryCodesLeft(ctx, 42)
	require.NoError(t, err)
	require.Zero(t, left, "a refused confirmation stores no codes")

	n0 := len(allEvents(t, st))
	added := event("second_factor_added", "42")
	require.NoError(t, st.ConfirmTOTP(ctx, 42, sealed(2), t0.Add(time.Minute), 100, codes(1, 10), []security.Event{added}))
	assert.Equal(t, []security.Event{normEvent(added)}, eventsAfter(t, st, n0))
	f, err = st.TOTP(ctx, 42)
	require.NoError(t, err)
	assert.True(t, f.ConfirmedAt.Equal(t0.Add(time.Minute)))
	assert.Equal(t, int64(100), f.LastStep)
	left, err = st.RecoveryCodesLeft(ctx, 42)
	require.NoError(t, err)
	assert.Equal(t, 10, left)
	require.ErrorIs(t, st.ConfirmTOTP(ctx, 42, sealed(2), t0, 101, nil, nil), security.ErrConflict, "confirmed already")
	require.ErrorIs(t, st.PutPendingTOTP(ctx, session.TOTPFactor{UserID: 42, Sealed: sealed(3), CreatedAt: t0}, nil),
		security.ErrConflict, "a confirmed factor is not replaced")
	f, err = st.TOTP(ctx, 42)
	require.NoError(t, err)
	assert.Equal(t, sealed(2), f.Sealed)

	// Steps: only later ones, each once; events only with the change.
	n0 = len(allEvents(t, st))
	for _, tc := range []struct {
		step int64
		won  bool
	}{{99, false}, {100, false}, {101, true}, {101, false}, {103, true}, {102, false}} {
		won, err := st.UseTOTPStep(ctx, 42, tc.step, []security.Event{event("verification_succeeded", "step")})
		require.NoError(t, err)
		assert.Equal(t, tc.won, won, "step %d", tc.step)
	}
	assert.Len(t, eventsAfter(t, st, n0), 2)
	won, err = st.UseTOTPStep(ctx, 7, 500, nil)
	require.NoError(t, err)
	assert.False(t, won, "another user has no factor")

	require.NoError(t, st.DeleteSecondFactors(ctx, 42, []security.Event{event("second_factor_removed", "42")}))
	_, err = st.TOTP(ctx, 42)
	require.ErrorIs(t, err, security.ErrNotFound)
	left, err = st.RecoveryCodesLeft(ctx, 42)
	require.NoError(t, err)
	assert.Zero(t, left)
	require.NoError(t, st.DeleteSecondFactors(ctx, 42, nil), "deleting nothing is not an error")
}

func testRecoveryCodes(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	st := open(t)
	require.NoError(t, st.ReplaceRecoveryCodes(ctx, 42, codes(1, 10), []security.Event{event("recovery_codes_generated", "42")}))
	require.NoError(t, st.ReplaceRecoveryCodes(ctx, 7, codes(1, 3), nil))
	use := func(user int64, h session.RecoveryCodeHash) bool {
		t.Helper()
		won, err := st.UseRecoveryCode(ctx, user, h, t0, nil)
		require.NoError(t, err)
		return won
	}
	assert.True(t, use(42, codes(1, 10)[4]))
	assert.False(t, use(42, codes(1, 10)[4]), "used once")
	assert.False(t, use(42, codes(9, 1)[0]), "unknown code")
	assert.True(t, use(7, codes(1, 3)[0]), "the same hash of another user is theirs")
	left, err := st.RecoveryCodesLeft(ctx, 42)
	require.NoError(t, err)
	assert.Equal(t, 9, left)

	n0 := len(allEvents(t, st))
	won, err := st.UseRecoveryCode(ctx, 42, codes(1, 10)[5], t0, []security.Event{event("verification_succeeded", "rc")})
	require.NoError(t, err)
	require.True(t, won)
	won, err = st.UseRecoveryCode(ctx, 42, codes(1, 10)[5], t0, []security.Event{event("verification_succeeded", "rc")})
	require.NoError(t, err)
	require.False(t, won)
	assert.Len(t, eventsAfter(t, st, n0), 1, "events only with the change")

	// Replacing forgets every old code, used or not.
	require.NoError(t, st.ReplaceRecoveryCodes(ctx, 42, codes(2, 10), nil))
	assert.False(t, use(42, codes(1, 10)[0]))
	left, err = st.RecoveryCodesLeft(ctx, 42)
	require.NoError(t, err)
	assert.Equal(t, 10, left)
	left, err = st.RecoveryCodesLeft(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, 2, left, "other users untouched")
}

func testFactorsConcurrent(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	st := open(t)
	require.NoError(t, st.PutPendingTOTP(ctx, session.TOTPFactor{UserID: 42, Sealed: sealed(1), CreatedAt: t0}, nil))
	require.NoError(t, st.ConfirmTOTP(ctx, 42, sealed(1), t0, 10, codes(1, 10), nil))
	n0 := len(allEvents(t, st))
	steps := race(t, func() (bool, error) {
		return st.UseTOTPStep(ctx, 42, 11, []security.Event{event("verification_succeeded", "totp")})
	})
	assert.Equal(t, 1, steps, "of 20 concurrent uses of one TOTP code, exactly one wins")
	rc := race(t, func() (bool, error) {
		return st.UseRecoveryCode(ctx, 42, codes(1, 10)[3], t0, []security.Event{event("verification_succeeded", "rc")})
	})
	assert.Equal(t, 1, rc, "of 20 concurrent uses of one recovery code, exactly one wins")
	assert.Len(t, eventsAfter(t, st, n0), 2)
}
