package hostsetup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// UserEntry is one entry of a users file: a JSON array of these objects.
type UserEntry struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	Password    string   `json:"password"`
	AccountType string   `json:"account_type"`
	Permissions []string `json:"permissions"`
}

// User returns the entry as a user, its password hashed with h.
func (e UserEntry) User(h session.Hasher) (session.User, error) {
	phc, err := h.Hash(e.Password)
	if err != nil {
		return session.User{}, err
	}
	perms := make([]security.Permission, len(e.Permissions))
	for i, p := range e.Permissions {
		perms[i] = security.Permission(p)
	}
	return session.User{Principal: security.Principal{UserID: e.ID, Name: e.Name, Email: e.Email,
		AccountType: security.AccountType(e.AccountType), Permissions: perms}, PasswordHash: phc}, nil
}

// UserStore adds users; sqlitestore and pgstore implement it.
type UserStore interface {
	UpsertUser(ctx context.Context, u session.User) error
	InsertUser(ctx context.Context, u session.User) (bool, error)
	CountUsers(ctx context.Context) (int, error)
}

// MaxUsersFile is the largest users file read, in bytes.
const MaxUsersFile = 16 << 20

// LoadUsers upserts the users of path (hashing their passwords), or, when
// path is empty and there are no users at all, creates an administrator and
// prints its credentials once (by one instance, when several start at once
// on one database).
func LoadUsers(ctx context.Context, st UserStore, h session.Hasher, path string, stdout io.Writer) error {
	if path == "" {
		n, err := st.CountUsers(ctx)
		if err != nil || n > 0 {
			return err
		}
		pw := security.NewToken()[:24]
		phc, err := h.Hash(pw)
		if err != nil {
			return err
		}
		admin := session.User{Principal: security.Principal{UserID: 1, Name: "Administrator", Email: "admin@localhost",
			AccountType: security.AccountStaff, Permissions: security.AllPermissions}, PasswordHash: phc}
		// Instances starting at once on one empty database all get here;
		// one adds the administrator, and only it prints a password.
		added, err := st.InsertUser(ctx, admin)
		if err != nil || !added {
			return err
		}
		fmt.Fprintf(stdout, "created staff administrator: email %s password %s (shown once)\n", admin.Email, pw)
		return nil
	}
	entries, err := ReadUsers(path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		u, err := e.User(h)
		if err == nil {
			err = st.UpsertUser(ctx, u)
		}
		if err != nil {
			return fmt.Errorf("%s: user %d: %w", path, e.ID, err)
		}
	}
	return nil
}

// ReadUsers reads and checks a users file: at most [MaxUsersFile] bytes, a
// JSON array of [UserEntry] with no unknown fields, positive unique ids,
// unique emails (compared without case), a password and an account type
// for each, and only known permissions.
func ReadUsers(path string) ([]UserEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxUsersFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxUsersFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxUsersFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var users []UserEntry
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data after the array", path)
	}
	ids, emails := map[int64]bool{}, map[string]bool{}
	for i, u := range users {
		where := fmt.Sprintf("%s: entry %d", path, i)
		email := strings.ToLower(strings.TrimSpace(u.Email))
		switch {
		case u.ID <= 0:
			return nil, fmt.Errorf("%s: id must be a positive integer", where)
		case ids[u.ID]:
			return nil, fmt.Errorf("%s: duplicate id %d", where, u.ID)
		case email == "" || !strings.Contains(email, "@"):
			return nil, fmt.Errorf("%s: email is required", where)
		case emails[email]:
			return nil, fmt.Errorf("%s: duplicate email %q", where, u.Email)
		case u.Password == "":
			return nil, fmt.Errorf("%s: password is required", where)
		case u.AccountType == "":
			return nil, fmt.Errorf("%s: account_type is required", where)
		}
		for _, p := range u.Permissions {
			if !security.ValidPermission(security.Permission(p)) {
				return nil, fmt.Errorf("%s: unknown permission %q", where, p)
			}
		}
		ids[u.ID], emails[email] = true, true
	}
	return users, nil
}
