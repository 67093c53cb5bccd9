package pgstore

import (
	"context"
	"fmt"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// UpsertUser adds u, or replaces the user with u's id. Emails compare
// case-insensitively and must be unique: an email held by another user
// fails with [security.ErrConflict] (the unique index decides, so two
// instances cannot both take one email).
func (s *Store) UpsertUser(ctx context.Context, u session.User) error {
	key, perms, err := sqlrow.UserValues(u)
	if err != nil {
		return err
	}
	_, err = s.execIdem(ctx, "upsert user", `
		INSERT INTO users (`+userCols+`, email_key) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
			email_key = excluded.email_key, account_type = excluded.account_type,
			permissions = excluded.permissions, password_hash = excluded.password_hash`,
		u.UserID, u.Name, u.Email, string(u.AccountType), perms, u.PasswordHash, key)
	if isUniqueViolation(err) {
		return wrap("upsert user", fmt.Errorf("email %q belongs to another user: %w", u.Email, security.ErrConflict))
	}
	return err
}

// UserByID implements [session.UserDirectory].
func (s *Store) UserByID(ctx context.Context, id int64) (session.User, error) {
	u, err := sqlrow.ScanUser(s.row(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return session.User{}, rowErr("user by id", "user", err)
	}
	return u, nil
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
