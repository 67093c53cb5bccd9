package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// sessionJSON is a live session as "sessions list -json" prints it.
type sessionJSON struct {
	ID         string    `json:"session_id"`
	UserID     int64     `json:"user_id"`
	UserName   string    `json:"user_name"`
	Kind       string    `json:"kind"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Location   string    `json:"location"`
	CreatedAt  time.Time `json:"created_at"`
	LastActive time.Time `json:"last_active"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func sessionsList(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("sessions list", "", "List live sessions (web and bearer), most recently active first.")
	o := c.dbFlags(fs)
	userID := fs.Int64("user", 0, "only the sessions of this `user_id`")
	page := fs.Int("page", 1, "page `number`, from 1")
	limit := fs.Int("limit", session.DefaultListLimit, fmt.Sprintf("page size, at most %d", session.MaxListLimit))
	asJSON := fs.Bool("json", false, "print JSON Lines, one session a line")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	return c.with(ctx, o, "", func(h *host) error {
		list, total, err := h.mgr.List(ctx, h.actor, session.ListOptions{UserID: *userID, Page: *page, Limit: *limit})
		if errors.Is(err, security.ErrInvalid) {
			return usageErr("sessions list: %v", err)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(c.sys.stdout)
			for _, s := range list {
				if err := enc.Encode(sessionJSON{s.ID, s.UserID, s.UserName, string(s.Kind), s.IP, s.UserAgent, s.Location,
					s.CreatedAt.UTC(), s.LastActive.UTC(), s.ExpiresAt.UTC()}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(c.sys.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SESSION\tUSER\tNAME\tKIND\tIP\tLAST ACTIVE\tUSER AGENT")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.UserID, clean(s.UserName), s.Kind, clean(s.IP),
				s.LastActive.UTC().Format(time.RFC3339), clean(security.TruncateUTF8(s.UserAgent, 60)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stderr, "%d of %d live session(s)\n", len(list), total)
		return nil
	})
}

func sessionsTerminate(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("sessions terminate", "SESSION_ID...", `Terminate live sessions (or bearer tokens) by their public id (sess_…), as
staff would over HTTP. Each is audited as session_terminated.`)
	o := c.dbFlags(fs)
	dry := fs.Bool("dry-run", false, "show what would be terminated, change nothing")
	if err := c.parse(fs, args, -1); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErr("sessions terminate: name at least one SESSION_ID (see 'sessions list')")
	}
	for _, id := range fs.Args() {
		if !security.ValidID(session.IDPrefix, id) {
			return usageErr("sessions terminate: %q is not a session id (sess_…)", id)
		}
	}
	return c.with(ctx, o, "", func(h *host) error {
		var failed []string
		for _, id := range fs.Args() {
			if *dry {
				s, err := h.store.SessionByID(ctx, id)
				switch {
				case err != nil:
					fmt.Fprintf(c.sys.stdout, "%s: %v\n", id, err)
				case !s.Live(h.now()):
					fmt.Fprintf(c.sys.stdout, "%s: not live\n", id)
				default:
					fmt.Fprintf(c.sys.stdout, "%s: would terminate (user %d, %s)\n", id, s.UserID, s.Kind)
				}
				continue
			}
			if err := h.mgr.Terminate(ctx, h.actor, id, netip.Addr{}); err != nil {
				fmt.Fprintf(c.sys.stderr, "%s: %v\n", id, err)
				failed = append(failed, id)
				continue
			}
			fmt.Fprintf(c.sys.stdout, "%s: terminated\n", id)
		}
		if len(failed) > 0 {
			return fmt.Errorf("%d session(s) not terminated: %s", len(failed), strings.Join(failed, " "))
		}
		return nil
	})
}

func blacklistAdd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("blacklist add", "USER_ID", `Blacklist USER_ID: every live session and bearer token of the user is
revoked at once and new logins are refused, until 'blacklist remove'.`)
	o := c.dbFlags(fs)
	reason := fs.String("reason", "", fmt.Sprintf("why, as `text` (required, at most %d characters; shown to staff)", session.MaxReasonRunes))
	dry := fs.Bool("dry-run", false, "show how many sessions would be revoked, change nothing")
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	ids, err := parseIDs("blacklist add", fs.Args())
	if err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return usageErr("blacklist add: -reason is required")
	}
	return c.with(ctx, o, "", func(h *host) error {
		if *dry {
			u, err := h.store.UserByID(ctx, ids[0])
			if err != nil {
				return fmt.Errorf("user %d: %w", ids[0], err)
			}
			_, n, err := h.store.ListSessions(ctx, session.ListQuery{Now: h.now(), UserID: ids[0]})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.sys.stdout, "would blacklist user %d (%s) and revoke %d session(s)\n", u.UserID, clean(u.Email), n)
			return nil
		}
		n, err := h.mgr.Blacklist(ctx, h.actor, ids[0], *reason, netip.Addr{})
		if err != nil {
			return fmt.Errorf("user %d: %w", ids[0], err)
		}
		fmt.Fprintf(c.sys.stdout, "blacklisted user %d; %d session(s) revoked\n", ids[0], n)
		return nil
	})
}

func blacklistRemove(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("blacklist remove", "USER_ID", "Remove USER_ID from the blacklist, so they can log in again. No session is revived.")
	o := c.dbFlags(fs)
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	ids, err := parseIDs("blacklist remove", fs.Args())
	if err != nil {
		return err
	}
	return c.with(ctx, o, "", func(h *host) error {
		if err := h.mgr.Unblacklist(ctx, h.actor, ids[0], netip.Addr{}); err != nil {
			return fmt.Errorf("user %d: %w", ids[0], err)
		}
		fmt.Fprintf(c.sys.stdout, "user %d removed from the blacklist\n", ids[0])
		return nil
	})
}

// blacklistJSON is an entry as "blacklist list -json" prints it.
type blacklistJSON struct {
	UserID            int64     `json:"user_id"`
	UserName          string    `json:"user_name"`
	Reason            string    `json:"reason"`
	BlacklistedBy     int64     `json:"blacklisted_by"`
	BlacklistedByName string    `json:"blacklisted_by_name"`
	CreatedAt         time.Time `json:"created_at"`
}

func blacklistList(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("blacklist list", "", "List blacklisted users, newest first.")
	o := c.dbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON Lines, one entry a line")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	return c.with(ctx, o, "", func(h *host) error {
		list, err := h.mgr.ListBlacklist(ctx, h.actor)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(c.sys.stdout)
			for _, e := range list {
				if err := enc.Encode(blacklistJSON{e.UserID, e.UserName, e.Reason, e.BlacklistedBy, e.BlacklistedByName, e.CreatedAt.UTC()}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(c.sys.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tNAME\tSINCE\tBY\tREASON")
		for _, e := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.UserID, clean(e.UserName), e.CreatedAt.UTC().Format(time.RFC3339),
				clean(e.BlacklistedByName), clean(e.Reason))
		}
		return tw.Flush()
	})
}
