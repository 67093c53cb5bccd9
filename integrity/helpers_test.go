package integrity_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	t     *testing.T
	ctx   context.Context
	root  string
	store *memstore.Store
	clock *fakeclock.Clock
	mon   *integrity.Monitor
	cfg   integrity.Config
}

// newEnv makes a tree from files (path → content; a path ending in "/" is a
// directory) under a temporary root, and a Monitor with its baseline.
func newEnv(t *testing.T, files map[string]string, mod ...func(*integrity.Config)) *env {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), root: t.TempDir(), store: memstore.New(),
		clock: fakeclock.New(time.Date(2024, 6, 14, 3, 0, 0, 0, time.UTC))}
	for p, c := range files {
		if strings.HasSuffix(p, "/") {
			e.mkdir(p)
		} else {
			e.write(p, c)
		}
	}
	e.cfg = integrity.Config{Store: e.store, Key: testKey, Roots: []string{e.root}, Clock: e.clock, Workers: 2}
	for _, f := range mod {
		f(&e.cfg)
	}
	e.open()
	if _, err := e.mon.Init(e.ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return e
}

// open (re)creates the Monitor from e.cfg, closing the previous one.
func (e *env) open() {
	e.t.Helper()
	if e.mon != nil {
		e.mon.Close()
	}
	m, err := integrity.New(e.cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.mon = m
	e.t.Cleanup(func() { m.Close() })
}

func (e *env) path(rel string) string { return filepath.Join(e.root, filepath.FromSlash(rel)) }

func (e *env) write(rel, content string) {
	e.t.Helper()
	p := e.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mkdir(rel string) {
	e.t.Helper()
	if err := os.MkdirAll(e.path(rel), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) remove(rel string) {
	e.t.Helper()
	if err := os.RemoveAll(e.path(rel)); err != nil {
		e.t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// scan runs a scan and returns the alerts it raised.
func (e *env) scan() []integrity.Alert {
	e.t.Helper()
	e.clock.Advance(time.Minute)
	c, err := e.mon.Scan(e.ctx)
	if err != nil {
		e.t.Fatalf("Scan: %v", err)
	}
	if c.Status != integrity.CheckComplete {
		e.t.Fatalf("scan status %s: %s", c.Status, c.Error)
	}
	var out []integrity.Alert
	for _, a := range e.allAlerts() {
		if a.CheckID == c.ID {
			out = append(out, a)
		}
	}
	if int64(len(out)) != c.ViolationsFound {
		e.t.Fatalf("check reports %d violations, %d alerts carry its id", c.ViolationsFound, len(out))
	}
	return out
}

// allAlerts returns every alert, oldest first.
func (e *env) allAlerts() []integrity.Alert {
	e.t.Helper()
	var out []integrity.Alert
	for page := 1; ; page++ {
		as, total, err := e.mon.Alerts(e.ctx, integrity.ListOptions{Sort: integrity.SortCreatedAsc, Page: page, Limit: 100})
		must(e.t, err)
		out = append(out, as...)
		if len(out) >= total || len(as) == 0 {
			return out
		}
	}
}

// latestByPath indexes alerts, oldest first, by their relative path,
// keeping the newest of each path. Real-time detection raises one alert per
// state a path goes through: when a change is seen in two debounce batches
// (a directory losing its entries, then deleted; more likely on a loaded
// machine), the path has two alerts, and the last says where it ended.
func latestByPath(as []integrity.Alert) map[string]integrity.Alert {
	m := map[string]integrity.Alert{}
	for _, a := range as {
		m[a.Path] = a
	}
	return m
}

// byPath indexes alerts by their relative path, failing on duplicates.
func byPath(t *testing.T, as []integrity.Alert) map[string]integrity.Alert {
	t.Helper()
	m := map[string]integrity.Alert{}
	for _, a := range as {
		if _, dup := m[a.Path]; dup {
			t.Fatalf("two alerts for %q in one scan", a.Path)
		}
		m[a.Path] = a
	}
	return m
}

func describeAlerts(as []integrity.Alert) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Path+" "+string(a.Type)+"/"+string(a.Change)+"/"+string(a.Severity)+": "+a.Details)
	}
	return strings.Join(s, "\n")
}

func wantNone(t *testing.T, as []integrity.Alert) {
	t.Helper()
	if len(as) != 0 {
		t.Fatalf("want no alerts, got %d:\n%s", len(as), describeAlerts(as))
	}
}

func events(t *testing.T, s *memstore.Store, typ security.EventType) []security.Event {
	t.Helper()
	all, err := s.Events(t.Context())
	must(t, err)
	return slices.DeleteFunc(all, func(e security.Event) bool { return e.Type != typ })
}

func isErr(err, target error) bool { return errors.Is(err, target) }

func asErr(err error, target any) bool { return errors.As(err, target) }

// scanFiles runs a scan and returns its alerts but those of directories
// whose entries were added, removed or renamed (a low metadata alert of
// their own, checked here).
func (e *env) scanFiles() []integrity.Alert {
	e.t.Helper()
	var out []integrity.Alert
	for _, a := range e.scan() {
		if !isEntriesAlert(a) {
			out = append(out, a)
		}
	}
	return out
}

// isEntriesAlert reports whether a is the alert of a directory whose
// entries changed and nothing else.
func isEntriesAlert(a integrity.Alert) bool {
	d := a.Details
	if strings.HasPrefix(d, "links ") {
		_, d, _ = strings.Cut(d, "; ")
	}
	return a.Change == integrity.ChangeMetadata && a.Severity == integrity.SeverityLow &&
		strings.HasPrefix(d, "entries added, removed or renamed (mtime ") && !strings.Contains(d, ";")
}
