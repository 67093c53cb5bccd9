package pgstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// liveAt is the SQL form of [session.Session.Live] at the time bound to
// the named argument @now.
const liveAt = `revoked_at IS NULL AND expires_at > @now AND last_active + idle_timeout > @now`

// CreateSession implements [session.Store]. It fails with
// [security.ErrBlacklisted] when the user is blacklisted, and with
// [security.ErrConflict] when the id or token hash is taken; either way it
// stores nothing. It holds the user's advisory lock (see lockUser), so a
// concurrent AddBlacklist on any instance either commits first and makes
// this call fail, or runs after it and revokes the new session.
func (s *Store) CreateSession(ctx context.Context, sess session.Session, events []security.Event) error {
	return s.write(ctx, "create session", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, sess.UserID); err != nil {
			return err
		}
		var black bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM blacklist WHERE user_id = $1)`,
			sess.UserID).Scan(&black); err != nil {
			return err
		}
		if black {
			return security.ErrBlacklisted
		}
		tag, err := tx.Exec(ctx, `INSERT INTO sessions (`+sessionCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
			sqlrow.SessionArgs(sess)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("session id or token hash exists: %w", security.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO login_ips (user_id, ip) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			sess.UserID, sess.IP); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// lockUser takes, until tx ends, the transaction-level advisory lock of
// userID that serializes CreateSession and AddBlacklist of one user across
// every instance: without it, a session created while its user is being
// blacklisted could escape the revocation.
func lockUser(ctx context.Context, tx pgx.Tx, userID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('propsec.user.' || $1::bigint, 0))`, userID)
	return err
}

// SessionByTokenHash implements [session.Store].
func (s *Store) SessionByTokenHash(ctx context.Context, h security.TokenHash) (session.Session, error) {
	sess, err := sqlrow.ScanSession(s.row(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = $1`, h[:]))
	if err != nil {
		return session.Session{}, rowErr("session by token hash", "session", err)
	}
	return sess, nil
}

// SessionUserByTokenHash implements [session.SessionUserLoader]: the
// session and its user in one indexed read.
func (s *Store) SessionUserByTokenHash(ctx context.Context, h security.TokenHash) (session.Session, session.User, error) {
	sess, u, err := sqlrow.ScanSessionUser(s.row(ctx, sessionUserByTokenHash, h[:]))
	if err != nil {
		return session.Session{}, session.User{}, rowErr("session and user by token hash", "session", err)
	}
	return sess, u, nil
}

// sessionUserByTokenHash is the one read of every authenticated request,
// built once: building it per call was 23 of its 55 allocations.
var sessionUserByTokenHash = `SELECT ` + sqlrow.Qualify("s", sessionCols) + `, ` + sqlrow.Qualify("u", userCols) +
	` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`

// SessionByID implements [session.Store].
func (s *Store) SessionByID(ctx context.Context, id string) (session.Session, error) {
	sess, err := sqlrow.ScanSession(s.row(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id))
	if err != nil {
		return session.Session{}, rowErr("session by id", "session", err)
	}
	return sess, nil
}

// ListSessions implements [session.Store]. A negative Offset counts as zero
// and a Limit below one returns no sessions, only the total. The count and
// the page come from one statement, so one snapshot.
func (s *Store) ListSessions(ctx context.Context, q session.ListQuery) ([]session.Session, int, error) {
	where := liveAt
	args := pgx.NamedArgs{"now": nanos(q.Now)}
	if q.UserID != 0 {
		where += ` AND user_id = @user`
		args["user"] = q.UserID
	}
	// Both queries run in one repeatable-read transaction: one snapshot, so
	// the total matches the page.
	var list []session.Session
	var total int
	err := s.retryIf(ctx, readTransient, func() error {
		list, total = nil, 0
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
			func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE `+where, args).Scan(&total); err != nil {
					return err
				}
				if q.Limit < 1 || q.Offset >= total {
					return nil
				}
				args["limit"], args["offset"] = q.Limit, max(q.Offset, 0)
				var err error
				list, err = collect(sqlrow.ScanSession)(tx.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+where+`
				ORDER BY last_active DESC, id LIMIT @limit OFFSET @offset`, args))
				return err
			})
	})
	if err != nil {
		return nil, 0, wrap("list sessions", err)
	}
	return list, total, nil
}

// TouchSession implements [session.Store]. It is one conditional UPDATE, so
// it can never revive a session revoked by a concurrent call.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	_, err := s.execIdem(ctx, "touch session",
		`UPDATE sessions SET last_active = @at WHERE id = @id AND revoked_at IS NULL AND last_active < @at`,
		pgx.NamedArgs{"at": nanos(at), "id": id})
	return err
}

// RevokeSession implements [session.Store]: one conditional UPDATE, so of
// concurrent calls on any instances exactly one revokes the session.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time, events []security.Event) error {
	return s.write(ctx, "revoke session", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
			nullNanos(at), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("session")
		}
		return insertEvents(ctx, tx, events)
	})
}

// KnownLoginIP implements [session.Store].
func (s *Store) KnownLoginIP(ctx context.Context, userID int64, ip string) (known, any bool, err error) {
	err = s.row(ctx, `SELECT
		EXISTS (SELECT 1 FROM login_ips WHERE user_id = @user AND ip = @ip),
		EXISTS (SELECT 1 FROM login_ips WHERE user_id = @user)`,
		pgx.NamedArgs{"user": userID, "ip": ip}).Scan(&known, &any)
	if err != nil {
		return false, false, wrap("known login ip", err)
	}
	return known, any, nil
}

// --- blacklist ---

// AddBlacklist implements [session.Store]: the entry is added and the
// user's live sessions revoked in one transaction. The revoked sessions
// are passed to events sorted by id. events runs inside the write
// transaction, so it must not call the store.
func (s *Store) AddBlacklist(ctx context.Context, e session.BlacklistEntry, events func([]session.Session) []security.Event) (int, error) {
	var revoked []session.Session
	err := s.write(ctx, "add blacklist", func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, e.UserID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO blacklist (`+sqlrow.BlacklistCols+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			sqlrow.BlacklistArgs(e)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user %d is already blacklisted: %w", e.UserID, security.ErrConflict)
		}
		revoked, err = revokeLive(ctx, tx, e.UserID, "", e.CreatedAt)
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, sqlrow.RevocationEvents(revoked, events))
	})
	if err != nil {
		return 0, err
	}
	return len(revoked), nil
}

// revokeLive revokes, at at, every session of userID live at at but the
// one with id keep ("": none), and returns them.
func revokeLive(ctx context.Context, tx pgx.Tx, userID int64, keep string, at time.Time) ([]session.Session, error) {
	return collect(sqlrow.ScanSession)(tx.Query(ctx, `UPDATE sessions SET revoked_at = @at
		WHERE user_id = @user AND id <> @keep AND `+liveAt+` RETURNING `+sessionCols,
		pgx.NamedArgs{"at": nullNanos(at), "user": userID, "keep": keep, "now": nanos(at)}))
}

// RemoveBlacklist implements [session.Store].
func (s *Store) RemoveBlacklist(ctx context.Context, userID int64, events []security.Event) error {
	return s.write(ctx, "remove blacklist", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM blacklist WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("blacklist entry")
		}
		return insertEvents(ctx, tx, events)
	})
}

// Blacklist implements [session.Store]: newest first, then by user id.
func (s *Store) Blacklist(ctx context.Context) ([]session.BlacklistEntry, error) {
	list, err := query(ctx, s, sqlrow.ScanBlacklistEntry, `SELECT `+sqlrow.BlacklistCols+` FROM blacklist
		ORDER BY created_at DESC, user_id`)
	if err != nil {
		return nil, wrap("blacklist", err)
	}
	return list, nil
}

// IsBlacklisted implements [session.Store].
func (s *Store) IsBlacklisted(ctx context.Context, userID int64) (bool, error) {
	var black bool
	if err := s.row(ctx, `SELECT EXISTS (SELECT 1 FROM blacklist WHERE user_id = $1)`,
		userID).Scan(&black); err != nil {
		return false, wrap("is blacklisted", err)
	}
	return black, nil
}

// --- throttling ---

// ReserveLoginAttempt implements [session.Store]: one transaction that
// first takes the transaction-level advisory lock of every key (in sorted
// order, so two reservations never wait on each other crosswise), so that
// reservations of one key are counted one after another on every instance.
func (s *Store) ReserveLoginAttempt(ctx context.Context, limits []session.LoginLimit, since, at time.Time) (session.LoginReservation, error) {
	keys := make([]string, len(limits))
	for i, l := range limits {
		keys[i] = l.Key
	}
	slices.Sort(keys)
	var r session.LoginReservation
	err := s.write(ctx, "reserve login attempt", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/login/' || k, 0))
			FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n`, keys); err != nil {
			return err
		}
		var err error
		r, err = sqlrow.ReserveLogin(sqlrow.LoginQueries{
			Count:  `SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = $1 AND at >= $2`,
			Insert: `INSERT INTO login_failures (key, at) VALUES ($1, $2) RETURNING id`,
		}, func(q string, args ...any) sqlrow.Scanner { return tx.QueryRow(ctx, q, args...) }, limits, since, at)
		return err
	})
	return r, err
}

// ReleaseLoginAttempt implements [session.Store].
func (s *Store) ReleaseLoginAttempt(ctx context.Context, r session.LoginReservation, clearKey string) error {
	if len(r.Rows) == 0 && clearKey == "" {
		return nil
	}
	return s.write(ctx, "release login attempt", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE id = ANY($1) OR key = $2`, r.Rows, clearKey)
		return err
	})
}

// LoginFailures counts key's failed login attempts at or after since and
// returns the time of the oldest (zero when none): for operators and
// tests, since login itself counts them with ReserveLoginAttempt.
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	if err := s.row(ctx, `SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = $1 AND at >= $2`,
		key, nanos(since)).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, wrap("login failures", err)
	}
	return n, sqlrow.FromNullNanos(oldest), nil
}

// PurgeExpired implements [session.Store]: it deletes sessions revoked,
// expired or idle before before, login failures older than before, and CSRF
// nonces and login verifications that expired before before.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time) error {
	b := pgx.NamedArgs{"before": nanos(before)}
	return s.write(ctx, "purge expired", func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM sessions WHERE revoked_at < @before OR expires_at < @before
				OR last_active + idle_timeout < @before`,
			`DELETE FROM login_failures WHERE at < @before`,
			`DELETE FROM nonces WHERE expires_at < @before`,
			`DELETE FROM verifications WHERE expires_at < @before`,
		} {
			if _, err := tx.Exec(ctx, q, b); err != nil {
				return err
			}
		}
		return nil
	})
}

// --- CSRF nonces and secrets ---

// ConsumeNonce implements [security.NonceStore]: one INSERT that does
// nothing when hash is already recorded, so exactly one of any number of
// concurrent calls, on any instances, sees fresh=true.
func (s *Store) ConsumeNonce(ctx context.Context, hash [32]byte, expires time.Time) (bool, error) {
	n, err := s.exec(ctx, "consume nonce",
		`INSERT INTO nonces (hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, hash[:], nanos(expires))
	return n == 1, err
}

// Secret implements [security.SecretStore]. The secret is created, if
// missing, by one INSERT … ON CONFLICT DO NOTHING and then read, so
// concurrent first calls on any instances agree. size must be positive; an
// existing secret is returned whatever its size.
func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	if size <= 0 {
		return nil, security.Invalid("size", "must be positive")
	}
	fresh := make([]byte, size)
	rand.Read(fresh) // never fails; crashes the program if the OS cannot supply randomness
	// The INSERT commits (or finds a committed row) before the SELECT, which
	// in read committed sees every row committed before it starts.
	if _, err := s.execIdem(ctx, "secret", `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		name, fresh); err != nil {
		return nil, err
	}
	var b []byte
	if err := s.row(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&b); err != nil {
		return nil, rowErr("secret", "secret", err)
	}
	return b, nil
}
