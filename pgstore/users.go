package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// UpsertUser adds u, or replaces the user with u's id. Emails compare
// case-insensitively and must be unique: an email held by another user
// fails with [security.ErrConflict] (the unique index decides, so two
// instances cannot both take one email).
func (s *Store) UpsertUser(ctx context.Context, u session.User) error {
	upsert := func() error {
		_, err := s.putUser(ctx, s.execIdem, "upsert user", u, `
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
			email_key = excluded.email_key, account_type = excluded.account_type,
			permissions = excluded.permissions, password_hash = excluded.password_hash`)
		return err
	}
	err := upsert()
	if errors.Is(err, security.ErrConflict) {
		// A concurrent insert of the same new user can trip the email
		// index before the id index; once it has committed, the id
		// conflicts and the upsert updates. A conflict again is real.
		err = upsert()
	}
	return err
}

// InsertUser adds u unless a user with u's id exists, and reports whether
// it added it: of concurrent inserts of one id, on any number of
// instances, exactly one adds it. An email held by another user fails
// with [security.ErrConflict].
func (s *Store) InsertUser(ctx context.Context, u session.User) (bool, error) {
	// Not repeated after a lost connection: the first attempt may have
	// added u, and a second would then report it was not added.
	//
	// No conflict target: a concurrent insert of the same user can collide
	// on the email index before the id index, and must not fail for it.
	added, err := s.putUser(ctx, s.exec, "insert user", u, ` ON CONFLICT DO NOTHING`)
	if err != nil || added {
		return added, err
	}
	// Nothing was inserted: either the id exists (not an error) or another
	// user holds the email.
	var owner int64
	err = s.row(ctx, `SELECT id FROM users WHERE email_key = $1`, emailKey(u.Email)).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, wrap("insert user", err)
	case owner != u.UserID:
		return false, wrap("insert user", fmt.Errorf("email %q belongs to another user: %w", u.Email, security.ErrConflict))
	}
	return false, nil
}

// putUser inserts u with the conflict clause onConflict, in one statement
// run by exec.
func (s *Store) putUser(ctx context.Context, exec func(context.Context, string, string, ...any) (int64, error),
	op string, u session.User, onConflict string) (bool, error) {
	key, perms, err := sqlrow.UserValues(u)
	if err != nil {
		return false, err
	}
	n, err := exec(ctx, op, `
		INSERT INTO users (`+userCols+`, email_key) VALUES ($1, $2, $3, $4, $5, $6, $7)`+onConflict,
		u.UserID, u.Name, u.Email, string(u.AccountType), perms, u.PasswordHash, key)
	if isUniqueViolation(err) {
		return false, wrap(op, fmt.Errorf("email %q belongs to another user: %w", u.Email, security.ErrConflict))
	}
	return n > 0, err
}

// UserByID implements [session.UserDirectory].
func (s *Store) UserByID(ctx context.Context, id int64) (session.User, error) {
	u, err := sqlrow.ScanUser(s.row(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return session.User{}, rowErr("user by id", "user", err)
	}
	return u, nil
}

// Users lists every user, by id: for an operator's listing (cmd/propsec
// users list).
func (s *Store) Users(ctx context.Context) ([]session.User, error) {
	us, err := query(ctx, s, sqlrow.ScanUser, `SELECT `+userCols+` FROM users ORDER BY id`)
	if err != nil {
		return nil, wrap("users", err)
	}
	return us, nil
}

// UserByEmail implements [session.UserDirectory]; emails compare
// case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (session.User, error) {
	u, err := sqlrow.ScanUser(s.row(ctx, `SELECT `+userCols+` FROM users WHERE email_key = $1`, emailKey(email)))
	if err != nil {
		return session.User{}, rowErr("user by email", "user", err)
	}
	return u, nil
}

// CountUsers returns how many users there are.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.row(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("count users", err)
	}
	return n, nil
}

// SetPasswordHash implements [session.PasswordUpdater].
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, phc string) error {
	n, err := s.execIdem(ctx, "set password hash", `UPDATE users SET password_hash = $1 WHERE id = $2`, phc, userID)
	if err != nil {
		return err
	}
	if n == 0 {
		return wrap("set password hash", notFound("user"))
	}
	return nil
}

// ChangePassword implements [session.PasswordChanger]: the compare-and-set
// of the hash, the revocations and the events are one transaction. Of
// concurrent changes verified against one hash, on any instances, the
// first to update the user's row wins; the others wait for its row lock,
// find the hash changed and fail with [security.ErrConflict]. The revoked
// sessions are passed to events sorted by id; events runs inside the
// transaction, so it must not call the store. The user's advisory lock
// (see lockUser) orders the revocations with CreateSession and
// AddBlacklist, as AddBlacklist's are.
func (s *Store) ChangePassword(ctx context.Context, c session.PasswordChange, events func([]session.Session) []security.Event) (int, error) {
	var revoked []session.Session
	err := s.write(ctx, "change password", func(tx pgx.Tx) error {
		revoked = nil
		if err := lockUser(ctx, tx, c.UserID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`,
			c.NewHash, c.UserID, c.OldHash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, c.UserID).Scan(&exists); err != nil {
				return err
			}
			return sqlrow.PasswordNotChanged(c.UserID, exists)
		}
		if c.RevokeOthers {
			if revoked, err = revokeLive(ctx, tx, c.UserID, c.KeepSessionID, c.At); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, sqlrow.RevocationEvents(revoked, events))
	})
	if err != nil {
		return 0, err
	}
	return len(revoked), nil
}
