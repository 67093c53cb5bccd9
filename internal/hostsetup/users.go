package hostsetup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

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
	return session.User{Principal: e.principal(), PasswordHash: phc}, nil
}

func (e UserEntry) principal() security.Principal {
	perms := make([]security.Permission, len(e.Permissions))
	for i, p := range e.Permissions {
		perms[i] = security.Permission(p)
	}
	return security.Principal{UserID: e.ID, Name: e.Name, Email: e.Email,
		AccountType: security.AccountType(e.AccountType), Permissions: perms}
}

// UserStore adds and replaces users; sqlitestore and pgstore implement it.
type UserStore interface {
	UpsertUser(ctx context.Context, u session.User) error
	InsertUser(ctx context.Context, u session.User) (bool, error)
	CountUsers(ctx context.Context) (int, error)
	UserByID(ctx context.Context, id int64) (session.User, error)
	// ChangePassword replaces a password hash and revokes the user's
	// sessions in one transaction (see [session.PasswordChanger]).
	session.PasswordChanger
}

// Imported says what [ImportUser] did to one user.
type Imported struct {
	// Added is true for a user that did not exist.
	Added bool
	// Reset is true when an existing user's password or email was
	// replaced: their sessions were then revoked.
	Reset bool
	// Revoked is how many live sessions and bearer tokens were revoked.
	Revoked int
}

// ImportUser adds e's user or updates the user with e's id.
//
// An existing user whose password in e verifies against their stored hash,
// and whose email is unchanged, keeps that hash: importing the same file
// again (every start of the example server with -users) neither rehashes
// nor signs anyone out; their name, account type and permissions are
// updated, and take effect at their next request. Otherwise the new
// password is hashed and stored and every session and bearer token of the
// user live at now is revoked, in one transaction with the events that
// reset returns (it is given the revoked sessions): a password or email
// replaced by the file must not leave a session opened with the old one.
//
// The revocation comes first: if it fails, nothing of the user changed. A
// password its user changes while ImportUser runs may be overwritten by
// the file's (the file is authoritative).
func ImportUser(ctx context.Context, st UserStore, h session.Hasher, e UserEntry, now time.Time,
	reset func(revoked []session.Session) []security.Event) (Imported, error) {
	old, err := st.UserByID(ctx, e.ID)
	if errors.Is(err, security.ErrNotFound) {
		u, err := e.User(h)
		if err != nil {
			return Imported{}, err
		}
		added, err := st.InsertUser(ctx, u)
		if err != nil || added {
			return Imported{Added: added}, err
		}
		// Added meanwhile by another instance: replace it like any user.
		if old, err = st.UserByID(ctx, e.ID); err != nil {
			return Imported{}, err
		}
	} else if err != nil {
		return Imported{}, err
	}
	same, _, verr := h.Verify(old.PasswordHash, e.Password)
	same = same && verr == nil && strings.EqualFold(strings.TrimSpace(old.Email), strings.TrimSpace(e.Email))
	var r Imported
	u := session.User{Principal: e.principal(), PasswordHash: old.PasswordHash}
	if !same {
		if u, err = e.User(h); err != nil {
			return Imported{}, err
		}
		n, err := st.ChangePassword(ctx, session.PasswordChange{UserID: e.ID, OldHash: old.PasswordHash,
			NewHash: u.PasswordHash, At: now, RevokeOthers: true}, reset)
		if err != nil {
			return Imported{}, err
		}
		r = Imported{Reset: true, Revoked: n}
	}
	return r, st.UpsertUser(ctx, u)
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
		now := time.Now()
		r, err := ImportUser(ctx, st, h, e, now, func(revoked []session.Session) []security.Event {
			return []security.Event{ResetEvent(e.ID, now, len(revoked), "users_file")}
		})
		if err != nil {
			return fmt.Errorf("%s: user %d: %w", path, e.ID, err)
		}
		if r.Reset {
			fmt.Fprintf(stdout, "user %d: password or email replaced from %s; %d session(s) revoked\n", e.ID, path, r.Revoked)
		}
	}
	return nil
}

// ResetEvent is the audit event of a password set by an operator (by, such
// as "cli" or "users_file") rather than by its user: password_changed with
// reset_by, revoking revoked sessions, made by the operator (user id 0).
func ResetEvent(userID int64, at time.Time, revoked int, by string) security.Event {
	return security.Event{Time: at, Type: session.EventPasswordChanged, SubjectUserID: userID,
		Subject: strconv.FormatInt(userID, 10), Details: map[string]string{
			"sessions_revoked": strconv.Itoa(revoked), "revoke_other_sessions": "true", "reset_by": by}}
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
