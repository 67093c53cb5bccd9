// Command pwned builds and queries propsec's offline Pwned Passwords
// corpus, and queries the HIBP range API the same way.
//
// Usage:
//
//	go run ./examples/pwned import -in pwnedpasswords.txt -out pwned.bin [-ntlm] [-partial] [-quiet]
//	go run ./examples/pwned verify -corpus pwned.bin
//	go run ./examples/pwned range (-corpus pwned.bin | -hibp[=URL]) PREFIX
//	go run ./examples/pwned check (-corpus pwned.bin | -hibp[=URL]) [-hashes] < passwords.txt
//
// import reads the output of HIBP's official downloader
// (haveibeenpwned-downloader): the single sorted file pwnedpasswords.txt, or
// the directory of per-prefix files (-s false; -partial accepts an
// incomplete set). It checks every line's format and order, reports
// progress on stderr, and writes -out atomically (a temporary file renamed
// into place).
//
// range prints every breached hash of a prefix as the range API does.
// check reads one password per line from stdin (never from the command
// line, where other users could see it) or, with -hashes, one hash per
// line, and prints the count for each, or "unavailable". -hibp alone uses
// api.pwnedpasswords.com; -hibp=URL a mirror or a test server.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/breach/hibp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  pwned import -in pwnedpasswords.txt|DIR -out pwned.bin [-ntlm] [-partial] [-quiet]
  pwned verify -corpus pwned.bin
  pwned range (-corpus pwned.bin | -hibp[=URL]) PREFIX
  pwned check (-corpus pwned.bin | -hibp[=URL]) [-hashes] < input
`

// errUsage marks errors in the command line (exit status 2).
var errUsage = errors.New("usage")

// run runs the command and returns the exit status: 0 ok, 1 failure, 2 bad
// command line.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "import":
		err = runImport(ctx, args[1:], stdout, stderr)
	case "verify":
		err = runVerify(ctx, args[1:], stdout, stderr)
	case "range":
		err = runRange(ctx, args[1:], stdout, stderr)
	case "check":
		err = runCheck(ctx, args[1:], stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "pwned: %v\n%s", strings.TrimPrefix(err.Error(), "usage: "), usage)
		return 2
	}
	fmt.Fprintln(stderr, "pwned:", err)
	return 1
}

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pwned "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErr("%v", err)
	}
	return nil
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", stderr)
	in := fs.String("in", "", "the downloader's pwnedpasswords.txt, or its per-prefix directory")
	out := fs.String("out", "", "the corpus file to write")
	ntlm := fs.Bool("ntlm", false, "the input holds NTLM hashes (downloader -n)")
	partial := fs.Bool("partial", false, "accept a directory with some range files missing")
	quiet := fs.Bool("quiet", false, "no progress reports")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("import: unexpected argument %q", fs.Arg(0))
	case *in == "":
		return usageErr("import: -in is required")
	case *out == "":
		return usageErr("import: -out is required")
	}
	ist, err := os.Stat(*in)
	if err != nil {
		return fmt.Errorf("-in: %w", err)
	}
	if *partial && !ist.IsDir() {
		return usageErr("import: -partial applies to a directory input only")
	}
	if ost, err := os.Stat(*out); err == nil {
		if ost.IsDir() {
			return usageErr("import: -out %s is a directory; name the corpus file", *out)
		}
		if os.SameFile(ist, ost) {
			return usageErr("import: -out is the same file as -in")
		}
	}
	if dst, err := os.Stat(filepath.Dir(*out)); err != nil || !dst.IsDir() {
		return usageErr("import: the directory of -out %s does not exist", *out)
	}
	opts := breach.ImportOptions{Kind: breach.SHA1, AllowMissingRanges: *partial}
	if *ntlm {
		opts.Kind = breach.NTLM
	}
	start := time.Now()
	if !*quiet {
		opts.Progress = func(p breach.ImportProgress) {
			if !p.Done {
				fmt.Fprintln(stderr, progressLine(p, time.Since(start)))
			}
		}
	}
	p, err := breach.Import(ctx, *out, *in, opts)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	el := time.Since(start)
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d hashes (%d lines, %d padding dropped) from %s in %s: %.0f MB/s of text\n",
		p.Hashes, p.Lines, p.Padding, *in, el.Round(time.Millisecond), float64(p.BytesRead)/1e6/el.Seconds())
	fmt.Fprintf(stdout, "wrote %s: %d bytes, %.2f bytes per hash\n", *out, st.Size(), float64(st.Size())/float64(p.Hashes))
	return nil
}

func progressLine(p breach.ImportProgress, el time.Duration) string {
	rate := float64(p.BytesRead) / 1e6 / max(el.Seconds(), 1e-3)
	switch {
	case p.TotalFiles > 0:
		return fmt.Sprintf("%d/%d files, %d hashes, %.0f MB/s", p.Files, p.TotalFiles, p.Hashes, rate)
	case p.TotalBytes > 0:
		return fmt.Sprintf("%5.1f%%  %d hashes, %.0f MB/s", 100*float64(p.BytesRead)/float64(p.TotalBytes), p.Hashes, rate)
	}
	return fmt.Sprintf("%d MB, %d hashes, %.0f MB/s", p.BytesRead/1e6, p.Hashes, rate)
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stderr)
	corpus := fs.String("corpus", "", "the corpus file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *corpus == "" || fs.NArg() > 0 {
		return usageErr("verify: -corpus FILE, and nothing else, is required")
	}
	c, err := breach.OpenCorpus(*corpus)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Verify(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d %s hashes, verified\n", *corpus, c.Len(), c.Kind())
	return nil
}

// hibpFlag is -hibp[=URL]: a boolean-style flag that may take a value.
type hibpFlag struct {
	set bool
	url string
}

func (h *hibpFlag) String() string   { return h.url }
func (h *hibpFlag) IsBoolFlag() bool { return true }
func (h *hibpFlag) Set(v string) error {
	h.set = true
	if v != "true" && v != "default" {
		h.url = v
	}
	return nil
}

// source opens the -corpus or -hibp source named on the command line.
func source(name string, fs *flag.FlagSet, args []string, extra func()) (breach.Source, io.Closer, error) {
	corpus := fs.String("corpus", "", "an offline corpus file (see import)")
	var h hibpFlag
	fs.Var(&h, "hibp", "the HIBP range API, or a mirror at `URL` (-hibp=URL)")
	ntlm := fs.Bool("ntlm", false, "with -hibp: NTLM hashes (?mode=ntlm)")
	if extra != nil {
		extra()
	}
	if err := parse(fs, args); err != nil {
		return nil, nil, err
	}
	switch {
	case *corpus != "" && h.set:
		return nil, nil, usageErr("%s: give -corpus or -hibp, not both", name)
	case *corpus != "":
		c, err := breach.OpenCorpus(*corpus)
		if err != nil {
			return nil, nil, err
		}
		return c, c, nil
	case h.set:
		c, err := hibp.New(hibp.Config{BaseURL: h.url, NTLM: *ntlm})
		if err != nil {
			return nil, nil, usageErr("%s: %v", name, err)
		}
		return c, io.NopCloser(nil), nil
	}
	return nil, nil, usageErr("%s: -corpus FILE or -hibp is required", name)
}

func runRange(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("range", stderr)
	src, closer, err := source("range", fs, args, nil)
	if err != nil {
		return err
	}
	defer closer.Close()
	if fs.NArg() != 1 {
		return usageErr("range: one PREFIX (5 hex digits) is required")
	}
	chk, err := breach.New(breach.Config{Source: src})
	if err != nil {
		return err
	}
	r, err := chk.Range(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	if _, err := r.WriteTo(w); err != nil {
		return err
	}
	return w.Flush()
}

func runCheck(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	var hashes *bool
	src, closer, err := source("check", fs, args, func() {
		hashes = fs.Bool("hashes", false, "stdin holds hashes (hex), not passwords")
	})
	if err != nil {
		return err
	}
	defer closer.Close()
	if fs.NArg() > 0 {
		return usageErr("check: passwords are read from stdin, one a line, never from arguments")
	}
	chk, err := breach.New(breach.Config{Source: src})
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	failed := 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		var res breach.Result
		if *hashes {
			res, err = chk.CheckHash(ctx, strings.TrimSpace(line))
		} else {
			res, err = chk.CheckPassword(ctx, line)
		}
		switch {
		case errors.Is(err, breach.ErrSourceUnavailable):
			failed++
			fmt.Fprintf(stdout, "%d: unavailable\n", n)
			fmt.Fprintf(stderr, "line %d: %v\n", n, err)
		case err != nil:
			failed++
			fmt.Fprintf(stdout, "%d: invalid\n", n)
			fmt.Fprintf(stderr, "line %d: %v\n", n, err)
		case res.Breached:
			fmt.Fprintf(stdout, "%d: breached %d\n", n, res.Count)
		default:
			fmt.Fprintf(stdout, "%d: not found\n", n)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d line(s) could not be checked", failed)
	}
	return nil
}
