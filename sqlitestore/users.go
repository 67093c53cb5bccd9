package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// userCols are the columns of a user.
const userCols = "id, name, email, account_type, permissions, password_hash"

// emailKey is how emails compare: trimmed and lower-cased.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// UpsertUser adds u, or replaces the user with u's id. Emails compare
// case-insensitively and must be unique: an email held by another user
// fails with [security.ErrConflict].
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
	return s.write(ctx, "upsert user", func(tx *sql.Tx) error {
		var owner int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE email_key = ?`, key).Scan(&owner)
		switch {
		case err == nil && owner != u.UserID:
			return fmt.Errorf("email %q belongs to user %d: %w", u.Email, owner, security.ErrConflict)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO users (`+userCols+`, email_key) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
				email_key = excluded.email_key, account_type = excluded.account_type,
				permissions = excluded.permissions, password_hash = excluded.password_hash`,
			u.UserID, u.Name, u.Email, string(u.AccountType), string(perms), u.PasswordHash, key)
		return err
	})
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
	var err error
	if u.Permissions, err = decodePermissions(r.perms); err != nil {
		return session.User{}, fmt.Errorf("user %d: permissions: %w", u.UserID, err)
	}
	return u, nil
}

// scanUser reads userCols.
func scanUser(sc scanner) (session.User, error) {
	var r userRow
	if err := sc.Scan(r.dest()...); err != nil {
		return session.User{}, err
	}
	return r.user()
}

// decodePermissions reads a JSON array of strings; empty is nil.
func decodePermissions(s string) ([]security.Permission, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	if out, ok := plainStrings(s); ok {
		return out, nil
	}
	var out []security.Permission
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// plainStrings decodes a JSON array of strings written without spaces and
// holding no escapes, control characters or invalid UTF-8, such as
// ["a","b"]: what permission names are. It is several times quicker than
// encoding/json, and runs on every authenticated request.
func plainStrings(s string) ([]security.Permission, bool) {
	inner, ok := strings.CutPrefix(s, `["`)
	if !ok {
		return nil, false
	}
	if inner, ok = strings.CutSuffix(inner, `"]`); !ok || !utf8.ValidString(inner) {
		return nil, false
	}
	for i := 0; i < len(inner); i++ {
		if c := inner[i]; c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	names := strings.Split(inner, `","`)
	out := make([]security.Permission, len(names))
	for i, n := range names {
		if strings.Contains(n, `"`) {
			return nil, false
		}
		out[i] = security.Permission(n)
	}
	return out, true
}

// UserByID implements [session.UserDirectory]. It is the second read of
// every authenticated request: a prepared statement that, once started, is
// not interrupted by ctx (see Performance in the package documentation).
func (s *Store) UserByID(ctx context.Context, id int64) (session.User, error) {
	ctx, err := hotRead(ctx)
	if err != nil {
		return session.User{}, wrap("user by id", err)
	}
	u, err := scanUser(s.userByID.QueryRowContext(ctx, id))
	if err != nil {
		return session.User{}, rowErr("user by id", "user", err)
	}
	return u, nil
}

// UserByEmail implements [session.UserDirectory]; emails compare
// case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (session.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email_key = ?`, emailKey(email)))
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
