package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// userCols are the columns of a user.
const userCols = "id, name, email, account_type, permissions, password_hash"

// emailKey is how emails compare: trimmed and lower-cased.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// UpsertUser adds u, or replaces the user with u's id. Emails compare
// case-insensitively and must be unique: an email held by another user
// fails with [security.ErrConflict] (the unique index decides, so two
// instances cannot both take one email).
func (s *Store) UpsertUser(ctx context.Context, u session.User) error {
	if u.UserID <= 0 {
		return security.Invalid("id", "must be a positive integer")
	}
	key := emailKey(u.Email)
	if key == "" {
		return security.Invalid("email", "is required")
	}
	perms := []byte("[]")
	if len(u.Permissions) > 0 {
		var err error
		if perms, err = json.Marshal(u.Permissions); err != nil {
			return wrap("upsert user", err)
		}
	}
	_, err := s.execIdem(ctx, "upsert user", `
		INSERT INTO users (`+userCols+`, email_key) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
			email_key = excluded.email_key, account_type = excluded.account_type,
			permissions = excluded.permissions, password_hash = excluded.password_hash`,
		u.UserID, u.Name, u.Email, string(u.AccountType), string(perms), u.PasswordHash, key)
	if isUniqueViolation(err) {
		return wrap("upsert user", fmt.Errorf("email %q belongs to another user: %w", u.Email, security.ErrConflict))
	}
	return err
}

// userRow receives the columns of userCols.
type userRow struct {
	u                  session.User
	accountType, perms string
}

// dest lists where Scan puts userCols.
func (r *userRow) dest() []any {
	return []any{&r.u.UserID, &r.u.Name, &r.u.Email, &r.accountType, &r.perms, &r.u.PasswordHash}
}

// user converts the scanned columns.
func (r *userRow) user() (session.User, error) {
	u := r.u
	u.AccountType = security.AccountType(r.accountType)
	if r.perms != "" && r.perms != "[]" {
		if err := json.Unmarshal([]byte(r.perms), &u.Permissions); err != nil {
			return session.User{}, fmt.Errorf("user %d: permissions: %w", u.UserID, err)
		}
	}
	if len(u.Permissions) == 0 {
		u.Permissions = nil
	}
	return u, nil
}

// scanUser reads userCols.
func scanUser(row scanner) (session.User, error) {
	var r userRow
	if err := row.Scan(r.dest()...); err != nil {
		return session.User{}, err
	}
	return r.user()
}

// UserByID implements [session.UserDirectory].
func (s *Store) UserByID(ctx context.Context, id int64) (session.User, error) {
	u, err := scanUser(s.row(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return session.User{}, rowErr("user by id", "user", err)
	}
	return u, nil
}

// UserByEmail implements [session.UserDirectory]; emails compare
// case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (session.User, error) {
	u, err := scanUser(s.row(ctx, `SELECT `+userCols+` FROM users WHERE email_key = $1`, emailKey(email)))
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
