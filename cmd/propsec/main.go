// Command propsec is the operator's command line for a propsec database: the
// same -db (a SQLite file or a postgres:// URL; default $PROPSEC_DB) the
// example server uses, safe to use while the server runs.
//
// Usage:
//
//	propsec users (add | import | set-password | list)
//	propsec sessions (list | terminate)
//	propsec blacklist (add | remove | list)
//	propsec audit (verify | export | head)
//	propsec report [-from DATE] [-to DATE] [-format json|csv|table]
//	propsec integrity (init | scan | alerts | diff | resolve | ignore | deployment begin | deployment end)
//	propsec breach (import | check)
//	propsec version
//
// Every command takes --help. Every flag can also come from a PROPSEC_
// variable (-db from $PROPSEC_DB, -integrity-key from
// $PROPSEC_INTEGRITY_KEY, -watch from $PROPSEC_WATCH, a list separated by
// os.PathListSeparator); the command line wins.
//
// # Who acts
//
// Actions are audited as the same action over HTTP would be. The actor is
// the operator: user id 0, named "operator (cli)", with every permission,
// or with -as USER_ID a staff user of the database (their permissions are
// then checked as over HTTP). Either way the events' actor session is
// "cli:" and the operating-system user, so an event written by this
// command can always be told from one written by the server.
//
// # Passwords
//
// Passwords are read from the terminal without echo, or, when standard
// input is not a terminal, as one line of it; never from arguments, which
// other local users can see in the process list.
//
// # Exit status
//
// 0: done. 1: a finding (a broken audit chain, a breached password) or a
// failure. 2: a bad command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], newSystemIO())
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK      = 0
	exitFinding = 1
	exitUsage   = 2
)

// errUsage marks errors in the command line (exit status 2).
var errUsage = errors.New("usage")

// errFinding marks a completed check that found a problem (exit status 1)
// and has already said so on stdout.
var errFinding = errors.New("finding")

// errHelpShown means --help was asked for and answered (exit status 0).
var errHelpShown = errors.New("help shown")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// command is one leaf of the command tree, such as "users add".
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

// commands is the command tree, in the order help lists it.
var commands = []command{
	{"users add", "add a user (password from a prompt or stdin)", usersAdd},
	{"users import", "add or replace the users of a users file (the server's -users format)", usersImport},
	{"users set-password", "set a user's password and end their sessions", usersSetPassword},
	{"users list", "list users", usersList},
	{"sessions list", "list live sessions", sessionsList},
	{"sessions terminate", "terminate sessions by id", sessionsTerminate},
	{"blacklist add", "blacklist a user, ending all their sessions", blacklistAdd},
	{"blacklist remove", "let a blacklisted user log in again", blacklistRemove},
	{"blacklist list", "list blacklisted users", blacklistList},
	{"audit verify", "check the audit log's hash chain (exit 1 when broken)", auditVerify},
	{"audit export", "write audit events as JSON Lines", auditExport},
	{"audit head", "print the audit log's head ID:HASH, to anchor it elsewhere", auditHead},
	{"report", "the security report over a period", reportCmd},
	{"integrity init", "record the baseline of watched directories that have none", integrityInit},
	{"integrity scan", "compare the watched directories with the baseline", integrityScan},
	{"integrity alerts", "list file integrity alerts", integrityAlerts},
	{"integrity diff", "show what changed in the file of an alert", integrityDiff},
	{"integrity resolve", "mark alerts resolved (-accept: accept the change into the baseline)", integrityResolve},
	{"integrity ignore", "mark alerts ignored", integrityIgnore},
	{"integrity deployment begin", "open a planned-deployment window", deploymentBegin},
	{"integrity deployment end", "close the window and accept its changes into the baseline", deploymentEnd},
	{"breach import", "build an offline Pwned Passwords corpus from HIBP's download", breachImport},
	{"breach check", "check passwords against a corpus or the HIBP range API (exit 1 if breached)", breachCheck},
	{"version", "print the version", versionCmd},
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, sys *systemIO) int {
	c := &cli{sys: sys}
	err := dispatch(ctx, c, args)
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return exitOK
	case errors.Is(err, errFinding):
		return exitFinding
	case errors.Is(err, errUsage):
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "usage: "), "propsec ")
		fmt.Fprintf(sys.stderr, "propsec: %s\n", msg)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(sys.stderr, "propsec: interrupted")
		return exitFinding
	}
	fmt.Fprintf(sys.stderr, "propsec: %v\n", err)
	return exitFinding
}

// dispatch finds the longest command named by the leading words of args
// and runs it with the rest.
func dispatch(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.sys.stderr, topUsage())
		return usageErr("no command given")
	}
	if isHelp(args[0]) {
		if len(args) > 1 && args[0] == "help" {
			return dispatch(ctx, c, append(args[1:], "--help"))
		}
		fmt.Fprint(c.sys.stdout, topUsage())
		return errHelpShown
	}
	var best *command
	words := 0
	for i := range commands {
		cw := strings.Fields(commands[i].name)
		if len(cw) <= len(args) && slices.Equal(cw, args[:len(cw)]) && len(cw) > words {
			best, words = &commands[i], len(cw)
		}
	}
	if best != nil {
		return best.run(ctx, c, args[words:])
	}
	// A group ("users") or an unknown word: list what the prefix offers.
	var prefix []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		prefix = append(prefix, a)
	}
	group := groupUsage(prefix)
	if group != "" {
		if len(args) > len(prefix) && isHelp(args[len(prefix)]) {
			fmt.Fprint(c.sys.stdout, group)
			return errHelpShown
		}
		fmt.Fprint(c.sys.stderr, group)
		if len(prefix) < len(args) {
			return usageErr("unknown flag %q for %q, which needs a subcommand", args[len(prefix)], strings.Join(prefix, " "))
		}
		return usageErr("%q needs a subcommand", strings.Join(prefix, " "))
	}
	name := strings.Join(prefix, " ")
	if s := suggest(name); s != "" {
		return usageErr("unknown command %q; did you mean %q?", name, s)
	}
	return usageErr("unknown command %q; run 'propsec --help' for the list", name)
}

func isHelp(a string) bool {
	return a == "-h" || a == "-help" || a == "--help" || a == "help"
}

func topUsage() string {
	var b strings.Builder
	b.WriteString(`propsec is the operator's command line for a propsec database: the same -db
(a SQLite file or a postgres:// URL; default $PROPSEC_DB) as the server,
usable while it runs. Every action is audited, with the operator as actor.

Usage: propsec COMMAND [flags] [arguments]

Commands:
`)
	writeCommandList(&b, commands)
	b.WriteString(`
Run 'propsec COMMAND --help' for a command's flags. Every flag can also come
from a PROPSEC_ variable (-db from $PROPSEC_DB); the command line wins.
Passwords are read from a prompt or stdin, never from arguments.
Exit status: 0 done, 1 a finding (broken audit chain, breached password) or a
failure, 2 a bad command line.
`)
	return b.String()
}

func writeCommandList(w io.Writer, cmds []command) {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
}

// groupUsage lists the commands under prefix, or returns "" when there are
// none.
func groupUsage(prefix []string) string {
	var sub []command
	for _, c := range commands {
		cw := strings.Fields(c.name)
		if len(prefix) > 0 && len(cw) > len(prefix) && slices.Equal(cw[:len(prefix)], prefix) {
			sub = append(sub, c)
		}
	}
	if len(sub) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: propsec %s SUBCOMMAND [flags]\n\nSubcommands:\n", strings.Join(prefix, " "))
	writeCommandList(&b, sub)
	fmt.Fprintf(&b, "\nRun 'propsec %s SUBCOMMAND --help' for its flags.\n", strings.Join(prefix, " "))
	return b.String()
}

// suggest returns the command (or group) name closest to name, when it is
// close enough to be a typo.
func suggest(name string) string {
	seen := map[string]bool{}
	best, bestD := "", 3
	for _, c := range commands {
		cw := strings.Fields(c.name)
		for i := 1; i <= len(cw); i++ {
			cand := strings.Join(cw[:i], " ")
			if seen[cand] {
				continue
			}
			seen[cand] = true
			if d := editDistance(name, cand); d < bestD {
				best, bestD = cand, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func versionCmd(_ context.Context, c *cli, args []string) error {
	fs := c.flags("version", "", "Print the version of propsec this binary was built from.")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	fmt.Fprintln(c.sys.stdout, "propsec", version())
	return nil
}

// version is the main module's version from the build information:
// a tag, a pseudo-version, or "(devel)" with the VCS revision when known.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			rev := s.Value
			if len(rev) > 12 {
				rev = rev[:12]
			}
			v = "(devel) " + rev
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v + " " + bi.GoVersion
}
