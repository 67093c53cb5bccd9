package sqlitestore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"time"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// liveAt is the SQL form of [session.Session.Live] at the time bound to
// the named parameter :now.
const liveAt = `revoked_at IS NULL AND expires_at > :now AND last_active + idle_timeout > :now`

// CreateSession implements [session.Store]. It fails with
// [security.ErrBlacklisted] when the user is blacklisted, and with
// [security.ErrConflict] when the id or token hash is taken; either way it
// stores nothing.
func (s *Store) CreateSession(ctx context.Context, sess session.Session, events []security.Event) error {
	return s.write(ctx, "create session", func(tx *sql.Tx) error {
		var black bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM blacklist WHERE user_id = ?)`,
			sess.UserID).Scan(&black); err != nil {
			return err
		}
		if black {
			return security.ErrBlacklisted
		}
		n, err := insertSession(ctx, tx, sess)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("session id or token hash exists: %w", security.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_ips (user_id, ip) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			sess.UserID, sess.IP); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// insertSession stores sess unless its id or token hash is taken, and
// returns how many rows it stored.
func insertSession(ctx context.Context, tx *sql.Tx, sess session.Session) (int64, error) {
	return execN(ctx, tx, `INSERT INTO sessions (`+sqlrow.SessionCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, sqlrow.SessionArgs(sess)...)
}

// SessionByTokenHash implements [session.Store]. It is the first read of
// every authenticated request: a prepared statement that, once started, is
// not interrupted by ctx (see Performance in the package documentation).
func (s *Store) SessionByTokenHash(ctx context.Context, h security.TokenHash) (session.Session, error) {
	var sess session.Session
	err := s.hot.row(ctx, hotSessionByHash, func(sc scanner) (err error) {
		sess, err = sqlrow.ScanSession(sc)
		return err
	}, h[:])
	if err != nil {
		return session.Session{}, rowErr("session by token hash", "session", err)
	}
	return sess, nil
}

// SessionUserByTokenHash implements [session.SessionUserLoader]: the
// session and its user in one indexed read.
func (s *Store) SessionUserByTokenHash(ctx context.Context, h security.TokenHash) (session.Session, session.User, error) {
	var sess session.Session
	var u session.User
	err := s.hot.row(ctx, hotSessionUserByHash, func(sc scanner) (err error) {
		sess, u, err = sqlrow.ScanSessionUser(sc)
		return err
	}, h[:])
	if err != nil {
		return session.Session{}, session.User{}, rowErr("session and user by token hash", "session", err)
	}
	return sess, u, nil
}

// SessionByID implements [session.Store].
func (s *Store) SessionByID(ctx context.Context, id string) (session.Session, error) {
	sess, err := sqlrow.ScanSession(s.r.QueryRowContext(ctx, `SELECT `+sqlrow.SessionCols+` FROM sessions WHERE id = ?`, id))
	if err != nil {
		return session.Session{}, rowErr("session by id", "session", err)
	}
	return sess, nil
}

// ListSessions implements [session.Store]. A negative Offset counts as zero
// and a Limit below one returns no sessions, only the total.
func (s *Store) ListSessions(ctx context.Context, q session.ListQuery) ([]session.Session, int, error) {
	where := liveAt
	args := []any{sql.Named("now", nanos(q.Now))}
	if q.UserID != 0 {
		where += ` AND user_id = :user`
		args = append(args, sql.Named("user", q.UserID))
	}
	// Both queries read one snapshot, so the total matches the page.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, wrap("list sessions", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, wrap("list sessions", err)
	}
	if q.Limit < 1 || q.Offset >= total {
		return nil, total, nil
	}
	args = append(args, sql.Named("limit", q.Limit), sql.Named("offset", max(q.Offset, 0)))
	list, err := collect(sqlrow.ScanSession)(tx.QueryContext(ctx, `SELECT `+sqlrow.SessionCols+` FROM sessions WHERE `+where+`
		ORDER BY last_active DESC, id LIMIT :limit OFFSET :offset`, args...))
	if err != nil {
		return nil, 0, wrap("list sessions", err)
	}
	return list, total, nil
}

// TouchSession implements [session.Store]. It is one conditional UPDATE, so
// it can never revive a session revoked by a concurrent call.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, "touch session",
		`UPDATE sessions SET last_active = :at WHERE id = :id AND revoked_at IS NULL AND last_active < :at`,
		sql.Named("at", nanos(at)), sql.Named("id", id))
	return err
}

// RevokeSession implements [session.Store].
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time, events []security.Event) error {
	return s.write(ctx, "revoke session", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx,
			`UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, sqlrow.NullNanos(at), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("session")
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// KnownLoginIP implements [session.Store].
func (s *Store) KnownLoginIP(ctx context.Context, userID int64, ip string) (known, any bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM login_ips WHERE user_id = :user AND ip = :ip),
		EXISTS (SELECT 1 FROM login_ips WHERE user_id = :user)`,
		sql.Named("user", userID), sql.Named("ip", ip)).Scan(&known, &any)
	if err != nil {
		return false, false, wrap("known login ip", err)
	}
	return known, any, nil
}

// --- blacklist ---

// AddBlacklist implements [session.Store]. The revoked sessions are passed
// to events sorted by id. events runs inside the write transaction, so it
// must not call the store.
func (s *Store) AddBlacklist(ctx context.Context, e session.BlacklistEntry, events func([]session.Session) []security.Event) (int, error) {
	var revoked []session.Session
	err := s.write(ctx, "add blacklist", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, `INSERT INTO blacklist (`+sqlrow.BlacklistCols+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			sqlrow.BlacklistArgs(e)...)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %d is already blacklisted: %w", e.UserID, security.ErrConflict)
		}
		revoked, err = revokeLive(ctx, tx, e.UserID, "", e.CreatedAt)
		if err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, sqlrow.RevocationEvents(revoked, events))
	})
	if err != nil {
		return 0, err
	}
	return len(revoked), nil
}

// revokeLive revokes, at at, every session of userID live at at but the
// one with id keep ("": none), and returns them.
func revokeLive(ctx context.Context, tx *sql.Tx, userID int64, keep string, at time.Time) ([]session.Session, error) {
	return collect(sqlrow.ScanSession)(tx.QueryContext(ctx, `UPDATE sessions SET revoked_at = :at
		WHERE user_id = :user AND id <> :keep AND `+liveAt+` RETURNING `+sqlrow.SessionCols,
		sql.Named("at", sqlrow.NullNanos(at)), sql.Named("user", userID), sql.Named("keep", keep),
		sql.Named("now", nanos(at))))
}

// RemoveBlacklist implements [session.Store].
func (s *Store) RemoveBlacklist(ctx context.Context, userID int64, events []security.Event) error {
	return s.write(ctx, "remove blacklist", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, `DELETE FROM blacklist WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("blacklist entry")
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// Blacklist implements [session.Store]: newest first, then by user id.
func (s *Store) Blacklist(ctx context.Context) ([]session.BlacklistEntry, error) {
	list, err := collect(sqlrow.ScanBlacklistEntry)(s.r.QueryContext(ctx, `SELECT `+sqlrow.BlacklistCols+` FROM blacklist
		ORDER BY created_at DESC, user_id`))
	if err != nil {
		return nil, wrap("blacklist", err)
	}
	return list, nil
}

// IsBlacklisted implements [session.Store].
func (s *Store) IsBlacklisted(ctx context.Context, userID int64) (bool, error) {
	var black bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM blacklist WHERE user_id = ?)`,
		userID).Scan(&black); err != nil {
		return false, wrap("is blacklisted", err)
	}
	return black, nil
}

// --- throttling ---

// ReserveLoginAttempt implements [session.Store]: the count and the record
// are one write transaction, which BEGIN IMMEDIATE serializes with every
// other writer of the file, in any process.
func (s *Store) ReserveLoginAttempt(ctx context.Context, limits []session.LoginLimit, since, at time.Time) (session.LoginReservation, error) {
	var r session.LoginReservation
	err := s.write(ctx, "reserve login attempt", func(tx *sql.Tx) error {
		var err error
		r, err = sqlrow.ReserveLogin(sqlrow.LoginQueries{
			Count:  `SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ? AND at >= ?`,
			Insert: `INSERT INTO login_failures (key, at) VALUES (?, ?) RETURNING id`,
		}, func(q string, args ...any) sqlrow.Scanner { return tx.QueryRowContext(ctx, q, args...) }, limits, since, at)
		return err
	})
	return r, err
}

// ReleaseLoginAttempt implements [session.Store].
func (s *Store) ReleaseLoginAttempt(ctx context.Context, r session.LoginReservation, clearKey string) error {
	if len(r.Rows) == 0 && clearKey == "" {
		return nil
	}
	return s.write(ctx, "release login attempt", func(tx *sql.Tx) error {
		for _, id := range r.Rows {
			if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE id = ?`, id); err != nil {
				return err
			}
		}
		if clearKey == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE key = ?`, clearKey)
		return err
	})
}

// LoginFailures counts key's failed login attempts at or after since and
// returns the time of the oldest (zero when none): for operators and
// tests, since login itself counts them with ReserveLoginAttempt.
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ? AND at >= ?`,
		key, nanos(since)).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, wrap("login failures", err)
	}
	return n, sqlrow.FromNullNanos(oldest), nil
}

// PurgeExpired implements [session.Store]: it deletes sessions revoked,
// expired or idle before before, login failures older than before, and CSRF
// nonces and login verifications that expired before before.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time) error {
	b := sql.Named("before", nanos(before))
	return s.write(ctx, "purge expired", func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM sessions WHERE revoked_at < :before OR expires_at < :before
				OR last_active + idle_timeout < :before`,
			`DELETE FROM login_failures WHERE at < :before`,
			`DELETE FROM nonces WHERE expires_at < :before`,
			`DELETE FROM verifications WHERE expires_at < :before`,
		} {
			if _, err := tx.ExecContext(ctx, q, b); err != nil {
				return err
			}
		}
		return nil
	})
}

// --- CSRF nonces and secrets ---

// ConsumeNonce implements [security.NonceStore]: one INSERT that does
// nothing when hash is already recorded, so exactly one of any number of
// concurrent calls, from this process or any other on the file, sees
// fresh=true. It commits on the nonce connection, with
// synchronous=NORMAL: once it has returned, the nonce stays used across a
// crash of the process, but not necessarily across a crash of the
// machine (see Durability in the package documentation). Like the hot
// reads, it honours ctx until the statement starts.
func (s *Store) ConsumeNonce(ctx context.Context, hash [32]byte, expires time.Time) (bool, error) {
	if err := s.takeTurn(ctx); err != nil {
		return false, wrap("consume nonce", err)
	}
	defer s.endTurn()
	n, err := s.nonces.exec(ctx, nonceInsert, hash[:], nanos(expires))
	if err != nil {
		return false, wrap("consume nonce", err)
	}
	return n == 1, nil
}

// Secret implements [security.SecretStore]. The secret is created, if
// missing, in the same transaction that reads it, so concurrent first calls
// (from any process) agree. size must be positive; an existing secret is
// returned whatever its size.
func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	if size <= 0 {
		return nil, security.Invalid("size", "must be positive")
	}
	fresh := make([]byte, size)
	rand.Read(fresh) // never fails; crashes the program if the OS cannot supply randomness
	var b []byte
	err := s.write(ctx, "secret", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			name, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&b)
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}
