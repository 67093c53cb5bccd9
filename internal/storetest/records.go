package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func testEvents(t *testing.T, open func(*testing.T) Store) {
	t.Run("round trip, oldest first", func(t *testing.T) {
		st := open(t)
		evs := []security.Event{
			event(security.EventLoginFailed, "alice@example.com"),
			{Time: t0.Add(time.Nanosecond), Type: security.EventLockout, IP: "ip:1"}, // no details
			{Time: t0.In(time.FixedZone("X", -7*3600)), Type: security.EventLogout, ActorUserID: 1,
				ActorSessionID: "sess_x", SubjectUserID: 1, Subject: "sess_x",
				Details: map[string]string{"quote": `"\n<>&`, "unicode": "héllo ✓", "empty": ""}},
		}
		require.NoError(t, st.RecordEvents(t.Context(), evs[:2]...))
		require.NoError(t, st.RecordEvents(t.Context(), evs[2]))
		require.NoError(t, st.RecordEvents(t.Context()), "no events is no error")
		got := allEvents(t, st)
		assert.Equal(t, normEvents(evs), normEvents(got))
		for i, e := range got {
			assert.Positive(t, e.ID, "event %d has an id", i)
			if i > 0 {
				assert.Greater(t, e.ID, got[i-1].ID, "ids increase")
			}
		}
	})

	t.Run("no aliasing", func(t *testing.T) {
		st := open(t)
		e := event(security.EventLogout, "s")
		require.NoError(t, st.RecordEvents(t.Context(), e))
		e.Details["reason"] = "changed by the caller"
		got := allEvents(t, st)
		require.Len(t, got, 1)
		assert.Equal(t, "storetest s", got[0].Details["reason"])
		got[0].Details["reason"] = "changed by the reader"
		assert.Equal(t, "storetest s", allEvents(t, st)[0].Details["reason"])
	})

	// Every change that takes events writes them with the change, or not at
	// all when the change fails.
	t.Run("written only with their change", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			apply func(st Store, ev []security.Event) error
			ok    bool
		}{
			{"CreateSession", func(st Store, ev []security.Event) error {
				return st.CreateSession(t.Context(), newSession(1, t0), ev)
			}, true},
			{"CreateSession blacklisted", func(st Store, ev []security.Event) error {
				return st.CreateSession(t.Context(), newSession(9, t0), ev)
			}, false},
			{"CreateSession duplicate", func(st Store, ev []security.Event) error {
				s := newSession(1, t0)
				s.ID = "sess_existing"
				return st.CreateSession(t.Context(), s, ev)
			}, false},
			{"RevokeSession", func(st Store, ev []security.Event) error {
				return st.RevokeSession(t.Context(), "sess_existing", t0, ev)
			}, true},
			{"RevokeSession unknown", func(st Store, ev []security.Event) error {
				return st.RevokeSession(t.Context(), "sess_unknown", t0, ev)
			}, false},
			{"RevokeSession revoked", func(st Store, ev []security.Event) error {
				return st.RevokeSession(t.Context(), "sess_revoked", t0, ev)
			}, false},
			{"AddBlacklist", func(st Store, ev []security.Event) error {
				_, err := st.AddBlacklist(t.Context(), session.BlacklistEntry{UserID: 1, CreatedAt: t0},
					func([]session.Session) []security.Event { return ev })
				return err
			}, true},
			{"AddBlacklist existing", func(st Store, ev []security.Event) error {
				_, err := st.AddBlacklist(t.Context(), session.BlacklistEntry{UserID: 9, CreatedAt: t0},
					func([]session.Session) []security.Event { return ev })
				return err
			}, false},
			{"RemoveBlacklist", func(st Store, ev []security.Event) error {
				return st.RemoveBlacklist(t.Context(), 9, ev)
			}, true},
			{"RemoveBlacklist absent", func(st Store, ev []security.Event) error {
				return st.RemoveBlacklist(t.Context(), 1, ev)
			}, false},
			{"RecordEvents", func(st Store, ev []security.Event) error {
				return st.RecordEvents(t.Context(), ev...)
			}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := open(t)
				existing := newSession(1, t0)
				existing.ID = "sess_existing"
				revoked := newSession(1, t0)
				revoked.ID, revoked.RevokedAt = "sess_revoked", t0
				create(t, st, existing, revoked)
				addBlacklist(t, st, 9, t0)
				before := len(allEvents(t, st))

				evs := []security.Event{event(security.EventSessionTerminated, "one"), event(security.EventLogout, "two")}
				err := tc.apply(st, evs)
				if !tc.ok {
					require.Error(t, err)
					assert.Empty(t, eventsAfter(t, st, before), "a failed change writes no events")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, normEvents(evs), eventsAfter(t, st, before))
			})
		}
	})
}

// fail records a failed login attempt at time at under each key: a
// reservation under limits no count reaches, never released.
func fail(t *testing.T, st Store, at time.Time, keys ...string) {
	t.Helper()
	limits := make([]session.LoginLimit, len(keys))
	for i, k := range keys {
		limits[i] = session.LoginLimit{Key: k, Max: math.MaxInt}
	}
	r, err := st.ReserveLoginAttempt(t.Context(), limits, time.Time{}, at)
	require.NoError(t, err)
	require.False(t, r.Throttled)
}

func testLoginFailures(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	const a, b = "email:a@example.com", "ip:203.0.113.10"
	for _, at := range []time.Duration{-10 * time.Minute, -5 * time.Minute, 0} {
		fail(t, st, t0.Add(at), a, b)
	}
	fail(t, st, t0.Add(-time.Minute), a)

	check := func(t *testing.T, key string, since time.Time, wantN int, wantOldest time.Time) {
		t.Helper()
		n, oldest, err := st.LoginFailures(t.Context(), key, since)
		require.NoError(t, err)
		assert.Equal(t, wantN, n)
		if wantN == 0 {
			assert.True(t, oldest.IsZero(), "oldest = %v", oldest)
		} else {
			assert.True(t, wantOldest.Equal(oldest), "oldest = %v, want %v", oldest, wantOldest)
		}
	}
	for _, tc := range []struct {
		name       string
		key        string
		since      time.Time
		wantN      int
		wantOldest time.Time
	}{
		{"all of a", a, t0.Add(-time.Hour), 4, t0.Add(-10 * time.Minute)},
		{"window of a", a, t0.Add(-6 * time.Minute), 3, t0.Add(-5 * time.Minute)},
		{"since is inclusive", a, t0.Add(-5 * time.Minute), 3, t0.Add(-5 * time.Minute)},
		{"just after", a, t0.Add(-5*time.Minute + time.Nanosecond), 2, t0.Add(-time.Minute)},
		{"since now", a, t0, 1, t0},
		{"future", a, t0.Add(time.Nanosecond), 0, time.Time{}},
		{"all of b", b, t0.Add(-time.Hour), 3, t0.Add(-10 * time.Minute)},
		{"window of b", b, t0.Add(-2 * time.Minute), 1, t0},
		{"unknown key", "email:nobody@example.com", t0.Add(-time.Hour), 0, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.key, tc.since, tc.wantN, tc.wantOldest) })
	}

	t.Run("clear", func(t *testing.T) {
		require.NoError(t, st.ReleaseLoginAttempt(t.Context(), session.LoginReservation{}, a))
		check(t, a, t0.Add(-time.Hour), 0, time.Time{})
		check(t, b, t0.Add(-time.Hour), 3, t0.Add(-10*time.Minute))
		require.NoError(t, st.ReleaseLoginAttempt(t.Context(), session.LoginReservation{}, "email:nobody@example.com"),
			"clearing nothing is fine")
		fail(t, st, t0, a)
		check(t, a, t0.Add(-time.Hour), 1, t0)
	})
}

// testLoginReservations: a reservation counts each key's failures in the
// window and records one more under every key unless one is at its limit;
// a release withdraws exactly the reservation's failures (and clears a key).
func testLoginReservations(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	const a, b = "email:a@example.com", "ip:203.0.113.10"
	limits := []session.LoginLimit{{Key: a, Max: 3}, {Key: b, Max: 10}}
	since := t0.Add(-15 * time.Minute)
	count := func(key string) int {
		t.Helper()
		n, _, err := st.LoginFailures(t.Context(), key, time.Time{})
		require.NoError(t, err)
		return n
	}
	reserve := func(at time.Time) session.LoginReservation {
		t.Helper()
		r, err := st.ReserveLoginAttempt(t.Context(), limits, since, at)
		require.NoError(t, err)
		return r
	}

	// A failure older than the window is neither counted nor an obstacle.
	fail(t, st, since.Add(-time.Nanosecond), a)
	r := reserve(t0)
	assert.False(t, r.Throttled)
	assert.Equal(t, []int{0, 0}, r.Failures)
	assert.Equal(t, []string{a, b}, r.Keys)
	require.Len(t, r.Rows, 2)
	assert.Equal(t, 2, count(a), "the reservation is recorded as a failure")
	assert.Equal(t, 1, count(b))

	require.NoError(t, st.ReleaseLoginAttempt(t.Context(), r, ""))
	assert.Equal(t, 1, count(a), "released: only the old failure is left")
	assert.Equal(t, 0, count(b))

	// Three reservations kept as failures reach a's limit of 3.
	first := t0.Add(-2 * time.Minute)
	for i, at := range []time.Time{first, t0.Add(-time.Minute), t0} {
		r := reserve(at)
		require.False(t, r.Throttled, "reservation %d", i)
		assert.Equal(t, []int{i, i}, r.Failures, "reservation %d counts those before it", i)
	}
	r = reserve(t0)
	assert.True(t, r.Throttled, "a is at its limit")
	assert.Equal(t, []int{3, 3}, r.Failures)
	require.Len(t, r.Oldest, 2)
	assert.True(t, first.Equal(r.Oldest[0]), "oldest = %v, want %v", r.Oldest[0], first)
	assert.Empty(t, r.Rows, "a throttled attempt records nothing")
	assert.Empty(t, r.Keys)
	assert.Equal(t, 3, count(b), "nothing recorded under b either")
	require.NoError(t, st.ReleaseLoginAttempt(t.Context(), r, ""), "releasing a throttled reservation is a no-op")
	assert.Equal(t, 3, count(b))

	// Moving since past the first failure frees one slot.
	r, err := st.ReserveLoginAttempt(t.Context(), limits, first.Add(time.Nanosecond), t0)
	require.NoError(t, err)
	require.False(t, r.Throttled)
	assert.Equal(t, []int{2, 2}, r.Failures, "the first failure of each key has left the window")

	// A successful login withdraws its reservation and clears its email.
	require.NoError(t, st.ReleaseLoginAttempt(t.Context(), r, a))
	assert.Equal(t, 0, count(a))
	assert.Equal(t, 3, count(b), "b keeps its earlier failures, not the released one")
}

// testLoginReservationsConcurrent: of many reservations of one key at once,
// exactly the limit's worth get through, each seeing a different count.
func testLoginReservationsConcurrent(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	const max, n = 5, 24
	limits := []session.LoginLimit{{Key: "email:race@example.com", Max: max}, {Key: "ip:198.51.100.1", Max: 1000}}
	var (
		mu     sync.Mutex
		passed []int
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			r, err := st.ReserveLoginAttempt(t.Context(), limits, t0.Add(-time.Hour), t0)
			if !assert.NoError(t, err) || r.Throttled {
				return
			}
			mu.Lock()
			passed = append(passed, r.Failures[0])
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(passed)
	assert.Equal(t, []int{0, 1, 2, 3, 4}, passed, "exactly %d of %d get through, counted one after another", max, n)
	got, _, err := st.LoginFailures(t.Context(), limits[0].Key, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, max, got)
}

func testPurgeExpired(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	before := t0
	mk := func(edit func(*session.Session)) session.Session {
		s := newSession(42, t0.Add(-time.Minute))
		edit(&s)
		create(t, st, s)
		return s
	}
	gone := []session.Session{
		mk(func(s *session.Session) { s.RevokedAt = before.Add(-time.Nanosecond) }),
		mk(func(s *session.Session) { s.ExpiresAt = before.Add(-time.Nanosecond) }),
		mk(func(s *session.Session) { s.LastActive = before.Add(-31 * time.Minute) }),
	}
	kept := []session.Session{
		mk(func(*session.Session) {}),
		mk(func(s *session.Session) { s.RevokedAt = before.Add(time.Second) }),
		mk(func(s *session.Session) { s.ExpiresAt = before }),
		mk(func(s *session.Session) { s.LastActive = before.Add(-30 * time.Minute) }), // idle ends exactly at before
	}
	const key = "email:a@example.com"
	for _, at := range []time.Duration{-time.Second, 0, time.Second} {
		fail(t, st, t0.Add(at), key)
	}
	oldNonce, newNonce := sha256.Sum256([]byte("old")), sha256.Sum256([]byte("new"))
	for n, exp := range map[[32]byte]time.Time{oldNonce: before.Add(-time.Second), newNonce: before.Add(time.Hour)} {
		fresh, err := st.ConsumeNonce(t.Context(), n, exp)
		require.NoError(t, err)
		require.True(t, fresh)
	}

	require.NoError(t, st.PurgeExpired(t.Context(), before))

	for _, s := range gone {
		_, err := st.SessionByID(t.Context(), s.ID)
		assert.ErrorIs(t, err, security.ErrNotFound)
		_, err = st.SessionByTokenHash(t.Context(), s.TokenHash)
		assert.ErrorIs(t, err, security.ErrNotFound)
	}
	for _, s := range kept {
		assertSession(t, s, getSession(t, st, s.ID))
	}
	n, oldest, err := st.LoginFailures(t.Context(), key, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, 2, n, "failures before the cut are gone")
	assert.True(t, oldest.Equal(t0), "oldest = %v", oldest)

	fresh, err := st.ConsumeNonce(t.Context(), oldNonce, before.Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, fresh, "an expired nonce is forgotten")
	fresh, err = st.ConsumeNonce(t.Context(), newNonce, before.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, fresh, "an unexpired nonce stays used")
}

func testConsumeNonce(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	for _, tc := range []struct {
		name string
		hash [32]byte
		want bool
	}{
		{"first use", h1, true},
		{"second use", h1, false},
		{"other nonce", h2, true},
		{"third use", h1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh, err := st.ConsumeNonce(t.Context(), tc.hash, t0.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, tc.want, fresh)
		})
	}

	t.Run("concurrent", func(t *testing.T) {
		h := sha256.Sum256([]byte("raced"))
		results := parallel(50, func(int) (bool, error) { return st.ConsumeNonce(t.Context(), h, t0.Add(time.Hour)) })
		freshCount := 0
		for _, r := range results {
			require.NoError(t, r.err)
			if r.v {
				freshCount++
			}
		}
		assert.Equal(t, 1, freshCount, "exactly one caller may see the nonce fresh")
	})
}

func testSecret(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	first, err := st.Secret(t.Context(), "csrf", 32)
	require.NoError(t, err)
	require.Len(t, first, 32)
	assert.NotEqual(t, make([]byte, 32), first, "a secret is random, not zeros")

	again, err := st.Secret(t.Context(), "csrf", 32)
	require.NoError(t, err)
	assert.Equal(t, first, again, "stable across calls")
	again[0] ^= 0xff
	again, err = st.Secret(t.Context(), "csrf", 32)
	require.NoError(t, err)
	assert.Equal(t, first, again, "callers cannot change it through the returned slice")

	other, err := st.Secret(t.Context(), "other", 48)
	require.NoError(t, err)
	assert.Len(t, other, 48)
	assert.False(t, bytes.HasPrefix(other, first), "names have their own secrets")

	_, err = st.Secret(t.Context(), "bad", 0)
	assert.ErrorIs(t, err, security.ErrInvalid)
	_, err = st.Secret(t.Context(), "bad", -1)
	assert.ErrorIs(t, err, security.ErrInvalid)

	t.Run("concurrent first calls agree", func(t *testing.T) {
		results := parallel(20, func(int) ([]byte, error) { return st.Secret(t.Context(), "raced", 32) })
		for i, r := range results {
			require.NoError(t, r.err)
			require.Len(t, r.v, 32)
			assert.Equal(t, results[0].v, r.v, "call %d", i)
		}
	})
}

func testTimeRoundTrip(t *testing.T, open func(*testing.T) Store) {
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"UTC with nanoseconds", time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)},
		{"fixed zone", time.Date(2026, 3, 1, 17, 30, 0, 987654321, time.FixedZone("IST", 5*3600+1800))},
		{"negative offset", time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.FixedZone("X", -9*3600))},
		{"local", time.Date(2026, 7, 4, 8, 9, 10, 1, time.Local)},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 5, time.UTC)},
		{"with monotonic reading", time.Now()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			at := tc.at
			s := session.Session{ID: "sess_time", TokenHash: security.HashToken("time"), UserID: 1,
				Kind: session.KindWeb, CreatedAt: at, LastActive: at.Add(time.Nanosecond),
				IdleTimeout: 1234567891 * time.Nanosecond, ExpiresAt: at.Add(90 * 24 * time.Hour)}
			create(t, st, s)
			require.NoError(t, st.RevokeSession(t.Context(), s.ID, at.Add(2*time.Nanosecond), nil))
			require.NoError(t, st.RecordEvents(t.Context(), security.Event{Time: at, Type: security.EventLogout}))
			fail(t, st, at, "k")
			_, err := st.AddBlacklist(t.Context(), session.BlacklistEntry{UserID: 2, CreatedAt: at}, nil)
			require.NoError(t, err)

			got := getSession(t, st, s.ID)
			for _, c := range []struct {
				name      string
				got, want time.Time
			}{
				{"CreatedAt", got.CreatedAt, at},
				{"LastActive", got.LastActive, at.Add(time.Nanosecond)},
				{"ExpiresAt", got.ExpiresAt, at.Add(90 * 24 * time.Hour)},
				{"RevokedAt", got.RevokedAt, at.Add(2 * time.Nanosecond)},
				{"event", allEvents(t, st)[0].Time, at},
				{"failure", oldestFailure(t, st, "k"), at},
				{"blacklist", firstEntry(t, st).CreatedAt, at},
			} {
				assert.True(t, c.want.Equal(c.got), "%s = %v, want %v", c.name, c.got, c.want)
			}
			assert.Equal(t, s.IdleTimeout, got.IdleTimeout)
		})
	}

	t.Run("zero RevokedAt stays zero", func(t *testing.T) {
		st := open(t)
		s := newSession(1, t0)
		create(t, st, s)
		assert.True(t, getSession(t, st, s.ID).RevokedAt.IsZero())
	})
}

func oldestFailure(t *testing.T, st Store, key string) time.Time {
	t.Helper()
	_, oldest, err := st.LoginFailures(t.Context(), key, time.Time{})
	require.NoError(t, err)
	return oldest
}

func firstEntry(t *testing.T, st Store) session.BlacklistEntry {
	t.Helper()
	list, err := st.Blacklist(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, list)
	return list[0]
}

// result is what one call of parallel returned.
type result[T any] struct {
	v   T
	err error
}

// parallel calls f n times at once, released together, and returns the
// results in call order.
func parallel[T any](n int, f func(i int) (T, error)) []result[T] {
	out := make([]result[T], n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			v, err := f(i)
			out[i] = result[T]{v, err}
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return out
}

func testConcurrency(t *testing.T, open func(*testing.T) Store) {
	t.Run("one revoke wins", func(t *testing.T) {
		st := open(t)
		s := newSession(42, t0)
		create(t, st, s)
		results := parallel(50, func(i int) (struct{}, error) {
			return struct{}{}, st.RevokeSession(t.Context(), s.ID, t0.Add(time.Duration(i)),
				[]security.Event{event(security.EventSessionTerminated, fmt.Sprint(i))})
		})
		wins := 0
		for _, r := range results {
			if r.err == nil {
				wins++
			} else {
				assert.ErrorIs(t, r.err, security.ErrNotFound)
			}
		}
		assert.Equal(t, 1, wins)
		assert.Len(t, allEvents(t, st), 1, "one event, from the winner")
	})

	// A login racing with a blacklisting either is refused or has its
	// session revoked: no live session survives.
	t.Run("logins racing a blacklisting", func(t *testing.T) {
		st := open(t)
		const user = 42
		results := parallel(21, func(i int) (session.Session, error) {
			if i == 10 {
				_, err := st.AddBlacklist(t.Context(), session.BlacklistEntry{UserID: user, CreatedAt: t0}, nil)
				return session.Session{}, err
			}
			s := newSession(user, t0.Add(-time.Second))
			return s, st.CreateSession(t.Context(), s, nil)
		})
		for i, r := range results {
			switch {
			case i == 10:
				require.NoError(t, r.err)
			case r.err != nil:
				assert.ErrorIs(t, r.err, security.ErrBlacklisted)
			default:
				got := getSession(t, st, r.v.ID)
				assert.False(t, got.Live(t0), "session %s of a blacklisted user is live", got.ID)
			}
		}
		_, total, err := st.ListSessions(t.Context(), session.ListQuery{Now: t0, UserID: user, Limit: 100})
		require.NoError(t, err)
		assert.Zero(t, total)
	})
}
