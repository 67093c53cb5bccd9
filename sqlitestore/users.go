package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// UpsertUser adds u, or replaces the user with u's id. Emails compare
// case-insensitively and must be unique: an email held by another user
// fails with [security.ErrConflict].
func (s *Store) UpsertUser(ctx context.Context, u session.User) error {
	_, err := s.putUser(ctx, "upsert user", u, `
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
				email_key = excluded.email_key, account_type = excluded.account_type,
				permissions = excluded.permissions, password_hash = excluded.password_hash`)
	return err
}

// InsertUser adds u unless a user with u's id exists, and reports whether
// it added it. An email held by another user fails with
// [security.ErrConflict].
func (s *Store) InsertUser(ctx context.Context, u session.User) (bool, error) {
	return s.putUser(ctx, "insert user", u, ` ON CONFLICT (id) DO NOTHING`)
}

// putUser inserts u with the conflict clause onConflict, in the writer's
// transaction, after checking that no other user holds its email.
func (s *Store) putUser(ctx context.Context, op string, u session.User, onConflict string) (bool, error) {
	key, perms, err := sqlrow.UserValues(u)
	if err != nil {
		return false, err
	}
	var added bool
	err = s.write(ctx, op, func(tx *sql.Tx) error {
		var owner int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE email_key = ?`, key).Scan(&owner)
		switch {
		case err == nil && owner != u.UserID:
			return fmt.Errorf("email %q belongs to user %d: %w", u.Email, owner, security.ErrConflict)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		res, err := tx.ExecContext(ctx, `
			INSERT INTO users (`+sqlrow.UserCols+`, email_key) VALUES (?, ?, ?, ?, ?, ?, ?)`+onConflict,
			u.UserID, u.Name, u.Email, string(u.AccountType), perms, u.PasswordHash, key)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		added = n > 0
		return err
	})
	return added, err
}

// UserByID implements [session.UserDirectory]. It is the second read of
// every authenticated request: a prepared statement that, once started, is
// not interrupted by ctx (see Performance in the package documentation).
func (s *Store) UserByID(ctx context.Context, id int64) (session.User, error) {
	var u session.User
	err := s.hot.row(ctx, hotUserByID, func(sc scanner) (err error) {
		u, err = sqlrow.ScanUser(sc)
		return err
	}, id)
	if err != nil {
		return session.User{}, rowErr("user by id", "user", err)
	}
	return u, nil
}

// Users lists every user, by id: for an operator's listing (cmd/propsec
// users list).
func (s *Store) Users(ctx context.Context) ([]session.User, error) {
	us, err := collect(sqlrow.ScanUser)(s.r.QueryContext(ctx, `SELECT `+sqlrow.UserCols+` FROM users ORDER BY id`))
	if err != nil {
		return nil, wrap("users", err)
	}
	return us, nil
}

// UserByEmail implements [session.UserDirectory]; emails compare
// case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (session.User, error) {
	u, err := sqlrow.ScanUser(s.r.QueryRowContext(ctx, `SELECT `+sqlrow.UserCols+` FROM users WHERE email_key = ?`,
		sqlrow.EmailKey(email)))
	if err != nil {
		return session.User{}, rowErr("user by email", "user", err)
	}
	return u, nil
}

// CountUsers returns how many users there are.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("count users", err)
	}
	return n, nil
}

// SetPasswordHash implements [session.PasswordUpdater].
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, phc string) error {
	n, err := s.exec(ctx, "set password hash", `UPDATE users SET password_hash = ? WHERE id = ?`, phc, userID)
	if err != nil {
		return err
	}
	if n == 0 {
		return wrap("set password hash", notFound("user"))
	}
	return nil
}

// ChangePassword implements [session.PasswordChanger]: the compare-and-set
// of the hash, the revocations and the events are one write transaction.
// The revoked sessions are passed to events sorted by id; events runs
// inside the transaction, so it must not call the store.
func (s *Store) ChangePassword(ctx context.Context, c session.PasswordChange, events func([]session.Session) []security.Event) (int, error) {
	var revoked []session.Session
	err := s.write(ctx, "change password", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`,
			c.NewHash, c.UserID, c.OldHash)
		if err != nil {
			return err
		}
		if n == 0 {
			var exists bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, c.UserID).Scan(&exists); err != nil {
				return err
			}
			return sqlrow.PasswordNotChanged(c.UserID, exists)
		}
		if c.RevokeOthers {
			if revoked, err = revokeLive(ctx, tx, c.UserID, c.KeepSessionID, c.At); err != nil {
				return err
			}
		}
		return s.insertEvents(ctx, tx, sqlrow.RevocationEvents(revoked, events))
	})
	if err != nil {
		return 0, err
	}
	return len(revoked), nil
}
