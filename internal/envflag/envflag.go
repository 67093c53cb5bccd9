// Package envflag fills a [flag.FlagSet]'s flags from environment
// variables, so that a command's settings (a database URL with a password,
// a key) need not appear in the process list.
//
// # Names
//
// Flag -scan-interval under the prefix "PROPSEC" comes from
// $PROPSEC_SCAN_INTERVAL: the prefix, an underscore, and the flag's name in
// upper case with every character other than a letter or digit made an
// underscore ([Name]).
//
// # Precedence
//
// A flag given on the command line wins; a variable fills only the flags
// the command line left unset. A variable that is set but empty counts as
// unset.
//
// # Values
//
// A variable's value is given to the flag's [flag.Value.Set], exactly as if
// it had been given on the command line, so it is checked the same way:
// bool flags take the values of [strconv.ParseBool] (1, t, true, 0, f,
// false, …), durations take [time.ParseDuration]'s form (15m). A flag that
// may be repeated on the command line takes a list from its variable when
// its value implements [List]: the value is split on [List.Separator], each
// element trimmed of surrounding white space, empty elements dropped, and
// Set called once per element.
//
// # Errors
//
// An invalid value is an error that names the variable and the flag but
// never repeats the value itself, which may be a secret.
//
// # Help
//
// [Annotate] adds each flag's variable to its usage text, so that -h lists
// them.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// List is implemented by the value of a flag that may be repeated on the
// command line. Separator is what separates its elements in a variable: ","
// for most lists, [os.PathListSeparator] for lists of file names, which may
// hold commas.
type List interface {
	flag.Value
	Separator() string
}

// PathSeparator is [os.PathListSeparator] as a string, the separator for a
// [List] of file names (":" on Unix, ";" on Windows).
const PathSeparator = string(os.PathListSeparator)

// Name returns the environment variable for the flag called flagName under
// prefix: Name("PROPSEC", "scan-interval") is "PROPSEC_SCAN_INTERVAL".
func Name(prefix, flagName string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('_')
	for _, r := range flagName {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Apply sets every flag of fs that the command line left unset from its
// variable ([Name]), when lookup finds that variable and it is not empty.
// Call it after fs.Parse. A nil lookup means [os.LookupEnv]. It returns
// the first invalid value as an error naming the variable and the flag.
func Apply(fs *flag.FlagSet, prefix string, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		env := Name(prefix, f.Name)
		v, ok := lookup(env)
		if !ok || v == "" {
			return
		}
		values := []string{v}
		if l, ok := f.Value.(List); ok {
			values = split(v, l.Separator())
		}
		for _, v := range values {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("$%s: invalid value for -%s: %s", env, f.Name, explain(f.Value, serr))
				return
			}
		}
	})
	return err
}

func split(v, sep string) []string {
	var out []string
	for e := range strings.SplitSeq(v, sep) {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// explain turns the flag package's terse "parse error" for its own value
// types into what the value should look like.
func explain(v flag.Value, err error) string {
	if errors.Is(err, strconv.ErrSyntax) || err.Error() == "parse error" || err.Error() == "value out of range" {
		if g, ok := v.(flag.Getter); ok {
			switch g.Get().(type) {
			case bool:
				return "want true or false (or 1, 0, t, f)"
			case time.Duration:
				return "want a duration such as 30s, 15m or 1h"
			case int, int64, uint, uint64:
				return "want a whole number in range"
			case float64:
				return "want a number"
			}
		}
	}
	return err.Error()
}

// Annotate appends each flag's variable to its usage text, as
// " ($PROPSEC_ADDR)", so that the flag set's -h output lists them. Call it
// once, before fs.Parse.
func Annotate(fs *flag.FlagSet, prefix string) {
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage += " ($" + Name(prefix, f.Name) + ")"
	})
}
