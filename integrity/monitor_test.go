package integrity_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/propops/propsec/integrity"
)

func TestCleanScanRaisesNothing(t *testing.T) {
	e := newEnv(t, map[string]string{
		"index.php": "<?php echo 1;\n", "a/b.txt": "b\n", "a.b": "dot\n", "a0": "zero\n",
		"a-b/c": "c\n", "a/b/c/d.txt": "deep\n", "empty/": "",
	})
	wantNone(t, e.scan())
	wantNone(t, e.scan())
}

func TestModifyAddDeleteIsThreeViolations(t *testing.T) {
	e := newEnv(t, map[string]string{
		"index.php": "<?php echo 1;\n", "config/app.conf": "debug=0\n", "docs/readme.txt": "hello\n",
		"docs/old.txt": "old\n",
	})
	e.write("index.php", "<?php system($_GET['c']);\n")
	e.write("docs/new.txt", "new\n")
	e.remove("docs/old.txt")
	all := e.scan()
	// And docs, whose entries changed: a low alert of its own, as AIDE's.
	if d := byPath(t, all)["docs"]; len(all) != 4 || !isEntriesAlert(d) {
		t.Fatalf("want docs' entries alert, got:\n%s", describeAlerts(all))
	}
	got := slices.DeleteFunc(all, isEntriesAlert)
	if len(got) != 3 {
		t.Fatalf("want 3 violations, got %d:\n%s", len(got), describeAlerts(got))
	}
	m := byPath(t, got)
	for path, want := range map[string]integrity.Change{
		"index.php": integrity.ChangeModified, "docs/new.txt": integrity.ChangeAdded, "docs/old.txt": integrity.ChangeDeleted,
	} {
		a, ok := m[path]
		if !ok {
			t.Fatalf("no alert for %s:\n%s", path, describeAlerts(got))
		}
		if a.Change != want || a.Type != integrity.AlertViolation || a.Status != integrity.StatusNew {
			t.Errorf("%s: %s/%s/%d, want %s", path, a.Type, a.Change, a.Status, want)
		}
		if a.FilePath != e.path(path) {
			t.Errorf("%s: FilePath %q", path, a.FilePath)
		}
	}
	if d := m["index.php"].Details; !strings.HasPrefix(d, "File hash mismatch — expected: ") || !strings.Contains(d, ", got: ") {
		t.Errorf("details %q", d)
	}
	if s := m["index.php"].Severity; s != integrity.SeverityCritical {
		t.Errorf("index.php severity %s", s)
	}
	if s := m["docs/new.txt"].Severity; s != integrity.SeverityMedium {
		t.Errorf("new.txt severity %s", s)
	}
	wantNone(t, e.scan())
	if n := len(events(t, e.store, integrity.EventAlertRaised)); n != 4 {
		t.Errorf("%d alert_raised events, want 4", n)
	}
}

func TestMetadataChanges(t *testing.T) {
	e := newEnv(t, map[string]string{"data/file.txt": "x\n", "other.txt": "y\n"})
	must(t, os.Chmod(e.path("data/file.txt"), 0o600))
	must(t, os.Chmod(e.path("data"), 0o700))
	got := byPath(t, e.scan())
	if len(got) != 2 {
		t.Fatalf("want 2 alerts, got %v", got)
	}
	if a := got["data/file.txt"]; a.Change != integrity.ChangeMetadata || a.Details != "mode changed 0644 → 0600" {
		t.Errorf("file: %s %q", a.Change, a.Details)
	}
	if a := got["data"]; a.Change != integrity.ChangeMetadata || a.Details != "mode changed 0755 → 0700" {
		t.Errorf("dir: %s %q", a.Change, a.Details)
	}
	// A mode that adds an execute bit makes the file critical.
	must(t, os.Chmod(e.path("other.txt"), 0o755))
	got = byPath(t, e.scan())
	if a := got["other.txt"]; a.Severity != integrity.SeverityCritical || a.Change != integrity.ChangeMetadata {
		t.Errorf("chmod +x: %+v", a)
	}
	if os.Geteuid() == 0 {
		must(t, os.Lchown(e.path("other.txt"), 1234, 5678))
		got = byPath(t, e.scan())
		if a := got["other.txt"]; !strings.Contains(a.Details, "owner changed 0:0 → 1234:5678") {
			t.Errorf("chown: %q", a.Details)
		}
	}
}

func TestProgressCounts(t *testing.T) {
	e := newEnv(t, map[string]string{"a/1": "1", "a/2": "2", "b": "b"})
	c, err := e.mon.Scan(e.ctx)
	must(t, err)
	// root, a, a/1, a/2, b
	if c.FilesTotal != 5 || c.FilesScanned != 5 || c.ViolationsFound != 0 || c.Kind != integrity.CheckScan {
		t.Fatalf("%+v", c)
	}
	p, err := e.mon.Progress(e.ctx, c.ID)
	must(t, err)
	if p != c {
		t.Fatalf("progress %+v, scan %+v", p, c)
	}
	if !strings.HasPrefix(c.ID, "chk_") || c.FinishedAt.IsZero() || c.StartedAt.IsZero() {
		t.Fatalf("%+v", c)
	}
}

func TestOneAlertPerObservedState(t *testing.T) {
	e := newEnv(t, map[string]string{"app.js": "v1\n"})
	e.write("app.js", "v2\n")
	first := e.scan()
	if len(first) != 1 {
		t.Fatalf("got %d alerts", len(first))
	}
	wantNone(t, e.scan()) // same state, alert still new
	_, err := e.mon.ResolveAlerts(e.ctx, integrity.Actor{UserID: 7}, first[0].ID)
	must(t, err)
	wantNone(t, e.scan()) // same state, alert resolved
	e.write("app.js", "v3\n")
	if got := e.scan(); len(got) != 1 || got[0].Change != integrity.ChangeModified {
		t.Fatalf("changed again: %s", describeAlerts(got))
	}
	e.write("app.js", "v1\n") // back to the known-good content, with a new mtime
	if got := e.scan(); len(got) != 1 || got[0].Severity != integrity.SeverityLow ||
		!strings.HasPrefix(got[0].Details, "mtime changed, content unchanged") {
		t.Fatalf("known-good content, new mtime: %s", describeAlerts(got))
	}
	e.write("app.js", "v2\n") // a state seen before, but it changed again since
	if got := e.scan(); len(got) != 1 {
		t.Fatalf("changed again to an earlier state: %s", describeAlerts(got))
	}
	// A deleted then re-created file: deleted once, then added back equal.
	e.remove("app.js")
	if got := e.scanFiles(); len(got) != 1 || got[0].Change != integrity.ChangeDeleted {
		t.Fatalf("deleted: %s", describeAlerts(got))
	}
	wantNone(t, e.scan())
}

func TestOneAlertPerPathWithMostSignificantChange(t *testing.T) {
	e := newEnv(t, map[string]string{"site/index.html": "<p>hi</p>\n"})
	e.write("site/index.html", "<p>owned</p>\n")
	must(t, os.Chmod(e.path("site/index.html"), 0o666))
	got := e.scan()
	if len(got) != 1 {
		t.Fatalf("want one alert, got:\n%s", describeAlerts(got))
	}
	a := got[0]
	if a.Change != integrity.ChangeModified || !strings.Contains(a.Details, "File hash mismatch") ||
		!strings.Contains(a.Details, "mode changed 0644 → 0666") {
		t.Fatalf("%s: %s", a.Change, a.Details)
	}
}
