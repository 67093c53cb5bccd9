package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// passwordHash returns user id's stored password hash.
func passwordHash(t *testing.T, st Store, id int64) string {
	t.Helper()
	u, err := st.UserByID(t.Context(), id)
	require.NoError(t, err)
	return u.PasswordHash
}

func testChangePassword(t *testing.T, open func(*testing.T) Store) {
	// One user (alice) with a current web session, another web session, a
	// bearer token, and sessions that have already ended; bob's session
	// is someone else's.
	type fixture struct {
		st                                   Store
		current, other, token                session.Session
		revoked, expired, idle, otherUserSes session.Session
	}
	setup := func(t *testing.T) fixture {
		st := withUsers(t, open)
		f := fixture{st: st,
			current: newSession(alice.UserID, t0.Add(-time.Minute)),
			other:   newSession(alice.UserID, t0.Add(-2*time.Minute)),
			token:   newSession(alice.UserID, t0.Add(-3*time.Minute)),
			revoked: newSession(alice.UserID, t0.Add(-time.Minute)),
			expired: newSession(alice.UserID, t0.Add(-time.Minute)),
			idle:    newSession(alice.UserID, t0.Add(-30*time.Minute)),
		}
		f.token.Kind = session.KindMobile
		f.revoked.RevokedAt = t0.Add(-30 * time.Second)
		f.expired.ExpiresAt = t0
		f.otherUserSes = newSession(bob.UserID, t0.Add(-time.Minute))
		create(t, st, f.current, f.other, f.token, f.revoked, f.expired, f.idle, f.otherUserSes)
		return f
	}
	change := func(revokeOthers bool) session.PasswordChange {
		return session.PasswordChange{UserID: alice.UserID, OldHash: alice.PasswordHash, NewHash: "$argon2id$new",
			At: t0, RevokeOthers: revokeOthers, KeepSessionID: "to be set"}
	}
	changedEvent := func(n int) security.Event {
		return event(session.EventPasswordChanged, fmt.Sprint("revoked ", n))
	}

	t.Run("revokes the other live sessions", func(t *testing.T) {
		f := setup(t)
		c := change(true)
		c.KeepSessionID = f.current.ID
		var got []session.Session
		calls := 0
		n, err := f.st.ChangePassword(t.Context(), c, func(rev []session.Session) []security.Event {
			calls++
			got = append([]session.Session(nil), rev...)
			return []security.Event{changedEvent(len(rev))}
		})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		assert.Equal(t, 1, calls)
		assert.Equal(t, "$argon2id$new", passwordHash(t, f.st, alice.UserID))
		assert.Equal(t, bob.PasswordHash, passwordHash(t, f.st, bob.UserID), "another user's hash is left alone")

		// The other web session and the bearer token, sorted by id,
		// revoked at the change's time.
		want := []session.Session{f.other, f.token}
		for i := range want {
			want[i].RevokedAt = t0
		}
		if want[1].ID < want[0].ID {
			want[0], want[1] = want[1], want[0]
		}
		assert.Equal(t, normSessions(want), normSessions(got))
		for _, s := range append(want, f.current, f.revoked, f.expired, f.idle, f.otherUserSes) {
			assertSession(t, s, getSession(t, f.st, s.ID))
		}
		assert.Equal(t, []security.Event{normEvent(changedEvent(2))}, eventsAfter(t, f.st, 0))
	})

	t.Run("keeps the sessions when told", func(t *testing.T) {
		f := setup(t)
		c := change(false)
		c.KeepSessionID = f.current.ID
		gotLen := -1
		n, err := f.st.ChangePassword(t.Context(), c, func(rev []session.Session) []security.Event {
			gotLen = len(rev)
			return []security.Event{changedEvent(len(rev))}
		})
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.Zero(t, gotLen)
		assert.Equal(t, "$argon2id$new", passwordHash(t, f.st, alice.UserID))
		for _, s := range []session.Session{f.current, f.other, f.token, f.revoked, f.expired, f.idle, f.otherUserSes} {
			assertSession(t, s, getSession(t, f.st, s.ID))
		}
		assert.Equal(t, []security.Event{normEvent(changedEvent(0))}, eventsAfter(t, f.st, 0))
	})

	t.Run("no kept session revokes every live one", func(t *testing.T) {
		f := setup(t)
		c := change(true)
		c.KeepSessionID = ""
		n, err := f.st.ChangePassword(t.Context(), c, nil)
		require.NoError(t, err, "a nil callback is allowed")
		assert.Equal(t, 3, n)
		_, total, err := f.st.ListSessions(t.Context(), session.ListQuery{Now: t0, UserID: alice.UserID, Limit: 10})
		require.NoError(t, err)
		assert.Zero(t, total)
		assert.Empty(t, allEvents(t, f.st))
	})

	// Refusals change nothing: not the hash, not a session, no event.
	for _, tc := range []struct {
		name string
		edit func(*session.PasswordChange)
		want error
	}{
		{"stale old hash", func(c *session.PasswordChange) { c.OldHash = "$argon2id$older" }, security.ErrConflict},
		{"empty old hash", func(c *session.PasswordChange) { c.OldHash = "" }, security.ErrConflict},
		{"old hash differs by case", func(c *session.PasswordChange) { c.OldHash = "$ARGON2ID" + alice.PasswordHash[9:] }, security.ErrConflict},
		{"unknown user", func(c *session.PasswordChange) { c.UserID = 99 }, security.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			c := change(true)
			c.KeepSessionID = f.current.ID
			tc.edit(&c)
			called := false
			n, err := f.st.ChangePassword(t.Context(), c, func([]session.Session) []security.Event {
				called = true
				return []security.Event{changedEvent(0)}
			})
			require.ErrorIs(t, err, tc.want)
			assert.Zero(t, n)
			assert.False(t, called, "no events are made for a refused change")
			assert.Equal(t, alice.PasswordHash, passwordHash(t, f.st, alice.UserID))
			for _, s := range []session.Session{f.current, f.other, f.token, f.revoked, f.expired, f.idle, f.otherUserSes} {
				assertSession(t, s, getSession(t, f.st, s.ID))
			}
			assert.Empty(t, allEvents(t, f.st))
		})
	}

	// Concurrent changes verified against one hash: exactly one wins, and
	// the stored hash is the winner's.
	t.Run("one of concurrent changes wins", func(t *testing.T) {
		st := withUsers(t, open)
		const n = 20
		results := parallel(n, func(i int) (string, error) {
			next := fmt.Sprint("$argon2id$new-", i)
			_, err := st.ChangePassword(t.Context(), session.PasswordChange{UserID: alice.UserID, OldHash: alice.PasswordHash,
				NewHash: next, At: t0, RevokeOthers: true}, func([]session.Session) []security.Event {
				return []security.Event{event(session.EventPasswordChanged, next)}
			})
			return next, err
		})
		var winners []string
		for _, r := range results {
			if r.err == nil {
				winners = append(winners, r.v)
			} else {
				assert.ErrorIs(t, r.err, security.ErrConflict)
			}
		}
		require.Len(t, winners, 1)
		assert.Equal(t, winners[0], passwordHash(t, st, alice.UserID))
		evs := allEvents(t, st)
		require.Len(t, evs, 1, "one event, from the winner")
		assert.Equal(t, winners[0], evs[0].Subject)
	})

	// A change from the winner's new hash then succeeds: the
	// compare-and-set compares with what is stored now.
	t.Run("a change after a change", func(t *testing.T) {
		st := withUsers(t, open)
		_, err := st.ChangePassword(t.Context(), session.PasswordChange{UserID: alice.UserID, OldHash: alice.PasswordHash,
			NewHash: "$argon2id$second", At: t0}, nil)
		require.NoError(t, err)
		_, err = st.ChangePassword(t.Context(), session.PasswordChange{UserID: alice.UserID, OldHash: "$argon2id$second",
			NewHash: "$argon2id$third", At: t0}, nil)
		require.NoError(t, err)
		assert.Equal(t, "$argon2id$third", passwordHash(t, st, alice.UserID))
	})
}
