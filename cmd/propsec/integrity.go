package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/envflag"
	"github.com/propops/propsec/internal/hostsetup"
	"github.com/propops/propsec/security"
)

// integrityFlags are the flags every integrity command takes: the same
// roots and key as the server's.
type integrityFlags struct {
	db    *dbFlags
	watch envflag.Paths
	key   string
}

func (c *cli) integrityFlags(fs *flag.FlagSet) *integrityFlags {
	o := &integrityFlags{db: c.dbFlags(fs)}
	fs.Var(&o.watch, "watch", "a watched `directory`, as given to the server (repeatable; required)")
	fs.StringVar(&o.key, "integrity-key", "", "baseline MAC `key`, hex; visible in the process list, so prefer the variable (default: the key file beside -db)")
	return o
}

// monitor opens the database and an integrity monitor of o's roots, after
// checking the actor may manage integrity alerts.
func (c *cli) monitor(ctx context.Context, o *integrityFlags) (*host, *integrity.Monitor, error) {
	if len(o.watch) == 0 {
		return nil, nil, usageErr("-watch DIR is required: the directories the server watches")
	}
	o.db.resolve()
	key, _, err := hostsetup.IntegrityKey("-integrity-key", o.key, o.db.db)
	if err != nil {
		return nil, nil, err
	}
	h, err := c.open(ctx, o.db)
	if err != nil {
		return nil, nil, err
	}
	if err := h.require(security.PermFileIntegrityAlertsManage); err != nil {
		h.close()
		return nil, nil, err
	}
	mon, err := integrity.New(integrity.Config{Store: h.store, Key: key, Roots: o.watch})
	if err != nil {
		h.close()
		return nil, nil, err
	}
	return h, mon, nil
}

// withMonitor runs fn with the database and integrity monitor of o, and
// closes both.
func (c *cli) withMonitor(ctx context.Context, o *integrityFlags, fn func(h *host, mon *integrity.Monitor) error) error {
	h, mon, err := c.monitor(ctx, o)
	if err != nil {
		return err
	}
	defer h.close()
	defer mon.Close()
	return fn(h, mon)
}

// integrityActor is h's actor as the integrity package records it.
func (h *host) integrityActor() integrity.Actor {
	return integrity.Actor{UserID: h.actor.Principal.UserID, SessionID: h.actor.Session.ID}
}

func integrityInit(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("integrity init", "", `Record the baseline of each -watch directory that has none. Roots that
have one are left alone (a changed root is found by 'integrity scan').`)
	o := c.integrityFlags(fs)
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	return c.withMonitor(ctx, o, func(h *host, mon *integrity.Monitor) error {
		created, err := mon.Init(ctx)
		if err != nil {
			return err
		}
		for _, r := range created {
			fmt.Fprintf(c.sys.stdout, "baseline created: %s\n", r)
		}
		if len(created) == 0 {
			fmt.Fprintln(c.sys.stdout, "every root has a baseline")
		}
		return nil
	})
}

func integrityScan(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("integrity scan", "", `Compare the -watch directories with their baseline and raise an alert for
each change, as the server's scans do. Waits for a scan the server is
running. Exit status 1 when the scan raised alerts.`)
	o := c.integrityFlags(fs)
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	return c.withMonitor(ctx, o, func(h *host, mon *integrity.Monitor) error {
		chk, err := mon.Scan(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stdout, "scan %s: %d file(s) scanned, %d violation(s), %s\n", chk.ID, chk.FilesScanned,
			chk.ViolationsFound, chk.Duration.Round(time.Millisecond))
		if chk.ViolationsFound > 0 {
			return errFinding
		}
		return nil
	})
}

// alertJSON is an alert as "integrity alerts -json" prints it.
type alertJSON struct {
	ID        int64     `json:"id"`
	Host      string    `json:"host"`
	FilePath  string    `json:"file_path"`
	Type      string    `json:"alert_type"`
	Severity  string    `json:"severity"`
	Status    string    `json:"status"`
	Details   string    `json:"details"`
	CreatedAt time.Time `json:"created_at"`
}

func integrityAlerts(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("integrity alerts", "", "List file integrity alerts, newest first.")
	o := c.integrityFlags(fs)
	status := fs.String("status", "new", "only alerts with this `status`: new, resolved, ignored, or all")
	severity := fs.String("severity", "", "only alerts of this `severity`: critical, high, medium or low")
	page := fs.Int("page", 1, "page `number`, from 1")
	limit := fs.Int("limit", integrity.MaxLimit, fmt.Sprintf("page size, at most %d", integrity.MaxLimit))
	asJSON := fs.Bool("json", false, "print JSON Lines, one alert a line")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	lo := integrity.ListOptions{Severity: integrity.Severity(*severity), Page: *page, Limit: *limit}
	if *status != "all" {
		found := false
		for s := integrity.StatusNew; s.Valid(); s++ {
			if s.String() == *status {
				lo.Status, found = &s, true
				break
			}
		}
		if !found {
			return usageErr("integrity alerts: -status must be new, resolved, ignored or all")
		}
	}
	return c.withMonitor(ctx, o, func(h *host, mon *integrity.Monitor) error {
		list, total, err := mon.Alerts(ctx, lo)
		if errors.Is(err, security.ErrInvalid) {
			return usageErr("integrity alerts: %v", err)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(c.sys.stdout)
			for _, a := range list {
				if err := enc.Encode(alertJSON{a.ID, a.Host, a.FilePath, string(a.Type), string(a.Severity), a.Status.String(),
					a.Details, a.CreatedAt.UTC()}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(c.sys.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tTYPE\tSTATUS\tCREATED\tPATH\tDETAILS")
		for _, a := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Severity, a.Type, a.Status, a.CreatedAt.UTC().Format(time.RFC3339),
				clean(a.FilePath), clean(a.Details))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stderr, "%d of %d alert(s)\n", len(list), total)
		return nil
	})
}

func integrityDiff(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("integrity diff", "ALERT_ID", `Show a unified diff between the known-good content of the alert's file and
the file as it is now (text files up to the diff size cap).`)
	o := c.integrityFlags(fs)
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	ids, err := parseIDs("integrity diff", fs.Args())
	if err != nil {
		return err
	}
	return c.withMonitor(ctx, o, func(h *host, mon *integrity.Monitor) error {
		d, err := mon.Diff(ctx, ids[0])
		if err != nil {
			return fmt.Errorf("alert %d: %w", ids[0], err)
		}
		fmt.Fprintf(c.sys.stdout, "alert %d: %s (+%d -%d)\n", d.AlertID, clean(d.FilePath), d.LinesAdded, d.LinesRemoved)
		// The diff is text of a watched file: print it without control
		// characters, line by line, so it cannot drive the terminal.
		for _, line := range splitLines(d.Text) {
			fmt.Fprintln(c.sys.stdout, clean(line))
		}
		return nil
	})
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

func integrityResolve(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("integrity resolve", "ALERT_ID...", `Mark alerts resolved. With -accept, accept each alert's observed state as
known-good first: the file's baseline entry becomes its current state (the
file must still be as the alert saw it).`)
	o := c.integrityFlags(fs)
	accept := fs.Bool("accept", false, "also accept each change into the baseline")
	if err := c.parse(fs, args, -1); err != nil {
		return err
	}
	return setAlerts(ctx, c, o, "integrity resolve", fs.Args(), func(ctx context.Context, h *host, mon *integrity.Monitor, ids []int64) (int, error) {
		if *accept {
			for _, id := range ids {
				if err := mon.AcceptAlert(ctx, h.integrityActor(), id); err != nil {
					return 0, fmt.Errorf("alert %d: %w", id, err)
				}
			}
			return len(ids), nil
		}
		return mon.ResolveAlerts(ctx, h.integrityActor(), ids...)
	}, "resolved")
}

func integrityIgnore(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("integrity ignore", "ALERT_ID...", "Mark alerts ignored: known and not worth acting on.")
	o := c.integrityFlags(fs)
	if err := c.parse(fs, args, -1); err != nil {
		return err
	}
	return setAlerts(ctx, c, o, "integrity ignore", fs.Args(), func(ctx context.Context, h *host, mon *integrity.Monitor, ids []int64) (int, error) {
		return mon.IgnoreAlerts(ctx, h.integrityActor(), ids...)
	}, "ignored")
}

func setAlerts(ctx context.Context, c *cli, o *integrityFlags, name string, args []string,
	op func(context.Context, *host, *integrity.Monitor, []int64) (int, error), done string) error {
	if len(args) == 0 {
		return usageErr("%s: name at least one ALERT_ID (see 'integrity alerts')", name)
	}
	ids, err := parseIDs(name, args)
	if err != nil {
		return err
	}
	return c.withMonitor(ctx, o, func(h *host, mon *integrity.Monitor) error {
		n, err := op(ctx, h, mon, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stdout, "%d alert(s) %s\n", n, done)
		return nil
	})
}

func deploymentBegin(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("integrity deployment begin", "", `Open a planned-deployment window: a scan runs first (changes made before
still raise alerts), then changes raise no alerts until 'deployment end'
accepts them into the baseline.`)
	o := c.integrityFlags(fs)
	desc := fs.String("description", "", "what is being deployed, in `text` (required)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if _, err := integrity.CleanDescription(*desc); err != nil {
		return usageErr("integrity deployment begin: -description: %v", err)
	}
	return c.withMonitor(ctx, o, func(h *host, mon *integrity.Monitor) error {
		d, err := mon.BeginDeployment(ctx, h.integrityActor(), *desc)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stdout, "deployment %s open since %s\n", d.ID, d.StartedAt.UTC().Format(time.RFC3339))
		return nil
	})
}

func deploymentEnd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("integrity deployment end", "", "Close the open deployment window and accept its changes into the baseline.")
	o := c.integrityFlags(fs)
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	return c.withMonitor(ctx, o, func(h *host, mon *integrity.Monitor) error {
		d, err := mon.EndDeployment(ctx, h.integrityActor())
		if err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stdout, "deployment %s ended; %d baseline entr(ies) accepted\n", d.ID, d.Accepted)
		return nil
	})
}
