package session

import (
	"context"
	"time"

	"github.com/propops/propsec/security"
)

// UserDirectory finds the host's users. Both methods return an error
// wrapping [security.ErrNotFound] for an unknown user.
type UserDirectory interface {
	UserByID(ctx context.Context, id int64) (User, error)
	// UserByEmail finds a user by email. Hosts decide how emails compare;
	// propsec passes the address trimmed of surrounding space.
	UserByEmail(ctx context.Context, email string) (User, error)
}

// PasswordUpdater is implemented by directories that let propsec store a
// fresh hash when the hashing parameters have changed since the password was
// set.
type PasswordUpdater interface {
	SetPasswordHash(ctx context.Context, userID int64, phc string) error
}

// ListQuery selects a page of live sessions.
type ListQuery struct {
	// Now decides which sessions are live.
	Now time.Time
	// UserID, when non-zero, keeps only that user's sessions.
	UserID int64
	// Offset skips that many sessions; a negative Offset counts as zero.
	Offset int
	// Limit is the page size; below one the page is empty (the total is
	// still returned).
	Limit int
}

// Store keeps sessions, the blacklist and login history. Every method that
// takes events writes them in the same transaction as its change, so a
// change without its audit event (or the reverse) cannot exist. Errors for
// missing rows wrap [security.ErrNotFound].
type Store interface {
	security.EventRecorder

	// CreateSession stores s and remembers s.IP as a login address of
	// s.UserID. It fails with [security.ErrBlacklisted], storing nothing,
	// when the user is blacklisted at the moment of the write.
	CreateSession(ctx context.Context, s Session, events []security.Event) error
	// SessionByTokenHash returns the session whose credential hashes to h,
	// revoked or not.
	SessionByTokenHash(ctx context.Context, h security.TokenHash) (Session, error)
	// SessionByID returns the session with public id id, revoked or not.
	SessionByID(ctx context.Context, id string) (Session, error)
	// ListSessions returns one page of the sessions live at q.Now, newest
	// LastActive first, and how many live sessions match in all.
	ListSessions(ctx context.Context, q ListQuery) ([]Session, int, error)
	// TouchSession sets LastActive to at, only if the session is not
	// revoked and its LastActive is older than at. It never revives a
	// revoked session. Touching a revoked or unknown session is not an error.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// RevokeSession marks the session revoked at time at, only if it is not
	// revoked yet; otherwise it fails with [security.ErrNotFound] and writes
	// nothing.
	RevokeSession(ctx context.Context, id string, at time.Time, events []security.Event) error

	// KnownLoginIP reports whether ip is among userID's login addresses, and
	// whether the user has any login address at all.
	KnownLoginIP(ctx context.Context, userID int64, ip string) (known, any bool, err error)

	// AddBlacklist adds e and revokes, at e.CreatedAt, every session of
	// e.UserID that is live then. events is called inside the transaction
	// (or under the store's lock) with the sessions it revoked, sorted by
	// id, and what it returns is written too; it must not call the store.
	// An existing entry fails with [security.ErrConflict].
	AddBlacklist(ctx context.Context, e BlacklistEntry, events func(revoked []Session) []security.Event) (revoked int, err error)
	// RemoveBlacklist removes userID's entry, or fails with
	// [security.ErrNotFound].
	RemoveBlacklist(ctx context.Context, userID int64, events []security.Event) error
	// Blacklist lists every entry, newest first.
	Blacklist(ctx context.Context) ([]BlacklistEntry, error)
	// IsBlacklisted reports whether userID has an entry.
	IsBlacklisted(ctx context.Context, userID int64) (bool, error)

	// ReserveLoginAttempt starts a login attempt before its password is
	// checked, so that concurrent attempts cannot all pass the throttle. In
	// one atomic step, serialized with every other reservation of the same
	// keys (across processes for stores shared by several), it counts for
	// each limit the failures of its Key at or after since. When any key
	// has its Max or more, it records nothing and returns Throttled.
	// Otherwise it records one failure at time at under every key (the
	// attempt counts as failed until [Store.ReleaseLoginAttempt] withdraws
	// it) and returns the counts from before it.
	ReserveLoginAttempt(ctx context.Context, limits []LoginLimit, since, at time.Time) (LoginReservation, error)
	// ReleaseLoginAttempt withdraws the failures r recorded, for an attempt
	// that did not fail (the password was right), and when clearKey is not
	// "" forgets every failure of clearKey, in one transaction.
	ReleaseLoginAttempt(ctx context.Context, r LoginReservation, clearKey string) error

	// PurgeExpired deletes sessions that ended (revoked or expired) before
	// before, login failures older than before, and any other record the
	// store keeps that expired before before (such as used CSRF nonces).
	PurgeExpired(ctx context.Context, before time.Time) error
}

// SessionUserLoader is an optional capability of a Store that is also the
// Manager's UserDirectory (the same object, as the bundled stores are): it
// returns the session whose credential hashes to h together with its user in
// one read, so authenticating a request costs one query instead of two. A
// session whose user no longer exists is [security.ErrNotFound].
type SessionUserLoader interface {
	SessionUserByTokenHash(ctx context.Context, h security.TokenHash) (Session, User, error)
}

// LoginLimit is a throttling key ("email:…", "ip:…") and how many failures
// it may have within the window before further attempts are refused.
type LoginLimit struct {
	Key string
	Max int
}

// LoginReservation is what [Store.ReserveLoginAttempt] found and recorded.
type LoginReservation struct {
	// Failures[i] is how many failures the i-th limit's key had at or
	// after since, not counting this attempt.
	Failures []int
	// Oldest[i] is the time of the oldest of them (zero when none).
	Oldest []time.Time
	// Throttled reports that some key had its Max or more failures: then
	// nothing was recorded.
	Throttled bool
	// Keys are the limits' keys, and Rows the failures recorded under them
	// for this attempt (one per key, in the store's own numbering): what
	// [Store.ReleaseLoginAttempt] withdraws. Both are empty when Throttled.
	Keys []string
	Rows []int64
}
