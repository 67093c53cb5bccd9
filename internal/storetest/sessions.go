package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func testCreateSession(t *testing.T, open func(*testing.T) Store) {
	t.Run("stored with its events", func(t *testing.T) {
		st := open(t)
		s := newSession(42, t0)
		s.Kind = session.KindMobile
		evs := []security.Event{event(security.EventLoginSucceeded, s.ID), event(security.EventTokenIssued, s.ID)}
		require.NoError(t, st.CreateSession(t.Context(), s, evs))
		assertSession(t, s, getSession(t, st, s.ID))
		got, err := st.SessionByTokenHash(t.Context(), s.TokenHash)
		require.NoError(t, err)
		assertSession(t, s, got)
		assert.Equal(t, normEvents(evs), eventsAfter(t, st, 0))
	})

	t.Run("blacklisted user is refused", func(t *testing.T) {
		st := open(t)
		addBlacklist(t, st, 42, t0.Add(-time.Hour))
		s := newSession(42, t0)
		s.IP = "192.0.2.99"
		err := st.CreateSession(t.Context(), s, []security.Event{event(security.EventLoginSucceeded, s.ID)})
		require.ErrorIs(t, err, security.ErrBlacklisted)

		_, err = st.SessionByID(t.Context(), s.ID)
		assert.ErrorIs(t, err, security.ErrNotFound)
		_, err = st.SessionByTokenHash(t.Context(), s.TokenHash)
		assert.ErrorIs(t, err, security.ErrNotFound)
		assert.Empty(t, allEvents(t, st), "no event for a refused session")
		known, anyIP, err := st.KnownLoginIP(t.Context(), 42, s.IP)
		require.NoError(t, err)
		assert.False(t, known || anyIP, "a refused login must not remember its IP")

		// Removing the entry lets the user in again.
		require.NoError(t, st.RemoveBlacklist(t.Context(), 42, nil))
		require.NoError(t, st.CreateSession(t.Context(), s, nil))
		assertSession(t, s, getSession(t, st, s.ID))
	})

	t.Run("duplicates are refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			dup  func(orig session.Session) session.Session
		}{
			{"same id", func(orig session.Session) session.Session {
				d := newSession(43, t0)
				d.ID = orig.ID
				return d
			}},
			{"same token hash", func(orig session.Session) session.Session {
				d := newSession(43, t0)
				d.TokenHash = orig.TokenHash
				return d
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := open(t)
				orig := newSession(42, t0)
				create(t, st, orig)
				d := tc.dup(orig)
				d.IP = "192.0.2.200"
				err := st.CreateSession(t.Context(), d, []security.Event{event(security.EventLoginSucceeded, d.ID)})
				require.ErrorIs(t, err, security.ErrConflict)
				assertSession(t, orig, getSession(t, st, orig.ID))
				got, err := st.SessionByTokenHash(t.Context(), orig.TokenHash)
				require.NoError(t, err)
				assertSession(t, orig, got)
				assert.Empty(t, allEvents(t, st))
				known, anyIP, err := st.KnownLoginIP(t.Context(), 43, d.IP)
				require.NoError(t, err)
				assert.False(t, known || anyIP, "a refused session must not remember its IP")
			})
		}
	})
}

func testLookup(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	live := newSession(42, t0)
	revoked := newSession(42, t0)
	revoked.RevokedAt = t0.Add(time.Second)
	create(t, st, live, revoked)

	for _, tc := range []struct {
		name string
		want session.Session // zero ID: not found
		get  func() (session.Session, error)
	}{
		{"by id", live, func() (session.Session, error) { return st.SessionByID(t.Context(), live.ID) }},
		{"by token hash", live, func() (session.Session, error) { return st.SessionByTokenHash(t.Context(), live.TokenHash) }},
		{"revoked by id", revoked, func() (session.Session, error) { return st.SessionByID(t.Context(), revoked.ID) }},
		{"revoked by token hash", revoked, func() (session.Session, error) { return st.SessionByTokenHash(t.Context(), revoked.TokenHash) }},
		{"unknown id", session.Session{}, func() (session.Session, error) { return st.SessionByID(t.Context(), "sess_unknown") }},
		{"unknown token hash", session.Session{}, func() (session.Session, error) {
			return st.SessionByTokenHash(t.Context(), security.HashToken(security.NewToken()))
		}},
		{"zero token hash", session.Session{}, func() (session.Session, error) {
			return st.SessionByTokenHash(t.Context(), security.TokenHash{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.get()
			if tc.want.ID == "" {
				assert.ErrorIs(t, err, security.ErrNotFound)
				return
			}
			require.NoError(t, err)
			assertSession(t, tc.want, got)
		})
	}
}

func testListSessions(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	mk := func(id string, user int64, last time.Time, edit func(*session.Session)) session.Session {
		s := newSession(user, last)
		s.ID = id
		if edit != nil {
			edit(&s)
		}
		create(t, st, s)
		return s
	}
	// Live at t0, newest first: a and c tie (id order), then d, b, e.
	a := mk("sess_list_a", 1, t0.Add(-time.Minute), nil)
	mk("sess_list_b", 1, t0.Add(-5*time.Minute), nil)
	mk("sess_list_c", 2, t0.Add(-time.Minute), nil)
	mk("sess_list_d", 2, t0.Add(-2*time.Minute), func(s *session.Session) { s.ExpiresAt = t0.Add(time.Nanosecond) })
	mk("sess_list_e", 2, t0.Add(-30*time.Minute+time.Nanosecond), nil)
	// Not live at t0.
	mk("sess_list_r", 1, t0, func(s *session.Session) { s.RevokedAt = t0.Add(-30 * time.Second) })
	mk("sess_list_f", 1, t0.Add(-time.Minute), func(s *session.Session) { s.ExpiresAt = t0 })
	mk("sess_list_g", 2, t0.Add(-30*time.Minute), nil) // idle: LastActive+IdleTimeout == t0

	for _, tc := range []struct {
		name      string
		q         session.ListQuery
		want      []string
		wantTotal int
	}{
		{"all", session.ListQuery{Now: t0, Limit: 100},
			[]string{"sess_list_a", "sess_list_c", "sess_list_d", "sess_list_b", "sess_list_e"}, 5},
		{"user 1", session.ListQuery{Now: t0, UserID: 1, Limit: 100}, []string{"sess_list_a", "sess_list_b"}, 2},
		{"user 2", session.ListQuery{Now: t0, UserID: 2, Limit: 100},
			[]string{"sess_list_c", "sess_list_d", "sess_list_e"}, 3},
		{"user without sessions", session.ListQuery{Now: t0, UserID: 3, Limit: 100}, nil, 0},
		{"first page", session.ListQuery{Now: t0, Limit: 2}, []string{"sess_list_a", "sess_list_c"}, 5},
		{"second page", session.ListQuery{Now: t0, Offset: 2, Limit: 2}, []string{"sess_list_d", "sess_list_b"}, 5},
		{"last page", session.ListQuery{Now: t0, Offset: 4, Limit: 2}, []string{"sess_list_e"}, 5},
		{"past the end", session.ListQuery{Now: t0, Offset: 5, Limit: 2}, nil, 5},
		{"user page", session.ListQuery{Now: t0, UserID: 2, Offset: 1, Limit: 1}, []string{"sess_list_d"}, 3},
		{"negative offset counts as zero", session.ListQuery{Now: t0, Offset: -3, Limit: 1}, []string{"sess_list_a"}, 5},
		{"zero limit", session.ListQuery{Now: t0, Limit: 0}, nil, 5},
		{"negative limit", session.ListQuery{Now: t0, Limit: -1}, nil, 5},
		{"earlier: expired and idle ones were live", session.ListQuery{Now: t0.Add(-10 * time.Minute), Limit: 100},
			[]string{"sess_list_a", "sess_list_c", "sess_list_f", "sess_list_d", "sess_list_b", "sess_list_e", "sess_list_g"}, 7},
		{"later: nothing is live", session.ListQuery{Now: t0.Add(13 * time.Hour), Limit: 100}, nil, 0},
		{"a nanosecond later: d expired, e idle", session.ListQuery{Now: t0.Add(time.Nanosecond), Limit: 100},
			[]string{"sess_list_a", "sess_list_c", "sess_list_b"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, total, err := st.ListSessions(t.Context(), tc.q)
			require.NoError(t, err)
			assert.Equal(t, tc.want, nilIfEmpty(ids(list)))
			assert.Equal(t, tc.wantTotal, total)
		})
	}

	t.Run("full sessions", func(t *testing.T) {
		list, _, err := st.ListSessions(t.Context(), session.ListQuery{Now: t0, UserID: 1, Limit: 1})
		require.NoError(t, err)
		require.Len(t, list, 1)
		assertSession(t, a, list[0])
	})
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func testTouchSession(t *testing.T, open func(*testing.T) Store) {
	last := t0.Add(-5 * time.Minute)
	for _, tc := range []struct {
		name     string
		revoked  bool
		at       time.Time
		wantLast time.Time
	}{
		{"forward", false, t0, t0},
		{"by a nanosecond", false, last.Add(time.Nanosecond), last.Add(time.Nanosecond)},
		{"backward is ignored", false, last.Add(-time.Minute), last},
		{"same time", false, last, last},
		{"revoked is not touched", true, t0, last},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			s := newSession(42, last)
			if tc.revoked {
				s.RevokedAt = last.Add(time.Second)
			}
			create(t, st, s)
			require.NoError(t, st.TouchSession(t.Context(), s.ID, tc.at))
			want := s
			want.LastActive = tc.wantLast
			assertSession(t, want, getSession(t, st, s.ID))
		})
	}

	t.Run("never revives", func(t *testing.T) {
		st := open(t)
		s := newSession(42, t0.Add(-time.Minute))
		create(t, st, s)
		require.NoError(t, st.RevokeSession(t.Context(), s.ID, t0, nil))
		require.NoError(t, st.TouchSession(t.Context(), s.ID, t0.Add(time.Minute)))
		got := getSession(t, st, s.ID)
		assert.True(t, got.RevokedAt.Equal(t0), "RevokedAt = %v", got.RevokedAt)
		assert.False(t, got.Live(t0.Add(time.Minute)))
		_, total, err := st.ListSessions(t.Context(), session.ListQuery{Now: t0.Add(time.Minute), Limit: 10})
		require.NoError(t, err)
		assert.Zero(t, total)
	})

	t.Run("unknown id is not an error", func(t *testing.T) {
		st := open(t)
		assert.NoError(t, st.TouchSession(t.Context(), "sess_unknown", t0))
		_, err := st.SessionByID(t.Context(), "sess_unknown")
		assert.ErrorIs(t, err, security.ErrNotFound, "touching must not create a session")
	})
}

func testRevokeSession(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	s := newSession(42, t0.Add(-time.Minute))
	other := newSession(42, t0.Add(-time.Minute))
	create(t, st, s, other)

	first := []security.Event{event(security.EventSessionTerminated, s.ID)}
	require.NoError(t, st.RevokeSession(t.Context(), s.ID, t0, first))
	want := s
	want.RevokedAt = t0
	assertSession(t, want, getSession(t, st, s.ID))
	got, err := st.SessionByTokenHash(t.Context(), s.TokenHash)
	require.NoError(t, err)
	assertSession(t, want, got)
	assert.Equal(t, normEvents(first), eventsAfter(t, st, 0))
	assert.Zero(t, getSession(t, st, other.ID).RevokedAt, "only the named session is revoked")

	list, total, err := st.ListSessions(t.Context(), session.ListQuery{Now: t0, Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, []string{other.ID}, ids(list))
	assert.Equal(t, 1, total)

	for _, tc := range []struct {
		name string
		id   string
	}{
		{"second revoke", s.ID},
		{"unknown session", "sess_unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := st.RevokeSession(t.Context(), tc.id, t0.Add(time.Hour), []security.Event{event(security.EventLogout, tc.id)})
			assert.ErrorIs(t, err, security.ErrNotFound)
			assert.Len(t, allEvents(t, st), 1, "a failed revoke writes no event")
			assertSession(t, want, getSession(t, st, s.ID))
		})
	}
}

func testKnownLoginIP(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	a := newSession(42, t0)
	a.IP = "203.0.113.10"
	b := newSession(42, t0)
	b.IP = "2001:db8::1"
	c := newSession(43, t0)
	c.IP = "198.51.100.1"
	create(t, st, a, b, c)
	// A revoked session still counts: the user did log in from there.
	require.NoError(t, st.RevokeSession(t.Context(), b.ID, t0, nil))

	for _, tc := range []struct {
		name            string
		user            int64
		ip              string
		wantKnown, want bool
	}{
		{"first address", 42, "203.0.113.10", true, true},
		{"second address", 42, "2001:db8::1", true, true},
		{"new address", 42, "203.0.113.11", false, true},
		{"another user's address", 42, "198.51.100.1", false, true},
		{"other user", 43, "198.51.100.1", true, true},
		{"user who never logged in", 44, "203.0.113.10", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			known, anyIP, err := st.KnownLoginIP(t.Context(), tc.user, tc.ip)
			require.NoError(t, err)
			assert.Equal(t, tc.wantKnown, known, "known")
			assert.Equal(t, tc.want, anyIP, "any")
		})
	}
}

// testSessionUser checks the optional [session.SessionUserLoader]: the same
// session and user as the two separate reads, and not found for an unknown
// credential or a session whose user is gone.
func testSessionUser(t *testing.T, open func(*testing.T) Store) {
	st := withUsers(t, open)
	l, ok := st.(session.SessionUserLoader)
	if !ok {
		t.Skip("store does not implement session.SessionUserLoader")
	}
	s := newSession(alice.UserID, t0)
	require.NoError(t, st.CreateSession(t.Context(), s, nil))
	gotS, gotU, err := l.SessionUserByTokenHash(t.Context(), s.TokenHash)
	require.NoError(t, err)
	assertSession(t, s, gotS)
	wantU, err := st.UserByID(t.Context(), alice.UserID)
	require.NoError(t, err)
	assert.Equal(t, normUser(wantU), normUser(gotU))

	// Revoked sessions are returned too: liveness is the caller's call.
	require.NoError(t, st.RevokeSession(t.Context(), s.ID, t0, nil))
	gotS, _, err = l.SessionUserByTokenHash(t.Context(), s.TokenHash)
	require.NoError(t, err)
	assert.False(t, gotS.RevokedAt.IsZero())

	_, _, err = l.SessionUserByTokenHash(t.Context(), security.HashToken(security.NewToken()))
	assert.ErrorIs(t, err, security.ErrNotFound)

	orphan := newSession(999, t0) // no such user
	require.NoError(t, st.CreateSession(t.Context(), orphan, nil))
	_, _, err = l.SessionUserByTokenHash(t.Context(), orphan.TokenHash)
	assert.ErrorIs(t, err, security.ErrNotFound)
}
