package integrity

import (
	"path"
	"strings"

	"github.com/propops/propsec/security"
)

// glob is a compiled pattern. See [Config.Include] for the syntax.
type glob struct {
	raw  string
	base bool     // no "/": matches the last element
	segs []string // otherwise: the elements, "**" for any number of them
}

func compileGlob(field, p string) (glob, error) {
	raw := p
	p = strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return glob{}, security.Invalidf(field, "empty pattern %q", raw)
	}
	g := glob{raw: raw}
	if !strings.Contains(p, "/") {
		g.base = true
		g.segs = []string{p}
	} else {
		g.segs = strings.Split(p, "/")
	}
	for _, s := range g.segs {
		if s == "" {
			return glob{}, security.Invalidf(field, "empty element in pattern %q", raw)
		}
		if _, err := path.Match(s, ""); err != nil {
			return glob{}, security.Invalidf(field, "bad pattern %q", raw)
		}
	}
	return g, nil
}

func compileGlobs(field string, ps []string) ([]glob, error) {
	out := make([]glob, 0, len(ps))
	for _, p := range ps {
		g, err := compileGlob(field, p)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// match reports whether rel, a slash-separated path relative to a root,
// matches g.
func (g *glob) match(rel string) bool {
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

func matchAny(gs []glob, rel string) bool {
	for i := range gs {
		if gs[i].match(rel) {
			return true
		}
	}
	return false
}

// filter decides which paths are monitored.
type filter struct {
	include, exclude []glob
}

// skipEntry reports whether the walker leaves out the child rel (whose
// ancestors it already let through). A left-out directory is not descended.
func (f *filter) skipEntry(rel string, isDir bool) bool {
	if matchAny(f.exclude, rel) {
		return true
	}
	return !isDir && len(f.include) > 0 && !matchAny(f.include, rel)
}

// skipPath reports whether rel is out of the monitored set, checking its
// ancestors too: used for baseline entries, which may predate the rules.
func (f *filter) skipPath(rel string, isDir bool) bool {
	if rel == "" {
		return false
	}
	if len(f.exclude) > 0 {
		for i := 0; i < len(rel); i++ {
			if rel[i] == '/' && matchAny(f.exclude, rel[:i]) {
				return true
			}
		}
	}
	return f.skipEntry(rel, isDir)
}
