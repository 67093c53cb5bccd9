// Package storetest is the conformance suite every propsec store must pass:
// the in-memory store, the SQLite store and any later one run the same
// tests, so they cannot drift apart.
//
// # Use
//
// From the store's own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store { return open(t) })
//	}
//
// open must return a new, empty store for each call and release it with
// t.Cleanup.
//
// # What it checks
//
// Behaviour, never implementation: what [session.Store],
// [session.UserDirectory], [session.PasswordUpdater],
// [session.PasswordChanger], [session.VerificationStore],
// [session.FactorStore], [security.NonceStore] and
// [security.SecretStore] document, plus the user and event methods
// every store offers. Times are compared with [time.Time.Equal], so a store
// may return them in another location; an empty permission list or event
// detail map may come back as nil.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Store is everything a propsec store implements.
type Store interface {
	session.Store
	session.UserDirectory
	session.PasswordUpdater
	session.PasswordChanger
	session.VerificationStore
	session.FactorStore
	security.NonceStore
	security.SecretStore

	// UpsertUser adds u, or replaces the user with u's id. Emails compare
	// case-insensitively and must be unique ([security.ErrConflict]); a
	// non-positive id or an empty email is [security.ErrInvalid].
	UpsertUser(ctx context.Context, u session.User) error
	// LoginFailures counts key's failures at or after since, and returns
	// the time of the oldest of them (zero when none).
	LoginFailures(ctx context.Context, key string, since time.Time) (n int, oldest time.Time, err error)
	// InsertUser adds u unless a user with u's id exists, and reports
	// whether it added it; an email held by another user is
	// [security.ErrConflict]. Of concurrent inserts of one id, exactly one
	// adds it.
	InsertUser(ctx context.Context, u session.User) (bool, error)
	// CountUsers returns how many users there are.
	CountUsers(ctx context.Context) (int, error)
	// Events returns every recorded event, oldest first, with its ID set.
	Events(ctx context.Context) ([]security.Event, error)
}

// Run runs the whole suite. open is called once per subtest and must
// return a new, empty store.
func Run(t *testing.T, open func(t *testing.T) Store) {
	for _, g := range []struct {
		name string
		run  func(*testing.T, func(*testing.T) Store)
	}{
		{"Users", testUsers},
		{"CreateSession", testCreateSession},
		{"Lookup", testLookup},
		{"SessionUser", testSessionUser},
		{"ListSessions", testListSessions},
		{"TouchSession", testTouchSession},
		{"RevokeSession", testRevokeSession},
		{"Events", testEvents},
		{"Audit", testAudit},
		{"KnownLoginIP", testKnownLoginIP},
		{"AddBlacklist", testAddBlacklist},
		{"RemoveBlacklist", testRemoveBlacklist},
		{"Blacklist", testBlacklist},
		{"ChangePassword", testChangePassword},
		{"LoginFailures", testLoginFailures},
		{"LoginReservations", testLoginReservations},
		{"LoginReservationsConcurrent", testLoginReservationsConcurrent},
		{"PurgeExpired", testPurgeExpired},
		{"ConsumeNonce", testConsumeNonce},
		{"Secret", testSecret},
		{"Concurrency", testConcurrency},
		{"TimeRoundTrip", testTimeRoundTrip},
		{"Verifications", testVerifications},
		{"VerificationsConcurrent", testVerificationsConcurrent},
		{"TOTP", testTOTP},
		{"RecoveryCodes", testRecoveryCodes},
		{"FactorsConcurrent", testFactorsConcurrent},
	} {
		t.Run(g.name, func(t *testing.T) { g.run(t, open) })
	}
}

// t0 is "now" in most tests: a time with nanoseconds, in UTC.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// newSession returns a web session of userID that was last active at last
// and that nothing has ended yet, with a random id and credential.
func newSession(userID int64, last time.Time) session.Session {
	return session.Session{
		ID:          security.NewID(session.IDPrefix),
		TokenHash:   security.HashToken(security.NewToken()),
		UserID:      userID,
		Kind:        session.KindWeb,
		IP:          "203.0.113.10",
		UserAgent:   "Mozilla/5.0 (storetest)",
		Location:    "London, GB",
		CreatedAt:   last.Add(-time.Minute),
		LastActive:  last,
		IdleTimeout: 30 * time.Minute,
		ExpiresAt:   last.Add(12 * time.Hour),
	}
}

// event returns an event of type typ about subject, at t0.
func event(typ security.EventType, subject string) security.Event {
	return security.Event{Time: t0, Type: typ, ActorUserID: 7, ActorSessionID: "sess_actor",
		SubjectUserID: 42, Subject: subject, IP: "198.51.100.7",
		Details: map[string]string{"reason": "storetest " + subject}}
}

func create(t *testing.T, st Store, ss ...session.Session) {
	t.Helper()
	for _, s := range ss {
		require.NoError(t, st.CreateSession(t.Context(), s, nil))
	}
}

func addBlacklist(t *testing.T, st Store, userID int64, at time.Time) {
	t.Helper()
	_, err := st.AddBlacklist(t.Context(), session.BlacklistEntry{UserID: userID, UserName: fmt.Sprint("user ", userID),
		Reason: "storetest", BlacklistedBy: 7, BlacklistedByName: "Staff", CreatedAt: at}, nil)
	require.NoError(t, err)
}

// --- comparison, tolerant of time locations and nil versus empty ---

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func normSession(s session.Session) session.Session {
	s.CreatedAt, s.LastActive, s.ExpiresAt, s.RevokedAt = utc(s.CreatedAt), utc(s.LastActive), utc(s.ExpiresAt), utc(s.RevokedAt)
	return s
}

func normSessions(ss []session.Session) []session.Session {
	out := make([]session.Session, len(ss))
	for i, s := range ss {
		out[i] = normSession(s)
	}
	return out
}

// normEvent also clears the ID, which the store assigns.
func normEvent(e security.Event) security.Event {
	e.ID, e.Time = 0, utc(e.Time)
	if len(e.Details) == 0 {
		e.Details = nil
	}
	return e
}

func normUser(u session.User) session.User {
	if len(u.Permissions) == 0 {
		u.Permissions = nil
	}
	return u
}

func assertSession(t *testing.T, want, got session.Session) {
	t.Helper()
	assert.Equal(t, normSession(want), normSession(got))
}

func ids(ss []session.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func getSession(t *testing.T, st Store, id string) session.Session {
	t.Helper()
	s, err := st.SessionByID(t.Context(), id)
	require.NoError(t, err)
	return s
}

func allEvents(t *testing.T, st Store) []security.Event {
	t.Helper()
	evs, err := st.Events(t.Context())
	require.NoError(t, err)
	return evs
}

// eventsAfter returns the events recorded after the first n, normalised.
func eventsAfter(t *testing.T, st Store, n int) []security.Event {
	t.Helper()
	evs := allEvents(t, st)
	require.GreaterOrEqual(t, len(evs), n, "events disappeared")
	var out []security.Event
	for _, e := range evs[n:] {
		out = append(out, normEvent(e))
	}
	return out
}

func normEvents(evs []security.Event) []security.Event {
	var out []security.Event
	for _, e := range evs {
		out = append(out, normEvent(e))
	}
	return out
}
