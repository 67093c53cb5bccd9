package session

import (
	"time"

	"github.com/propops/propsec/security"
)

// Kind says how a session's credential travels.
type Kind string

// Session kinds.
const (
	// KindWeb sessions use a cookie.
	KindWeb Kind = "web"
	// KindMobile sessions use a bearer token (POST /api/security/mobile-auth).
	KindMobile Kind = "mobile"
)

// IDPrefix starts every public session id.
const IDPrefix = "sess_"

// Session is one login. Its ID is public; its credential is known only to
// the client, and only TokenHash is stored.
type Session struct {
	ID        string
	TokenHash security.TokenHash
	UserID    int64
	Kind      Kind
	IP        string
	UserAgent string
	Location  string
	CreatedAt time.Time
	// LastActive is refreshed at most once per Config.TouchInterval.
	LastActive time.Time
	// IdleTimeout ends the session when LastActive is older than this.
	IdleTimeout time.Duration
	// ExpiresAt ends the session whatever its activity.
	ExpiresAt time.Time
	// RevokedAt is zero while the session has not been revoked.
	RevokedAt time.Time
}

// Live reports whether the session authenticates at time now: not revoked,
// not past its absolute expiry, not idle for longer than its idle timeout.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) && now.Before(s.LastActive.Add(s.IdleTimeout))
}

// User is a user of the host application as propsec needs to know them.
type User struct {
	security.Principal
	// PasswordHash is an argon2id PHC string made by [Hasher.Hash]. Empty
	// means the user cannot log in with a password.
	PasswordHash string
}

// BlacklistEntry is one user on the session blacklist.
type BlacklistEntry struct {
	UserID int64
	// UserName is the user's name when they were blacklisted.
	UserName string
	Reason   string
	// BlacklistedBy is the user id of the staff member who added the entry.
	BlacklistedBy     int64
	BlacklistedByName string
	CreatedAt         time.Time
}

// Auth is the result of authenticating a request: the session and who it
// belongs to.
type Auth struct {
	Session   Session
	Principal security.Principal
	// Restricted is set for a staff user without a second factor when
	// Config.RequireStaffSecondFactor is on: Principal then holds no
	// permissions, and the session may only enrol a second factor (and log
	// out). Hosts must refuse it everything else, as httpadapter does.
	Restricted bool
}
