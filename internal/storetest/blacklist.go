package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func testAddBlacklist(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	live1 := newSession(42, t0.Add(-time.Minute))
	live2 := newSession(42, t0.Add(-10*time.Minute))
	live2.Kind = session.KindMobile
	revoked := newSession(42, t0.Add(-time.Minute))
	revoked.RevokedAt = t0.Add(-30 * time.Second)
	expired := newSession(42, t0.Add(-time.Minute))
	expired.ExpiresAt = t0
	idle := newSession(42, t0.Add(-30*time.Minute))
	otherUser := newSession(43, t0.Add(-time.Minute))
	create(t, st, live1, live2, revoked, expired, idle, otherUser)

	entry := session.BlacklistEntry{UserID: 42, UserName: "Mallory", Reason: "Suspicious login activity detected",
		BlacklistedBy: 7, BlacklistedByName: "Staff", CreatedAt: t0}
	var got []session.Session
	calls := 0
	n, err := st.AddBlacklist(t.Context(), entry, func(rev []session.Session) []security.Event {
		calls++
		got = append([]session.Session(nil), rev...)
		evs := []security.Event{event(security.EventBlacklistAdded, "42")}
		for _, s := range rev {
			evs = append(evs, event(security.EventSessionTerminated, s.ID))
		}
		return evs
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, 1, calls)

	// The callback gets exactly the live sessions, sorted by id, revoked at
	// the entry's time.
	wantRevoked := []session.Session{live1, live2}
	for i := range wantRevoked {
		wantRevoked[i].RevokedAt = t0
	}
	if wantRevoked[1].ID < wantRevoked[0].ID {
		wantRevoked[0], wantRevoked[1] = wantRevoked[1], wantRevoked[0]
	}
	assert.Equal(t, normSessions(wantRevoked), normSessions(got))

	t.Run("sessions", func(t *testing.T) {
		for _, want := range append(wantRevoked, revoked, expired, idle, otherUser) {
			assertSession(t, want, getSession(t, st, want.ID))
		}
		_, total, err := st.ListSessions(t.Context(), session.ListQuery{Now: t0, UserID: 42, Limit: 10})
		require.NoError(t, err)
		assert.Zero(t, total)
	})

	t.Run("events", func(t *testing.T) {
		want := []security.Event{event(security.EventBlacklistAdded, "42")}
		for _, s := range got {
			want = append(want, event(security.EventSessionTerminated, s.ID))
		}
		assert.Equal(t, normEvents(want), eventsAfter(t, st, 0))
	})

	t.Run("entry", func(t *testing.T) {
		black, err := st.IsBlacklisted(t.Context(), 42)
		require.NoError(t, err)
		assert.True(t, black)
		list, err := st.Blacklist(t.Context())
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, entry, normEntry(list[0]))
	})

	t.Run("second add conflicts and changes nothing", func(t *testing.T) {
		again := entry
		again.Reason = "again"
		again.CreatedAt = t0.Add(2 * time.Hour)
		before := len(allEvents(t, st))
		_, err := st.AddBlacklist(t.Context(), again, func([]session.Session) []security.Event {
			return []security.Event{event(security.EventBlacklistAdded, "again")}
		})
		require.ErrorIs(t, err, security.ErrConflict)
		assert.Len(t, allEvents(t, st), before, "no event for a refused entry")
		list, err := st.Blacklist(t.Context())
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, entry, normEntry(list[0]), "the first entry stays")
		for _, want := range append(wantRevoked, revoked, expired, idle, otherUser) {
			assertSession(t, want, getSession(t, st, want.ID))
		}
	})

	t.Run("no sessions, no callback events", func(t *testing.T) {
		var gotLen = -1
		n, err := st.AddBlacklist(t.Context(), session.BlacklistEntry{UserID: 45, Reason: "r", CreatedAt: t0},
			func(rev []session.Session) []security.Event { gotLen = len(rev); return nil })
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.Zero(t, gotLen)
		n, err = st.AddBlacklist(t.Context(), session.BlacklistEntry{UserID: 46, Reason: "r", CreatedAt: t0}, nil)
		require.NoError(t, err, "a nil callback is allowed")
		assert.Zero(t, n)
		for _, id := range []int64{45, 46} {
			black, err := st.IsBlacklisted(t.Context(), id)
			require.NoError(t, err)
			assert.True(t, black, "user %d", id)
		}
	})
}

func normEntry(e session.BlacklistEntry) session.BlacklistEntry {
	e.CreatedAt = utc(e.CreatedAt)
	return e
}

func testRemoveBlacklist(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	s := newSession(42, t0.Add(-time.Minute))
	create(t, st, s)
	addBlacklist(t, st, 42, t0)
	addBlacklist(t, st, 43, t0)

	t.Run("absent", func(t *testing.T) {
		err := st.RemoveBlacklist(t.Context(), 44, []security.Event{event(security.EventBlacklistRemoved, "44")})
		assert.ErrorIs(t, err, security.ErrNotFound)
		assert.Empty(t, allEvents(t, st))
	})

	t.Run("present", func(t *testing.T) {
		evs := []security.Event{event(security.EventBlacklistRemoved, "42")}
		require.NoError(t, st.RemoveBlacklist(t.Context(), 42, evs))
		assert.Equal(t, normEvents(evs), eventsAfter(t, st, 0))
		for _, tc := range []struct {
			user int64
			want bool
		}{{42, false}, {43, true}} {
			black, err := st.IsBlacklisted(t.Context(), tc.user)
			require.NoError(t, err)
			assert.Equal(t, tc.want, black, "user %d", tc.user)
		}
		list, err := st.Blacklist(t.Context())
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, int64(43), list[0].UserID)
		assert.False(t, getSession(t, st, s.ID).RevokedAt.IsZero(), "removal revives nothing")
	})

	t.Run("twice", func(t *testing.T) {
		assert.ErrorIs(t, st.RemoveBlacklist(t.Context(), 42, nil), security.ErrNotFound)
		assert.Len(t, allEvents(t, st), 1)
	})

	t.Run("can log in again", func(t *testing.T) {
		s2 := newSession(42, t0.Add(time.Minute))
		require.NoError(t, st.CreateSession(t.Context(), s2, nil))
		_, total, err := st.ListSessions(t.Context(), session.ListQuery{Now: t0.Add(time.Minute), UserID: 42, Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, 1, total)
	})
}

func testBlacklist(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	list, err := st.Blacklist(t.Context())
	require.NoError(t, err)
	assert.Empty(t, list)

	var want []session.BlacklistEntry
	for _, e := range []struct {
		user int64
		at   time.Time
	}{{1, t0.Add(-2 * time.Hour)}, {2, t0}, {3, t0.Add(-time.Hour)}, {4, t0.Add(-time.Nanosecond)}} {
		entry := session.BlacklistEntry{UserID: e.user, UserName: "user " + strconv.FormatInt(e.user, 10),
			Reason: "reason " + strconv.FormatInt(e.user, 10), BlacklistedBy: 7, BlacklistedByName: "Staff", CreatedAt: e.at}
		_, err := st.AddBlacklist(t.Context(), entry, nil)
		require.NoError(t, err)
		want = append(want, entry)
	}
	list, err = st.Blacklist(t.Context())
	require.NoError(t, err)
	got := make([]session.BlacklistEntry, len(list))
	for i, e := range list {
		got[i] = normEntry(e)
	}
	// Newest first.
	assert.Equal(t, []session.BlacklistEntry{want[1], want[3], want[2], want[0]}, got)

	for _, tc := range []struct {
		user int64
		want bool
	}{{1, true}, {2, true}, {3, true}, {4, true}, {5, false}, {0, false}} {
		black, err := st.IsBlacklisted(t.Context(), tc.user)
		require.NoError(t, err)
		assert.Equal(t, tc.want, black, "user %d", tc.user)
	}
}
