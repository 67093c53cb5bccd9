// Package glob matches the slash-separated paths of a monitored tree
// against the patterns of integrity's Config.Include, Config.Exclude and
// Config.SeverityRules, and decides with them which paths are monitored.
//
// # Patterns
//
// A pattern without "/" matches the last element of a path, at any depth
// ("*.log", ".env"); one with "/" matches the whole path relative to its
// root, element by element ("var/cache", "src/**/*.js"), where "**" stands
// for any number of elements, none included. A leading "./" or "/" and a
// trailing "/" are ignored. Elements use the syntax of [path.Match].
//
// # Filters
//
// A [Filter] leaves out what its Exclude patterns match (and, for a
// directory, everything below it) and, when it has Include patterns, every
// file they do not match. The walker asks [Filter.SkipEntry] of each child
// it lists; a baseline entry, which may predate the rules, is asked of
// with [Filter.SkipPath], which checks its ancestors too.
package glob

import (
	"path"
	"strings"

	"github.com/propops/propsec/security"
)

// Pattern is a compiled pattern (see the package doc for the syntax).
type Pattern struct {
	raw  string
	base bool     // no "/": matches the last element
	segs []string // otherwise: the elements, "**" for any number of them
}

// Compile compiles p. A bad pattern is a [security.InvalidError] of field.
func Compile(field, p string) (Pattern, error) {
	raw := p
	p = strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return Pattern{}, security.Invalidf(field, "empty pattern %q", raw)
	}
	g := Pattern{raw: raw}
	if !strings.Contains(p, "/") {
		g.base = true
		g.segs = []string{p}
	} else {
		g.segs = strings.Split(p, "/")
	}
	for _, s := range g.segs {
		if s == "" {
			return Pattern{}, security.Invalidf(field, "empty element in pattern %q", raw)
		}
		if _, err := path.Match(s, ""); err != nil {
			return Pattern{}, security.Invalidf(field, "bad pattern %q", raw)
		}
	}
	return g, nil
}

// CompileAll compiles every pattern of ps, failing at the first bad one.
func CompileAll(field string, ps []string) ([]Pattern, error) {
	out := make([]Pattern, 0, len(ps))
	for _, p := range ps {
		g, err := Compile(field, p)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// Match reports whether rel, a slash-separated path relative to a root,
// matches g. The root itself ("") matches no pattern.
func (g *Pattern) Match(rel string) bool {
	if rel == "" {
		return false
	}
	if g.base {
		if g.segs[0] == "**" {
			return true
		}
		ok, _ := path.Match(g.segs[0], path.Base(rel))
		return ok
	}
	return matchSegs(g.segs, rel)
}

func matchSegs(ps []string, name string) bool {
	if len(ps) == 0 {
		return name == ""
	}
	if ps[0] == "**" {
		for {
			if matchSegs(ps[1:], name) {
				return true
			}
			if name == "" {
				return false
			}
			if i := strings.IndexByte(name, '/'); i >= 0 {
				name = name[i+1:]
			} else {
				name = ""
			}
		}
	}
	if name == "" {
		return false
	}
	seg, rest, _ := strings.Cut(name, "/")
	if ok, _ := path.Match(ps[0], seg); !ok {
		return false
	}
	return matchSegs(ps[1:], rest)
}

func matchAny(gs []Pattern, rel string) bool {
	for i := range gs {
		if gs[i].Match(rel) {
			return true
		}
	}
	return false
}

// Filter decides which paths are monitored: those that no Exclude pattern
// matches and, when there are Include patterns, files that one of them
// matches (directories are always descended).
type Filter struct {
	Include, Exclude []Pattern
}

// SkipEntry reports whether the walker leaves out the child rel (whose
// ancestors it already let through). A left-out directory is not descended.
func (f *Filter) SkipEntry(rel string, isDir bool) bool {
	if matchAny(f.Exclude, rel) {
		return true
	}
	return !isDir && len(f.Include) > 0 && !matchAny(f.Include, rel)
}

// SkipPath reports whether rel is out of the monitored set, checking its
// ancestors too: used for baseline entries, which may predate the rules.
func (f *Filter) SkipPath(rel string, isDir bool) bool {
	if rel == "" {
		return false
	}
	if len(f.Exclude) > 0 {
		for i := 0; i < len(rel); i++ {
			if rel[i] == '/' && matchAny(f.Exclude, rel[:i]) {
				return true
			}
		}
	}
	return f.SkipEntry(rel, isDir)
}
