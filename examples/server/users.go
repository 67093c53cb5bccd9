package main

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

// userFile is one entry of the -users JSON array.
type userFile struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	Password    string   `json:"password"`
	AccountType string   `json:"account_type"`
	Permissions []string `json:"permissions"`
}

type userStore interface {
	UpsertUser(ctx context.Context, u session.User) error
	InsertUser(ctx context.Context, u session.User) (bool, error)
	CountUsers(ctx context.Context) (int, error)
}

const maxUsersFile = 16 << 20

// loadUsers upserts the users of path (hashing their passwords), or, when
// path is empty and there are no users at all, creates an administrator and
// prints its credentials once (by one instance, when several start at once
// on one database).
func loadUsers(ctx context.Context, st userStore, h session.Hasher, path string, stdout io.Writer) error {
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
	users, err := readUsers(path)
	if err != nil {
		return err
	}
	for _, u := range users {
		phc, err := h.Hash(u.Password)
		if err != nil {
			return fmt.Errorf("%s: user %d: %w", path, u.ID, err)
		}
		perms := make([]security.Permission, len(u.Permissions))
		for i, p := range u.Permissions {
			perms[i] = security.Permission(p)
		}
		err = st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: u.ID, Name: u.Name,
			Email: u.Email, AccountType: security.AccountType(u.AccountType), Permissions: perms}, PasswordHash: phc})
		if err != nil {
			return fmt.Errorf("%s: user %d: %w", path, u.ID, err)
		}
	}
	return nil
}

// readUsers reads and validates a users file.
func readUsers(path string) ([]userFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUsersFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxUsersFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxUsersFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var users []userFile
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
