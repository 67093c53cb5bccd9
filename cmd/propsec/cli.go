package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/propops/propsec/internal/envflag"
	"github.com/propops/propsec/internal/hostsetup"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// systemIO is what a command may touch of the outside world, injected so
// that tests (and run) never reach for os.Stdin and friends directly.
type systemIO struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// stdinFD is the descriptor of stdin when it is a terminal, else -1.
	stdinFD int
	// stderrTTY is true when stderr is a terminal (progress bars redraw).
	stderrTTY bool
	getenv    func(string) string
	// osUser names the operating-system user, for the audit actor.
	osUser string
}

func newSystemIO() *systemIO {
	s := &systemIO{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stdinFD: -1, getenv: os.Getenv}
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		s.stdinFD = fd
	}
	s.stderrTTY = term.IsTerminal(int(os.Stderr.Fd()))
	if u, err := user.Current(); err == nil {
		s.osUser = u.Username
	} else {
		s.osUser = strconv.Itoa(os.Getuid())
	}
	return s
}

// cli is one run of the command.
type cli struct {
	sys *systemIO
	// stdinLines reads stdin a line at a time, once made.
	stdinLines *bufio.Reader
}

// flags returns the flag set of command name. synopsis follows the name
// in the usage line; about is the paragraph under it.
func (c *cli) flags(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("propsec "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: propsec %s", name)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, " [flags]")
		}
		if synopsis != "" {
			fmt.Fprint(w, " "+synopsis)
		}
		fmt.Fprintf(w, "\n\n%s\n", strings.TrimSpace(about))
		if hasFlags {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
		fmt.Fprint(w, "\nExit status: 0 done, 1 a finding or a failure, 2 a bad command line.\n")
	}
	return fs
}

// parse parses args into fs. --help prints the usage on stdout and returns
// errHelpShown; a bad flag is a usage error that points at --help. nargs is
// how many positional arguments the command takes: a number, or -1 for any.
func (c *cli) parse(fs *flag.FlagSet, args []string, nargs int) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		name := strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")
		if strings.HasPrefix(a, "-") && (name == "password" || name == "new-password" || name == "pass") {
			return usageErr("%s: passwords are never taken from arguments (other users can see them in the "+
				"process list); type it at the prompt or pipe it on stdin", fs.Name())
		}
	}
	envflag.Annotate(fs, envPrefix)
	// Flags may follow arguments ("diff 7 -watch /srv"): parse, set the
	// first argument aside, parse the rest, until none is left or "--".
	var positional []string
	for rest := args; ; {
		err := fs.Parse(rest)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(c.sys.stdout)
			fs.Usage()
			return errHelpShown
		}
		if err != nil {
			return usageErr("%s: %v (see '%s --help')", fs.Name(), err, fs.Name())
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			positional = append(positional, left...)
			break
		}
		positional = append(positional, left[0])
		rest = left[1:]
	}
	fs.Parse(append([]string{"--"}, positional...))
	// Flags the command line left unset come from $PROPSEC_<FLAG>.
	lookup := func(k string) (string, bool) { v := c.sys.getenv(k); return v, v != "" }
	if err := envflag.Apply(fs, envPrefix, lookup); err != nil {
		return usageErr("%s: %v", fs.Name(), err)
	}
	switch {
	case nargs == 0 && fs.NArg() > 0:
		return usageErr("%s: unexpected argument %q (see '%s --help')", fs.Name(), fs.Arg(0), fs.Name())
	case nargs >= 0 && fs.NArg() != nargs:
		return usageErr("%s: takes %d argument(s), got %d (see '%s --help')", fs.Name(), nargs, fs.NArg(), fs.Name())
	}
	return nil
}

// envPrefix starts the environment variables that may give any flag
// (internal/envflag): -db comes from $PROPSEC_DB, -watch from
// $PROPSEC_WATCH. The command line wins.
const envPrefix = "PROPSEC"

// dbFlags are the flags of every command that opens the database.
type dbFlags struct {
	db string
	as int64
}

// dbDefault is the -db a command uses when none is given.
const dbDefault = "propsec.db"

func (c *cli) dbFlags(fs *flag.FlagSet) *dbFlags {
	o := &dbFlags{}
	// No default value in the flag itself, so that the default is the
	// same whether or not envflag fills it.
	fs.StringVar(&o.db, "db", "", "SQLite database `file`, or a postgres:// URL (default "+dbDefault+")")
	fs.Int64Var(&o.as, "as", 0, "act as this staff `user_id` (with their permissions) instead of the operator (id 0, every permission)")
	return o
}

// resolve fills in the default -db when neither the command line nor
// $PROPSEC_DB gave one.
func (o *dbFlags) resolve() {
	if o.db == "" {
		o.db = dbDefault
	}
}

// host is an open database and what the commands build on it.
type host struct {
	store hostsetup.Backend
	mgr   *session.Manager
	// actor is who the audit events name.
	actor session.Auth
}

// operatorName is the name of the operator principal (user id 0).
const operatorName = "operator (cli)"

// open opens the database of o, refusing to create a SQLite file (a typo
// in -db must not make an empty database), and resolves the actor.
func (c *cli) open(ctx context.Context, o *dbFlags) (*host, error) {
	o.resolve()
	if !hostsetup.IsPostgres(o.db) {
		if _, err := os.Stat(o.db); err != nil {
			return nil, fmt.Errorf("-db %s: %w (the server creates the database; pass its -db or set $PROPSEC_DB)", o.db, err)
		}
	}
	log := slog.New(slog.NewTextHandler(c.sys.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := hostsetup.Open(ctx, o.db, log)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", hostsetup.RedactDB(o.db), err)
	}
	mgr, err := session.New(session.Config{Store: st, Users: st})
	if err != nil {
		st.Close()
		return nil, err
	}
	h := &host{store: st, mgr: mgr}
	h.actor.Session.ID = "cli:" + c.sys.osUser
	switch {
	case o.as < 0:
		st.Close()
		return nil, usageErr("-as must be a positive user id")
	case o.as == 0:
		h.actor.Principal = security.Principal{Name: operatorName, AccountType: security.AccountStaff,
			Permissions: security.AllPermissions}
	default:
		u, err := st.UserByID(ctx, o.as)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("-as %d: %w", o.as, err)
		}
		if !u.IsStaff() {
			st.Close()
			return nil, fmt.Errorf("-as %d: %s is not a staff user", o.as, u.Email)
		}
		h.actor.Principal = u.Principal
	}
	return h, nil
}

func (h *host) close() error { return h.store.Close() }

// readPassword reads a password: from the terminal without echo (twice
// when confirm is set), or as one line of stdin when stdin is not a
// terminal.
func (c *cli) readPassword(prompt string, confirm bool) (string, error) {
	if c.sys.stdinFD >= 0 {
		fmt.Fprint(c.sys.stderr, prompt+": ")
		pw, err := term.ReadPassword(c.sys.stdinFD)
		fmt.Fprintln(c.sys.stderr)
		if err != nil {
			return "", err
		}
		if confirm {
			fmt.Fprint(c.sys.stderr, "again: ")
			again, err := term.ReadPassword(c.sys.stdinFD)
			fmt.Fprintln(c.sys.stderr)
			if err != nil {
				return "", err
			}
			if string(again) != string(pw) {
				return "", errors.New("the passwords differ")
			}
		}
		return string(pw), nil
	}
	line, ok, err := c.readLine()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("no password on stdin (type it at a terminal, or pipe one line)")
	}
	return line, nil
}

// maxLine is the longest line read from stdin.
const maxLine = 64 << 10

// readLine reads one line of stdin without its line ending; ok is false at
// the end of the input.
func (c *cli) readLine() (line string, ok bool, err error) {
	if c.stdinLines == nil {
		c.stdinLines = bufio.NewReaderSize(c.sys.stdin, 4096)
	}
	var b []byte
	for {
		part, isPrefix, err := c.stdinLines.ReadLine()
		if err == io.EOF && len(b) == 0 {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		b = append(b, part...)
		if len(b) > maxLine {
			return "", false, fmt.Errorf("a line of stdin is longer than %d bytes", maxLine)
		}
		if !isPrefix {
			return string(b), true, nil
		}
	}
}

// checkNewPassword applies the rules of a new password (as for a password
// change): valid UTF-8, at least session.MinPasswordRunes characters, at
// most session.MaxPasswordBytes bytes.
func checkNewPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid UTF-8")
	case utf8.RuneCountInString(pw) < session.MinPasswordRunes:
		return fmt.Errorf("the password must have at least %d characters", session.MinPasswordRunes)
	case len(pw) > session.MaxPasswordBytes:
		return fmt.Errorf("the password must be at most %d bytes", session.MaxPasswordBytes)
	}
	return nil
}

// clean makes stored text (names, user agents, reasons) safe to print on a
// terminal: no control characters, so no escape sequences.
func clean(s string) string { return security.CleanText(s, 4096) }

// parseIDs reads positive decimal ids.
func parseIDs(name string, args []string) ([]int64, error) {
	ids := make([]int64, len(args))
	for i, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return nil, usageErr("%s: %q is not an id (a positive integer)", name, a)
		}
		ids[i] = id
	}
	return ids, nil
}

// now is the time events are stamped with.
func (h *host) now() time.Time { return security.Now(nil) }

// event returns an event of type typ with the CLI's actor.
func (h *host) event(typ security.EventType, subjectUserID int64, subject string, details map[string]string) security.Event {
	return security.Event{Time: h.now(), Type: typ, ActorUserID: h.actor.Principal.UserID,
		ActorSessionID: h.actor.Session.ID, SubjectUserID: subjectUserID, Subject: subject, Details: details}
}

// record writes one event with the CLI's actor.
func (h *host) record(ctx context.Context, typ security.EventType, subjectUserID int64, subject string, details map[string]string) error {
	return h.store.RecordEvents(ctx, h.event(typ, subjectUserID, subject, details))
}

// require fails unless the actor holds perm (the operator holds every
// permission; an -as user only theirs, as over HTTP).
func (h *host) require(perm security.Permission) error {
	if h.actor.Principal.Can(perm) {
		return nil
	}
	return fmt.Errorf("user %d lacks the permission %s: %w", h.actor.Principal.UserID, perm, security.ErrForbidden)
}

// with opens the database of o, checks the actor holds perm (none when
// ""), runs fn and closes the database.
func (c *cli) with(ctx context.Context, o *dbFlags, perm security.Permission, fn func(h *host) error) error {
	h, err := c.open(ctx, o)
	if err != nil {
		return err
	}
	defer h.close()
	if perm != "" {
		if err := h.require(perm); err != nil {
			return err
		}
	}
	return fn(h)
}
