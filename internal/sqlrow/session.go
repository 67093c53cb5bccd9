package sqlrow

import (
	"cmp"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// SessionCols are the columns of a session, in the order [Session.Dest]
// scans them.
const SessionCols = `token_hash, id, user_id, kind, ip, user_agent, location,
	created_at, last_active, idle_timeout, expires_at, revoked_at`

// Session receives the columns of [SessionCols].
type Session struct {
	s                            session.Session
	hash                         []byte
	kind                         string
	created, last, idle, expires int64
	revoked                      sql.NullInt64
}

// Dest lists where Scan puts [SessionCols].
func (r *Session) Dest() []any {
	return []any{&r.hash, &r.s.ID, &r.s.UserID, &r.kind, &r.s.IP, &r.s.UserAgent, &r.s.Location,
		&r.created, &r.last, &r.idle, &r.expires, &r.revoked}
}

// Session converts the scanned columns.
func (r *Session) Session() (session.Session, error) {
	s := r.s
	if len(r.hash) != len(s.TokenHash) {
		return session.Session{}, fmt.Errorf("session %s: token hash of %d bytes", s.ID, len(r.hash))
	}
	copy(s.TokenHash[:], r.hash)
	s.Kind, s.IdleTimeout = session.Kind(r.kind), time.Duration(r.idle)
	s.CreatedAt, s.LastActive, s.ExpiresAt = FromNanos(r.created), FromNanos(r.last), FromNanos(r.expires)
	s.RevokedAt = FromNullNanos(r.revoked)
	return s, nil
}

// ScanSession reads [SessionCols].
func ScanSession(sc Scanner) (session.Session, error) {
	var r Session
	if err := sc.Scan(r.Dest()...); err != nil {
		return session.Session{}, err
	}
	return r.Session()
}

// ScanSessionUser reads [SessionCols] followed by [UserCols]: a session
// joined to its user.
func ScanSessionUser(sc Scanner) (session.Session, session.User, error) {
	var sr Session
	var ur User
	if err := sc.Scan(append(sr.Dest(), ur.Dest()...)...); err != nil {
		return session.Session{}, session.User{}, err
	}
	s, err := sr.Session()
	if err != nil {
		return session.Session{}, session.User{}, err
	}
	u, err := ur.User()
	return s, u, err
}

// SessionArgs are the values of [SessionCols] for sess, in order, as the
// arguments of an INSERT.
func SessionArgs(sess session.Session) []any {
	return []any{sess.TokenHash[:], sess.ID, sess.UserID, string(sess.Kind), sess.IP, sess.UserAgent, sess.Location,
		Nanos(sess.CreatedAt), Nanos(sess.LastActive), int64(sess.IdleTimeout), Nanos(sess.ExpiresAt),
		NullNanos(sess.RevokedAt)}
}

// BlacklistCols are the columns of a blacklist entry, in the order
// [ScanBlacklistEntry] reads them and [BlacklistArgs] lists them.
const BlacklistCols = `user_id, user_name, reason, blacklisted_by, blacklisted_by_name, created_at`

// BlacklistArgs are the values of [BlacklistCols] for e, in order, as the
// arguments of an INSERT.
func BlacklistArgs(e session.BlacklistEntry) []any {
	return []any{e.UserID, e.UserName, e.Reason, e.BlacklistedBy, e.BlacklistedByName, Nanos(e.CreatedAt)}
}

// ScanBlacklistEntry reads [BlacklistCols].
func ScanBlacklistEntry(sc Scanner) (session.BlacklistEntry, error) {
	var e session.BlacklistEntry
	var at int64
	err := sc.Scan(&e.UserID, &e.UserName, &e.Reason, &e.BlacklistedBy, &e.BlacklistedByName, &at)
	e.CreatedAt = FromNanos(at)
	return e, err
}

// LoginQueries are a dialect's two statements of
// [session.Store.ReserveLoginAttempt], each with two parameters: Count
// (key, since in nanoseconds) returns COUNT(*) and MIN(at) of the key's
// failures at or after since; Insert (key, at in nanoseconds) records one
// and returns its id.
type LoginQueries struct{ Count, Insert string }

// ReserveLogin is the body of [session.Store.ReserveLoginAttempt], to run
// inside a write transaction that serializes reservations of the same keys;
// row runs one statement of q in it.
func ReserveLogin(q LoginQueries, row func(query string, args ...any) Scanner, limits []session.LoginLimit,
	since, at time.Time) (session.LoginReservation, error) {
	r := session.LoginReservation{Failures: make([]int, len(limits)), Oldest: make([]time.Time, len(limits))}
	for i, l := range limits {
		var oldest sql.NullInt64
		if err := row(q.Count, l.Key, Nanos(since)).Scan(&r.Failures[i], &oldest); err != nil {
			return session.LoginReservation{}, err
		}
		r.Oldest[i] = FromNullNanos(oldest)
		r.Throttled = r.Throttled || r.Failures[i] >= l.Max
	}
	if r.Throttled {
		return r, nil
	}
	for _, l := range limits {
		var id int64
		if err := row(q.Insert, l.Key, Nanos(at)).Scan(&id); err != nil {
			return session.LoginReservation{}, err
		}
		r.Keys, r.Rows = append(r.Keys, l.Key), append(r.Rows, id)
	}
	return r, nil
}

// RevocationEvents sorts the sessions a store revoked by id and returns the
// events that events (nil: none) makes of them, for the store to write in
// the transaction that revoked them.
func RevocationEvents(revoked []session.Session, events func([]session.Session) []security.Event) []security.Event {
	slices.SortFunc(revoked, func(a, b session.Session) int { return cmp.Compare(a.ID, b.ID) })
	if events == nil {
		return nil
	}
	return events(revoked)
}

// PasswordNotChanged is the error of a password compare-and-set that
// updated no row: the user does not exist ([security.ErrNotFound]), or
// their hash is no longer the one the current password was verified against
// ([security.ErrConflict]).
func PasswordNotChanged(userID int64, exists bool) error {
	if !exists {
		return fmt.Errorf("user %d: %w", userID, security.ErrNotFound)
	}
	return fmt.Errorf("password of user %d changed since it was verified: %w", userID, security.ErrConflict)
}
