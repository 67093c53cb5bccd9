package sqlrow

import (
	"database/sql"
	"fmt"
	"time"

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
