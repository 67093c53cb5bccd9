package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/breach/hibp"
	"github.com/propops/propsec/security"
)

func breachImport(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("breach import", "", `Build an offline Pwned Passwords corpus (the server's -breach-corpus) from
the output of HIBP's official downloader: the single sorted
pwnedpasswords.txt, or its directory of per-prefix files. Every line is
checked; the corpus is written to a temporary file and renamed into place.
Progress (bytes, rate, time left) goes to stderr.`)
	in := fs.String("in", "", "the downloader's pwnedpasswords.txt, or its per-prefix `directory` (required)")
	out := fs.String("out", "", "the corpus `file` to write (required)")
	ntlm := fs.Bool("ntlm", false, "the input holds NTLM hashes (downloader -n)")
	partial := fs.Bool("partial", false, "accept a directory with some range files missing")
	quiet := fs.Bool("quiet", false, "no progress")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return usageErr("breach import: -in and -out are required")
	}
	ist, err := os.Stat(*in)
	if err != nil {
		return fmt.Errorf("-in: %w", err)
	}
	if ost, err := os.Stat(*out); err == nil && os.SameFile(ist, ost) {
		return usageErr("breach import: -out is the same file as -in")
	}
	opts := breach.ImportOptions{Kind: breach.SHA1, AllowMissingRanges: *partial}
	if *ntlm {
		opts.Kind = breach.NTLM
	}
	start := time.Now()
	bar := &progressBar{w: c.sys.stderr, redraw: c.sys.stderrTTY}
	if !*quiet {
		opts.Progress = func(p breach.ImportProgress) { bar.update(p, time.Since(start)) }
	}
	p, err := breach.Import(ctx, *out, *in, opts)
	bar.finish()
	if err != nil {
		return fmt.Errorf("breach import: %w", err)
	}
	el := time.Since(start)
	fmt.Fprintf(c.sys.stdout, "imported %d hashes (%d lines, %d padding dropped) into %s in %s\n",
		p.Hashes, p.Lines, p.Padding, *out, el.Round(time.Millisecond))
	return nil
}

// progressBar draws import progress: on a terminal one line redrawn in
// place, elsewhere one line per report.
type progressBar struct {
	w      io.Writer
	redraw bool
	drawn  bool
}

func (b *progressBar) update(p breach.ImportProgress, el time.Duration) {
	line := progressLine(p, el)
	if b.redraw {
		fmt.Fprintf(b.w, "\r%-78s", line)
		b.drawn = true
		return
	}
	fmt.Fprintln(b.w, line)
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

// progressLine says how far an import has got: a bar and percentage when
// the total is known, the bytes read, the rate and the time left.
func progressLine(p breach.ImportProgress, el time.Duration) string {
	secs := max(el.Seconds(), 1e-3)
	rate := float64(p.BytesRead) / secs
	var frac float64
	switch {
	case p.Done:
		frac = 1
	case p.TotalFiles > 0:
		frac = float64(p.Files) / float64(p.TotalFiles)
	case p.TotalBytes > 0:
		frac = float64(p.BytesRead) / float64(p.TotalBytes)
	default:
		frac = -1
	}
	var b strings.Builder
	if frac >= 0 {
		const width = 20
		n := int(frac * width)
		fmt.Fprintf(&b, "[%s%s] %5.1f%% ", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac)
	}
	fmt.Fprintf(&b, "%s", byteSize(p.BytesRead))
	if p.TotalBytes > 0 {
		fmt.Fprintf(&b, " / %s", byteSize(p.TotalBytes))
	}
	fmt.Fprintf(&b, "  %s/s  %d hashes", byteSize(int64(rate)), p.Hashes)
	if frac > 0 && frac < 1 {
		left := time.Duration(float64(el) * (1 - frac) / frac)
		fmt.Fprintf(&b, "  ETA %s", left.Round(time.Second))
	}
	return b.String()
}

// byteSize writes n bytes in decimal units.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

func breachCheck(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("breach check", "", `Check passwords against an offline corpus (-breach-corpus) or the HIBP
range API (-hibp-url; only a 5-digit hash prefix is sent). One password is
read from the terminal without echo, or one per line from stdin when it is
not a terminal; never from arguments. A breached password is audited
(password_breach_detected; never the password or its hash). Prints "breached
COUNT" or "not found" per password; exit status 1 when any is breached.`)
	o := c.dbFlags(fs)
	corpus := fs.String("breach-corpus", "", "an offline corpus `file` (see 'breach import')")
	hibpURL := fs.String("hibp-url", "", "the range API base `URL`, e.g. https://api.pwnedpasswords.com")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	var src breach.Source
	switch {
	case *corpus != "" && *hibpURL != "":
		return usageErr("breach check: give -breach-corpus or -hibp-url, not both")
	case *corpus != "":
		cp, err := breach.OpenCorpus(*corpus)
		if err != nil {
			return err
		}
		defer cp.Close()
		src = cp
	case *hibpURL != "":
		cl, err := hibp.New(hibp.Config{BaseURL: *hibpURL})
		if err != nil {
			return usageErr("breach check: -hibp-url: %v", err)
		}
		src = cl
	default:
		return usageErr("breach check: -breach-corpus FILE or -hibp-url URL is required")
	}
	return c.with(ctx, o, "", func(h *host) error {
		chk, err := breach.New(breach.Config{Source: src, Events: h.store})
		if err != nil {
			return err
		}
		// Matches are recorded with the CLI's actor.
		ectx := breach.ContextWithEvent(ctx, h.event("", 0, "", map[string]string{"via": "cli"}))
		check := func(pw string) (bool, error) {
			res, err := chk.CheckPassword(ectx, pw)
			switch {
			case errors.Is(err, security.ErrInvalid):
				fmt.Fprintln(c.sys.stdout, "invalid")
				return false, err
			case err != nil:
				return false, err
			case res.Breached:
				fmt.Fprintf(c.sys.stdout, "breached %d\n", res.Count)
			default:
				fmt.Fprintln(c.sys.stdout, "not found")
			}
			return res.Breached, nil
		}
		breached := 0
		if c.sys.stdinFD >= 0 {
			pw, err := c.readPassword("password to check", false)
			if err != nil {
				return err
			}
			b, err := check(pw)
			if err != nil {
				return err
			}
			if b {
				breached++
			}
		} else {
			for {
				pw, ok, err := c.readLine()
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				b, err := check(strings.TrimSuffix(pw, "\r"))
				if err != nil {
					return err
				}
				if b {
					breached++
				}
			}
		}
		if breached > 0 {
			return errFinding
		}
		return nil
	})
}
