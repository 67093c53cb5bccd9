package integrity_test

import (
	"os"
	"strings"
	"testing"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

func TestDefaultSeverities(t *testing.T) {
	files := map[string]string{}
	want := map[string]integrity.Severity{
		"web/index.php": "critical", "web/app.js": "critical", "bin/deploy.sh": "critical", "tool.py": "critical",
		"web/shell.phtml": "critical", "bin/server": "critical",
		"nginx.conf": "high", ".env": "high", "web/.htaccess": "high", "config/app.yml": "high", "package.json": "high",
		"readme.txt": "medium", "img/logo.png": "medium",
	}
	for p := range want {
		files[p] = "v1\n"
	}
	e := newEnv(t, files)
	must(t, os.Chmod(e.path("bin/server"), 0o755))
	for p := range want {
		e.write(p, "v2\n")
	}
	got := byPath(t, e.scan())
	for p, s := range want {
		if got[p].Severity != s {
			t.Errorf("%s: %s, want %s", p, got[p].Severity, s)
		}
	}
}

func TestSeverityRules(t *testing.T) {
	e := newEnv(t, map[string]string{"uploads/x.php": "a", "app.php": "a", "notes.md": "a", "run": "a"}, func(c *integrity.Config) {
		c.SeverityRules = []integrity.SeverityRule{
			{Pattern: "uploads/**", Severity: integrity.SeverityLow},
			{Pattern: "*.php", Severity: integrity.SeverityCritical},
			{Executable: true, Pattern: "run", Severity: integrity.SeverityHigh},
		}
		c.DefaultSeverity = integrity.SeverityMedium
	})
	for _, p := range []string{"uploads/x.php", "app.php", "notes.md", "run"} {
		e.write(p, "b")
	}
	got := byPath(t, e.scan())
	for p, s := range map[string]integrity.Severity{"uploads/x.php": "low", "app.php": "critical", "notes.md": "medium", "run": "medium"} {
		if got[p].Severity != s {
			t.Errorf("%s: %s, want %s", p, got[p].Severity, s)
		}
	}
	must(t, os.Chmod(e.path("run"), 0o700))
	if got := byPath(t, e.scan()); got["run"].Severity != integrity.SeverityHigh {
		t.Errorf("run +x: %s", got["run"].Severity)
	}
}

func TestIncludeExclude(t *testing.T) {
	e := newEnv(t, map[string]string{"app.php": "a", "cache/x.php": "c", "logs/a.log": "l", "src/node_modules/m.js": "m",
		"src/main.js": "s", "notes.txt": "n"}, func(c *integrity.Config) {
		c.Exclude = []string{"cache", "*.log", "**/node_modules"}
		c.Include = []string{"*.php", "*.js"}
	})
	for entry, err := range e.store.Entries(e.ctx, e.root) {
		must(t, err)
		switch entry.Path {
		case "", "app.php", "logs", "src", "src/main.js":
		default:
			t.Errorf("recorded %q", entry.Path)
		}
	}
	for _, p := range []string{"cache/x.php", "logs/a.log", "src/node_modules/m.js", "notes.txt"} {
		e.write(p, "changed")
	}
	e.write("cache/new.php", "n")
	wantNone(t, e.scan())
	// Excluding a path that is in the baseline does not report it deleted.
	e.cfg.Exclude = append(e.cfg.Exclude, "src")
	e.open()
	wantNone(t, e.scan())
}

func TestWalkOrderMatchesBaselineOrder(t *testing.T) {
	// Names where WalkDir's order differs from byte order of full paths.
	files := map[string]string{}
	for _, p := range []string{"a", "a.b", "a-b/c", "a0", "a!x/y", "A/b", "ä/x", "a b/c", "a/b.c", "a/b-c/d",
		"a/b/c.d", "a/b/c/d", "z/a.b/c", "z/a/b", "z/a0", "\x01odd", "~tilde", "bad\xffname/x"} {
		files[p] = p
	}
	delete(files, "a") // "a" is a directory here
	e := newEnv(t, files)
	var prev string
	n := 0
	for entry, err := range e.store.Entries(e.ctx, e.root) {
		must(t, err)
		if n > 0 && entry.Path <= prev {
			t.Fatalf("%q after %q", entry.Path, prev)
		}
		prev = entry.Path
		n++
	}
	wantNone(t, e.scan())
	e.write("a/b.c", "changed")
	e.remove("z/a")
	got := byPath(t, e.scanFiles())
	if len(got) != 3 || got["a/b.c"].Change != integrity.ChangeModified || got["z/a"].Change != integrity.ChangeDeleted ||
		got["z/a/b"].Change != integrity.ChangeDeleted {
		t.Fatalf("%s", describeAlerts(e.allAlerts()))
	}
}

func TestAlertLifecycle(t *testing.T) {
	e := newEnv(t, map[string]string{"a.php": "1", "b.conf": "1", "c.txt": "1", "d.txt": "1"})
	for _, p := range []string{"a.php", "b.conf", "c.txt", "d.txt"} {
		e.write(p, "2")
	}
	got := e.scan()
	if len(got) != 4 {
		t.Fatal(describeAlerts(got))
	}
	ids := map[string]int64{}
	for _, a := range got {
		ids[a.Path] = a.ID
	}
	list := func(o integrity.ListOptions) ([]string, int) {
		t.Helper()
		as, total, err := e.mon.Alerts(e.ctx, o)
		must(t, err)
		var ps []string
		for _, a := range as {
			ps = append(ps, a.Path)
		}
		return ps, total
	}
	ps, total := list(integrity.ListOptions{Sort: integrity.SortSeverityDesc})
	if total != 4 || ps[0] != "a.php" || ps[1] != "b.conf" {
		t.Fatalf("%v %d", ps, total)
	}
	ps, _ = list(integrity.ListOptions{Severity: integrity.SeverityMedium, Limit: 1, Page: 2})
	if len(ps) != 1 {
		t.Fatalf("%v", ps)
	}
	actor := integrity.Actor{UserID: 9, SessionID: "sess_x", IP: "198.51.100.1"}
	n, err := e.mon.ResolveAlerts(e.ctx, actor, ids["a.php"], ids["b.conf"], ids["a.php"])
	must(t, err)
	if n != 2 {
		t.Fatalf("resolved %d", n)
	}
	resolved := integrity.StatusResolved
	if ps, total = list(integrity.ListOptions{Status: &resolved}); total != 2 {
		t.Fatalf("%v", ps)
	}
	// An unknown id changes nothing.
	_, err = e.mon.IgnoreAlerts(e.ctx, actor, ids["c.txt"], 999)
	var unk *integrity.UnknownAlertsError
	if !isErr(err, security.ErrNotFound) || !asErr(err, &unk) || len(unk.IDs) != 1 || unk.IDs[0] != 999 {
		t.Fatalf("%v", err)
	}
	if a, _ := e.mon.Alert(e.ctx, ids["c.txt"]); a.Status != integrity.StatusNew {
		t.Fatalf("%+v", a)
	}
	n, err = e.mon.DeleteAlerts(e.ctx, actor, ids["c.txt"], ids["d.txt"])
	must(t, err)
	if n != 2 {
		t.Fatal(n)
	}
	if _, total = list(integrity.ListOptions{}); total != 2 {
		t.Fatal(total)
	}
	if evs := events(t, e.store, integrity.EventAlertResolved); len(evs) != 2 || evs[0].ActorSessionID != "sess_x" {
		t.Fatalf("%+v", evs)
	}
	if evs := events(t, e.store, integrity.EventAlertDeleted); len(evs) != 2 {
		t.Fatalf("%+v", evs)
	}
	// Deleting an alert does not accept the change: no new alert for it.
	wantNone(t, e.scan())

	bad := integrity.Status(3)
	for name, o := range map[string]integrity.ListOptions{
		"status": {Status: &bad}, "severity": {Severity: "urgent"}, "sort": {Sort: "name"},
		"page": {Page: -1}, "limit": {Limit: 101}, "negative limit": {Limit: -5},
	} {
		if _, _, err := e.mon.Alerts(e.ctx, o); !isErr(err, security.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := e.mon.ResolveAlerts(e.ctx, actor); !isErr(err, security.ErrInvalid) {
		t.Errorf("no ids: %v", err)
	}
	if _, err := e.mon.ResolveAlerts(e.ctx, actor, make([]int64, 1001)...); !isErr(err, security.ErrInvalid) {
		t.Errorf("too many ids: %v", err)
	}
	if _, err := e.mon.DeleteAlerts(e.ctx, actor, 0); !isErr(err, security.ErrInvalid) {
		t.Errorf("zero id: %v", err)
	}
}

func TestAcceptAlert(t *testing.T) {
	e := newEnv(t, map[string]string{"a.txt": "a\n", "gone.txt": "g\n"})
	e.write("a.txt", "a2\n")
	e.write("new.txt", "n\n")
	e.remove("gone.txt")
	got := byPath(t, e.scan())
	actor := integrity.Actor{UserID: 3}
	for _, p := range []string{"a.txt", "new.txt", "gone.txt"} {
		must(t, e.mon.AcceptAlert(e.ctx, actor, got[p].ID))
		a, err := e.mon.Alert(e.ctx, got[p].ID)
		must(t, err)
		if a.Status != integrity.StatusResolved {
			t.Fatalf("%s: %+v", p, a)
		}
	}
	wantNone(t, e.scan())
	if _, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: "gone.txt"}); !isErr(err, security.ErrNotFound) {
		t.Fatalf("gone.txt still in the baseline: %v", err)
	}
	d, err := e.mon.Diff(e.ctx, got["a.txt"].ID)
	must(t, err)
	if d.Text != "" {
		t.Fatalf("diff after accepting: %q", d.Text)
	}
	if evs := events(t, e.store, integrity.EventAlertAccepted); len(evs) != 3 || evs[0].ActorUserID != 3 {
		t.Fatalf("%+v", evs)
	}
	// A file that changed again since its alert cannot be accepted blindly.
	e.write("a.txt", "a3\n")
	a := e.scan()[0]
	e.write("a.txt", "a4\n")
	if err := e.mon.AcceptAlert(e.ctx, actor, a.ID); !isErr(err, security.ErrConflict) {
		t.Fatalf("accept stale: %v", err)
	}
	if err := e.mon.AcceptAlert(e.ctx, actor, 12345); !isErr(err, security.ErrNotFound) {
		t.Fatalf("accept unknown: %v", err)
	}
}

func TestDiffs(t *testing.T) {
	text := strings.Repeat("line\n", 10)
	e := newEnv(t, map[string]string{"app.txt": text, "old.txt": "one\ntwo\n", "bin.dat": "\x00\x01\x02", "big.txt": strings.Repeat("x", 100)},
		func(c *integrity.Config) { c.MaxDiffBytes = 64 })
	e.write("app.txt", strings.Replace(text, "line\n", "changed\nadded\n", 1))
	e.remove("old.txt")
	e.write("new.txt", "a\nb\nc")
	e.write("bin.dat", "\x00\x01\x03")
	e.write("big.txt", strings.Repeat("y", 100))
	got := byPath(t, e.scan())
	diff := func(p string) integrity.Diff {
		t.Helper()
		d, err := e.mon.Diff(e.ctx, got[p].ID)
		must(t, err)
		if d.FilePath != e.path(p) || d.AlertID != got[p].ID {
			t.Fatalf("%+v", d)
		}
		return d
	}
	d := diff("app.txt")
	want := "--- a/app.txt\n+++ b/app.txt\n@@ -1,4 +1,5 @@\n-line\n+changed\n+added\n line\n line\n line\n"
	if d.Text != want || d.LinesAdded != 2 || d.LinesRemoved != 1 {
		t.Errorf("modified: %+v\n%s", d, d.Text)
	}
	if d := diff("old.txt"); d.Text != "--- a/old.txt\n+++ b/old.txt\n@@ -1,2 +0,0 @@\n-one\n-two\n" || d.LinesRemoved != 2 || d.LinesAdded != 0 {
		t.Errorf("deleted: %+v", d)
	}
	if d := diff("new.txt"); d.Text != "--- a/new.txt\n+++ b/new.txt\n@@ -0,0 +1,3 @@\n+a\n+b\n+c\n\\ No newline at end of file\n" || d.LinesAdded != 3 {
		t.Errorf("added: %+v", d)
	}
	if d := diff("bin.dat"); !d.Binary || d.Text != "Binary files differ" {
		t.Errorf("binary: %+v", d)
	}
	if d := diff("big.txt"); !d.TooLarge || d.Text != "not diffed: over 64 bytes" {
		t.Errorf("too large: %+v", d)
	}
	if _, err := e.mon.Diff(e.ctx, 999); !isErr(err, security.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
}
