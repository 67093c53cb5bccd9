package envflag

import "strings"

// Strings is a repeatable string flag: each -flag value appends one; its
// variable holds a comma list.
type Strings []string

// String joins the values with commas.
func (l *Strings) String() string { return strings.Join(*l, ",") }

// Set appends v.
func (l *Strings) Set(v string) error { *l = append(*l, v); return nil }

// Separator implements [List]: ",".
func (l *Strings) Separator() string { return "," }

// Paths is a repeatable flag of file names: each -flag value appends one;
// its variable holds a list separated by [PathSeparator], since names may
// hold commas.
type Paths []string

// String joins the values with [PathSeparator].
func (l *Paths) String() string { return strings.Join(*l, PathSeparator) }

// Set appends v.
func (l *Paths) Set(v string) error { *l = append(*l, v); return nil }

// Separator implements [List]: [PathSeparator].
func (l *Paths) Separator() string { return PathSeparator }
