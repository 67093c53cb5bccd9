package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/propops/propsec/internal/envflag"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

func auditVerify(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("audit verify", "", `Walk the audit log's hash chain and report the first event that breaks it:
modified, removed, reordered, truncated, or rewritten up to an anchor. An
anchor is a head (ID:HASH, from 'audit head') exported earlier to a place
the database's writers cannot reach; without one, a chain rewritten with
fresh hashes goes unseen. Exit status 1 when the chain is broken.`)
	o := c.dbFlags(fs)
	var anchors envflag.Strings
	fs.Var(&anchors, "anchor", "a head `ID:HASH` exported earlier, to check against (repeatable)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	var heads []security.AuditHead
	for _, a := range anchors {
		hd, err := security.ParseAuditHead(a)
		if err != nil {
			return usageErr("audit verify: -anchor %q: %v", a, err)
		}
		heads = append(heads, hd)
	}
	return c.with(ctx, o, security.PermSecurityReportManage, func(h *host) error {
		res, err := h.store.VerifyEvents(ctx, heads...)
		if err != nil {
			return err
		}
		if !res.OK() {
			fmt.Fprintf(c.sys.stdout, "BROKEN: event %d %s: %s\n", res.Break.ID, res.Break.Problem, clean(res.Break.Detail))
			fmt.Fprintf(c.sys.stdout, "%d event(s) verified before the break\n", res.Events)
			return errFinding
		}
		fmt.Fprintf(c.sys.stdout, "ok: %d event(s), %d anchor(s) checked, head %s\n", res.Events, len(heads), res.Head)
		return nil
	})
}

func auditHead(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("audit head", "", `Print the newest audit event's ID:HASH. Store it where the database's
writers cannot reach (a ticket, another host), and pass it to
'audit verify -anchor' or the server's -audit-anchor later.`)
	o := c.dbFlags(fs)
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	return c.with(ctx, o, security.PermSecurityReportManage, func(h *host) error {
		hd, err := h.store.EventsHead(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.sys.stdout, hd)
		return nil
	})
}

// eventJSON is one line of "audit export".
type eventJSON struct {
	ID             int64             `json:"id"`
	Time           time.Time         `json:"time"`
	Type           string            `json:"type"`
	ActorUserID    int64             `json:"actor_user_id"`
	ActorSessionID string            `json:"actor_session_id,omitempty"`
	SubjectUserID  int64             `json:"subject_user_id,omitempty"`
	Subject        string            `json:"subject,omitempty"`
	IP             string            `json:"ip,omitempty"`
	Details        map[string]string `json:"details,omitempty"`
	PrevHash       string            `json:"prev_hash"`
	Hash           string            `json:"hash"`
}

func auditExport(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("audit export", "", `Write audit events to stdout as JSON Lines, oldest first, with their chain
hashes, streaming (constant memory however long the log). -from and -to are
YYYY-MM-DD (a UTC day; -to takes in its whole day) or RFC 3339 times, both
inclusive; without them every event is written. -after resumes an earlier
export after the last id it wrote.`)
	o := c.dbFlags(fs)
	from := fs.String("from", "", "the first `time` to export (default: the beginning)")
	to := fs.String("to", "", "the last `time` to export (default: now)")
	after := fs.Int64("after", 0, "export only events with ids above this `id`")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	start, end, err := exportPeriod(*from, *to)
	if err != nil {
		return err
	}
	if *after < 0 {
		return usageErr("audit export: -after must not be negative")
	}
	return c.with(ctx, o, security.PermSecurityReportManage, func(h *host) error {
		w := bufio.NewWriterSize(c.sys.stdout, 64<<10)
		enc := json.NewEncoder(w)
		n := 0
		for e, err := range h.store.ChainedEvents(ctx, *after) {
			if err != nil {
				w.Flush()
				return fmt.Errorf("after %d event(s): %w", n, err)
			}
			if e.Time.Before(start) || (!end.IsZero() && !e.Time.Before(end)) {
				continue
			}
			err := enc.Encode(eventJSON{ID: e.ID, Time: e.Time.UTC(), Type: string(e.Type), ActorUserID: e.ActorUserID,
				ActorSessionID: e.ActorSessionID, SubjectUserID: e.SubjectUserID, Subject: e.Subject, IP: e.IP,
				Details: e.Details, PrevHash: hex.EncodeToString(e.PrevHash[:]), Hash: hex.EncodeToString(e.Hash[:])})
			if err != nil {
				return err
			}
			n++
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(c.sys.stderr, "exported %d event(s)\n", n)
		return nil
	})
}

// exportPeriod reads the bounds of "audit export": [start, end), end zero
// for no upper bound.
func exportPeriod(from, to string) (start, end time.Time, err error) {
	parse := func(name, s string, upper bool) (time.Time, error) {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			if upper {
				t = t.AddDate(0, 0, 1)
			}
			return t, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, usageErr("audit export: -%s %q: want YYYY-MM-DD or an RFC 3339 time", name, s)
		}
		if upper {
			t = t.Add(time.Nanosecond)
		}
		return t, nil
	}
	if from != "" {
		if start, err = parse("from", from, false); err != nil {
			return
		}
	}
	if to != "" {
		if end, err = parse("to", to, true); err != nil {
			return
		}
		if !start.Before(end) {
			return start, end, usageErr("audit export: -from is after -to")
		}
	}
	return start, end, nil
}

func reportCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("report", "", `The security report over a period, counted from the audit events: logins,
new-IP verifications, terminated sessions, blacklistings, file integrity
violations and breached passwords, in all and per UTC day. -from and -to are
YYYY-MM-DD or RFC 3339 times, both inclusive; the default is the 7 days up
to now; at most 366 days.`)
	o := c.dbFlags(fs)
	from := fs.String("from", "", "the start of the period, a `date` or time (default: 7 days before -to)")
	to := fs.String("to", "", "the end of the period, a `date` or time (default: now)")
	format := fs.String("format", "table", "output `format`: table, json, or csv (the daily rows)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	switch *format {
	case "table", "json", "csv":
	default:
		return usageErr("report: -format must be table, json or csv")
	}
	// The period is checked before the database is opened: a bad one is
	// a usage error.
	p, err := report.ParsePeriod(*from, *to, time.Now())
	if err != nil {
		return usageErr("report: %v", err)
	}
	return c.with(ctx, o, security.PermSecurityReportManage, func(h *host) error {
		g, err := report.New(report.Config{Store: h.store})
		if err != nil {
			return err
		}
		r, err := g.Build(ctx, p)
		if errors.Is(err, security.ErrInvalid) {
			return usageErr("report: %v", err)
		}
		if err != nil {
			return err
		}
		switch *format {
		case "json":
			enc := json.NewEncoder(c.sys.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		case "csv":
			return r.WriteCSV(c.sys.stdout)
		}
		fmt.Fprintf(c.sys.stdout, "Security report %s to %s\n\n", r.Period.From, r.Period.To)
		tw := tabwriter.NewWriter(c.sys.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "DATE\tLOGINS OK\tFAILED\tNEW IP\tTERMINATED\tBLACKLISTED\tINTEGRITY\tBREACHED\t")
		for _, d := range r.Daily {
			fmt.Fprintf(tw, "%s\t%s\t\n", d.Date, joinTabs(d.Counts.Row()))
		}
		fmt.Fprintf(tw, "total\t%s\t\n", joinTabs(r.Counts.Row()))
		return tw.Flush()
	})
}

func joinTabs(cells []string) string { return strings.Join(cells, "\t") }
