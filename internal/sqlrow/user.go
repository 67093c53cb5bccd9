package sqlrow

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// UserCols are the columns of a user, in the order [User.Dest] scans them.
const UserCols = "id, name, email, account_type, permissions, password_hash"

// EmailKey is how emails compare, as the email_key column holds them:
// trimmed and lower-cased.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// UserValues checks that u can be stored, with a positive ID and an
// email, and returns the columns stored beside its own fields: its email
// key ([EmailKey]) and its permissions ([EncodePermissions]). An invalid
// user fails with an error wrapping [security.ErrInvalid].
func UserValues(u session.User) (key, perms string, err error) {
	if u.UserID <= 0 {
		return "", "", security.Invalid("id", "must be a positive integer")
	}
	if key = EmailKey(u.Email); key == "" {
		return "", "", security.Invalid("email", "is required")
	}
	if perms, err = EncodePermissions(u.Permissions); err != nil {
		return "", "", fmt.Errorf("permissions: %w", err)
	}
	return key, perms, nil
}

// EncodePermissions is the permissions column of a user: a JSON array of
// strings, "[]" for none.
func EncodePermissions(perms []security.Permission) (string, error) {
	if len(perms) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(perms)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// User receives the columns of [UserCols].
type User struct {
	u                  session.User
	accountType, perms string
}

// Dest lists where Scan puts [UserCols].
func (r *User) Dest() []any {
	return []any{&r.u.UserID, &r.u.Name, &r.u.Email, &r.accountType, &r.perms, &r.u.PasswordHash}
}

// User converts the scanned columns.
func (r *User) User() (session.User, error) {
	u := r.u
	u.AccountType = security.AccountType(r.accountType)
	var err error
	if u.Permissions, err = DecodePermissions(r.perms); err != nil {
		return session.User{}, fmt.Errorf("user %d: permissions: %w", u.UserID, err)
	}
	return u, nil
}

// ScanUser reads [UserCols].
func ScanUser(sc Scanner) (session.User, error) {
	var r User
	if err := sc.Scan(r.Dest()...); err != nil {
		return session.User{}, err
	}
	return r.User()
}

// DecodePermissions reads a JSON array of strings, the permissions column;
// an empty one is nil.
func DecodePermissions(s string) ([]security.Permission, error) {
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
