package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/propops/propsec/internal/envflag"
	"github.com/propops/propsec/internal/hostsetup"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// The audit events of user management, which has no HTTP endpoint: only
// this command (and the host's own code) adds users.
const (
	// EventUserAdded: a user was added. Details: account_type.
	EventUserAdded security.EventType = "user_added"
	// EventUserImported: a user was added or replaced from a users file.
	// Details: account_type, file.
	EventUserImported security.EventType = "user_imported"
)

func usersAdd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("users add", "", `Add a user. The password is read from the terminal (twice, without echo) or,
when stdin is not a terminal, as one line of stdin. An existing id or email is
refused: use 'users import' to replace a user, 'users set-password' to change
a password.`)
	o := c.dbFlags(fs)
	id := fs.Int64("id", 0, "the user's `id` in the host application (required)")
	email := fs.String("email", "", "the user's email `address` (required)")
	name := fs.String("name", "", "the user's display `name`")
	typ := fs.String("type", string(security.AccountCustomer), "account `type`: staff or customer")
	var perms envflag.Strings
	fs.Var(&perms, "perm", "a `permission` to grant (repeatable; staff only), e.g. "+string(security.PermSessionsList))
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	e := hostsetup.UserEntry{ID: *id, Name: *name, Email: strings.TrimSpace(*email), AccountType: *typ, Permissions: perms}
	switch {
	case e.ID <= 0:
		return usageErr("users add: -id (a positive integer) is required")
	case !strings.Contains(e.Email, "@"):
		return usageErr("users add: -email is required")
	case e.AccountType != string(security.AccountStaff) && e.AccountType != string(security.AccountCustomer):
		return usageErr("users add: -type must be staff or customer")
	}
	for _, p := range perms {
		if !security.ValidPermission(security.Permission(p)) {
			return usageErr("users add: unknown permission %q", p)
		}
	}
	pw, err := c.readPassword("password for "+e.Email, true)
	if err != nil {
		return err
	}
	if err := checkNewPassword(pw); err != nil {
		return err
	}
	e.Password = pw
	return c.with(ctx, o, security.PermSessionsManage, func(h *host) error {
		u, err := e.User(h.mgr.Hasher())
		if err != nil {
			return err
		}
		added, err := h.store.InsertUser(ctx, u)
		if err != nil {
			return err
		}
		if !added {
			return fmt.Errorf("user %d exists (use 'users import' to replace it): %w", u.UserID, security.ErrConflict)
		}
		if err := h.record(ctx, EventUserAdded, u.UserID, u.Email, map[string]string{"account_type": e.AccountType}); err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stdout, "added user %d (%s)\n", u.UserID, clean(u.Email))
		return nil
	})
}

func usersImport(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("users import", "FILE", `Add or replace every user of FILE, a JSON array of
  {"id", "name", "email", "password", "account_type", "permissions"}
objects (the example server's -users format). The whole file is checked
before anything is written. Passwords are hashed; keep FILE private. A user
whose password or email the file replaces has every live session and bearer
token revoked in the same step; a user whose password still matches keeps
them (importing the same file twice signs nobody out).`)
	o := c.dbFlags(fs)
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	path := fs.Arg(0)
	entries, err := hostsetup.ReadUsers(path)
	if err != nil {
		return err
	}
	return c.with(ctx, o, security.PermSessionsManage, func(h *host) error {
		for _, e := range entries {
			now := h.now()
			r, err := hostsetup.ImportUser(ctx, h.store, h.mgr.Hasher(), e, now, func(revoked []session.Session) []security.Event {
				ev := h.event(session.EventPasswordChanged, e.ID, strconv.FormatInt(e.ID, 10), map[string]string{
					"sessions_revoked": strconv.Itoa(len(revoked)), "revoke_other_sessions": "true", "reset_by": "cli"})
				ev.Time = now
				return []security.Event{ev}
			})
			if err == nil {
				err = h.record(ctx, EventUserImported, e.ID, e.Email, map[string]string{"account_type": e.AccountType, "file": path})
			}
			if err != nil {
				return fmt.Errorf("%s: user %d: %w", path, e.ID, err)
			}
			if r.Reset {
				fmt.Fprintf(c.sys.stdout, "user %d: password or email replaced; %d session(s) revoked\n", e.ID, r.Revoked)
			}
		}
		fmt.Fprintf(c.sys.stdout, "imported %d user(s) from %s\n", len(entries), path)
		return nil
	})
}

func usersSetPassword(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("users set-password", "USER_ID", `Set the password of user USER_ID, read from the terminal (twice, without
echo) or as one line of stdin. Every live session and bearer token of the
user is revoked in the same step, unless -keep-sessions. Audited as
password_changed with reset_by=cli.`)
	o := c.dbFlags(fs)
	keep := fs.Bool("keep-sessions", false, "leave the user's sessions live")
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	ids, err := parseIDs("users set-password", fs.Args())
	if err != nil {
		return err
	}
	return c.with(ctx, o, security.PermSessionsManage, func(h *host) error {
		u, err := h.store.UserByID(ctx, ids[0])
		if err != nil {
			return fmt.Errorf("user %d: %w", ids[0], err)
		}
		pw, err := c.readPassword("new password for "+clean(u.Email), true)
		if err != nil {
			return err
		}
		if err := checkNewPassword(pw); err != nil {
			return err
		}
		phc, err := h.mgr.Hasher().Hash(pw)
		if err != nil {
			return err
		}
		now := h.now()
		revoke := !*keep
		n, err := h.store.ChangePassword(ctx, session.PasswordChange{UserID: u.UserID, OldHash: u.PasswordHash, NewHash: phc,
			At: now, RevokeOthers: revoke}, func(revoked []session.Session) []security.Event {
			ev := h.event(session.EventPasswordChanged, u.UserID, strconv.FormatInt(u.UserID, 10), map[string]string{
				"sessions_revoked": strconv.Itoa(len(revoked)), "revoke_other_sessions": strconv.FormatBool(revoke),
				"reset_by": "cli"})
			ev.Time = now
			return []security.Event{ev}
		})
		if errors.Is(err, security.ErrConflict) {
			return fmt.Errorf("the password of user %d changed meanwhile; try again: %w", u.UserID, err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stdout, "password of user %d set; %d session(s) revoked\n", u.UserID, n)
		return nil
	})
}

// userJSON is a user as "users list -json" prints it: never the hash.
type userJSON struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	AccountType string   `json:"account_type"`
	Permissions []string `json:"permissions"`
	HasPassword bool     `json:"has_password"`
}

func usersList(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("users list", "", "List every user, by id. Password hashes are never shown.")
	o := c.dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON Lines, one user a line")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	return c.with(ctx, o, security.PermSessionsManage, func(h *host) error {
		users, err := h.store.Users(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(c.sys.stdout)
			for _, u := range users {
				perms := make([]string, len(u.Permissions))
				for i, p := range u.Permissions {
					perms[i] = string(p)
				}
				if err := enc.Encode(userJSON{u.UserID, u.Name, u.Email, string(u.AccountType), perms, u.PasswordHash != ""}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(c.sys.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tTYPE\tPERMISSIONS")
		for _, u := range users {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\n", u.UserID, clean(u.Email), clean(u.Name), clean(string(u.AccountType)), len(u.Permissions))
		}
		return tw.Flush()
	})
}
