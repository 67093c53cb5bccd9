//go:build linux || darwin || freebsd || netbsd || openbsd

package integrity_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
)

func TestSymlinks(t *testing.T) {
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside\n"), 0o644))
	e := newEnv(t, map[string]string{"config.php": "<?php return [];\n", "lib/util.php": "<?php\n"})
	must(t, os.Symlink("lib/util.php", e.path("link.php")))
	must(t, os.Symlink(outside, e.path("escape")))
	e.cfg.Roots = []string{e.root}
	// The links were added after the baseline.
	got := byPath(t, e.scanFiles())
	if len(got) != 2 || got["link.php"].Change != integrity.ChangeAdded || got["escape"].Change != integrity.ChangeAdded {
		t.Fatalf("%v", describeAlerts(e.allAlerts()))
	}
	if !strings.Contains(got["escape"].Details, `symlink to "`+outside+`"`) {
		t.Errorf("details %q", got["escape"].Details)
	}
	// Nothing behind the directory symlink was walked.
	for _, a := range e.allAlerts() {
		if strings.Contains(a.Path, "secret") {
			t.Fatalf("walked outside the root: %s", a.Path)
		}
	}
	n := 0
	for entry, err := range e.store.Entries(e.ctx, e.root) {
		must(t, err)
		n++
		if strings.HasPrefix(entry.Path, "escape/") {
			t.Fatalf("baseline has %s", entry.Path)
		}
	}
	if n != 4 { // root, config.php, lib, lib/util.php
		t.Fatalf("%d entries", n)
	}

	// A file swapped for a symlink to a sensitive file.
	e.remove("config.php")
	must(t, os.Symlink("/etc/passwd", e.path("config.php")))
	// A symlink retargeted.
	e.remove("link.php")
	must(t, os.Symlink("/etc/shadow", e.path("link.php")))
	got = byPath(t, e.scan())
	if a := got["config.php"]; a.Change != integrity.ChangeModified || !strings.Contains(a.Details, "type changed file → symlink") ||
		!strings.Contains(a.Details, `"/etc/passwd"`) {
		t.Errorf("swap: %s %q", a.Change, a.Details)
	}
	// link.php was never accepted into the baseline: its alert stands as
	// "added", in a new state.
	if a := got["link.php"]; a.Change != integrity.ChangeAdded || !strings.Contains(a.Details, "/etc/shadow") {
		t.Errorf("retarget: %s %q", a.Change, a.Details)
	}
}

func TestSymlinkRetargetAndDirectorySwap(t *testing.T) {
	e := newEnv(t, map[string]string{"current/app.py": "print(1)\n", "v2/app.py": "print(2)\n"}, func(c *integrity.Config) {})
	must(t, os.Symlink("v1", e.path("live")))
	e.remove("current")
	must(t, os.Symlink(t.TempDir(), e.path("current"))) // a directory replaced by a symlink to elsewhere
	got := byPath(t, e.scanFiles())
	if a := got["current"]; a.Change != integrity.ChangeModified || !strings.Contains(a.Details, "type changed dir → symlink") {
		t.Errorf("current: %+v", a)
	}
	if a := got["current/app.py"]; a.Change != integrity.ChangeDeleted {
		t.Errorf("current/app.py: %+v", a)
	}
	if len(got) != 3 { // current, current/app.py, live
		t.Errorf("%s", describeAlerts(e.allAlerts()))
	}
}

// A symlink in the baseline whose target changes is one modified alert
// naming both targets, once.
func TestBaselinedSymlinkRetargeted(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"v1", "v2"} {
		must(t, os.Mkdir(filepath.Join(root, v), 0o755))
		must(t, os.WriteFile(filepath.Join(root, v, "app.py"), []byte("print(\""+v+"\")\n"), 0o644))
	}
	must(t, os.Symlink("v1", filepath.Join(root, "live")))
	e := newEnvAt(t, root)
	entry, err := e.store.Entry(e.ctx, integrity.Key{Root: root, Path: "live"})
	must(t, err)
	if entry.Type != integrity.TypeSymlink || entry.Target != "v1" || !entry.Hash.IsZero() {
		t.Fatalf("baseline: %+v", entry)
	}
	wantNone(t, e.scan())

	e.remove("live")
	must(t, os.Symlink("v2", e.path("live")))
	got := e.scanFiles()
	if len(got) != 1 {
		t.Fatalf("want one alert, got:\n%s", describeAlerts(got))
	}
	a := got[0]
	if a.Path != "live" || a.Type != integrity.AlertViolation || a.Change != integrity.ChangeModified ||
		a.Details != `symlink target changed "v1" → "v2"` {
		t.Fatalf("%s", describeAlerts(got))
	}
	wantNone(t, e.scan()) // the same state raises nothing new
}

func TestFIFOIsRecordedNeverOpened(t *testing.T) {
	root := t.TempDir()
	must(t, syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "f.txt"), []byte("f\n"), 0o644))
	e := newEnvAt(t, root)
	entry, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: "pipe"})
	must(t, err)
	if entry.Type != integrity.TypeFIFO || !entry.Hash.IsZero() {
		t.Fatalf("%+v", entry)
	}
	// A scan with a FIFO that nobody writes to must not block.
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	c, err := e.mon.Scan(ctx)
	must(t, err)
	if c.ViolationsFound != 0 {
		t.Fatalf("%s", describeAlerts(e.allAlerts()))
	}
	// Another FIFO appears; the old one becomes a regular file.
	must(t, syscall.Mkfifo(e.path("new-pipe"), 0o600))
	e.remove("pipe")
	e.write("pipe", "now a file\n")
	got := byPath(t, e.scan())
	if a := got["new-pipe"]; a.Change != integrity.ChangeAdded || !strings.HasPrefix(a.Details, "new fifo") {
		t.Errorf("new-pipe: %+v", a)
	}
	if a := got["pipe"]; a.Change != integrity.ChangeModified || !strings.Contains(a.Details, "type changed fifo → file") {
		t.Errorf("pipe: %+v", a)
	}
}

// newEnvAt is newEnv on an existing root.
func newEnvAt(t *testing.T, root string, mod ...func(*integrity.Config)) *env {
	t.Helper()
	e := newEnv(t, nil, append([]func(*integrity.Config){func(c *integrity.Config) { c.Roots = []string{root} }}, mod...)...)
	e.root = root
	return e
}

func TestFileRewrittenDuringScan(t *testing.T) {
	e := newEnv(t, map[string]string{"busy.log.txt": "line 1\n", "calm.txt": "calm\n"})
	target := e.path("busy.log.txt")
	var passes []int
	rewrites, n := 1, 0
	integrity.SetReadHook(e.mon, func(path string, pass int) {
		if path != target {
			return
		}
		passes = append(passes, pass)
		if rewrites > 0 {
			rewrites--
			n++
			must(t, os.WriteFile(target, []byte(strings.Repeat("rewritten\n", n)), 0o644))
		}
	})
	got := e.scan()
	if len(got) != 1 || !strings.Contains(got[0].Details, "changed while it was read and was read again") {
		t.Fatalf("passes %v: %s", passes, describeAlerts(got))
	}
	if len(passes) != 2 {
		t.Fatalf("passes %v", passes)
	}
	// The hash recorded is the second read's: the file is stable now, and
	// that state was alerted on.
	passes, rewrites = nil, 10
	e.write("busy.log.txt", "line 3\n")
	got = e.scan()
	if len(got) != 1 || !strings.Contains(got[0].Details, "still changing while it was read") {
		t.Fatalf("passes %v: %s", passes, describeAlerts(got))
	}
	if len(passes) != 2 {
		t.Fatalf("read %d times, want 2", len(passes))
	}
}

func TestSocketsAndDevices(t *testing.T) {
	root := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(root, "app.sock"))
	must(t, err)
	defer l.Close()
	devices := os.Geteuid() == 0 // mknod needs CAP_MKNOD
	if devices {
		// The null device, under another name. Reading it would hash
		// nothing; reading zero (below) would never end before the cap.
		devices = syscall.Mknod(filepath.Join(root, "nul"), syscall.S_IFCHR|0o666, 1<<8|3) == nil
	}
	e := newEnvAt(t, root, func(c *integrity.Config) { c.MaxHashBytes = 1 << 40 })
	sock, err := e.store.Entry(e.ctx, integrity.Key{Root: root, Path: "app.sock"})
	must(t, err)
	if sock.Type != integrity.TypeSocket {
		t.Fatalf("%+v", sock)
	}
	wantNone(t, e.scan())
	if !devices {
		t.Log("no device files: mknod not permitted")
		return
	}
	nul, err := e.store.Entry(e.ctx, integrity.Key{Root: root, Path: "nul"})
	must(t, err)
	if nul.Type != integrity.TypeCharDevice || nul.Device != 1<<8|3 || !nul.Hash.IsZero() {
		t.Fatalf("%+v", nul)
	}
	e.remove("nul")
	must(t, syscall.Mknod(e.path("nul"), syscall.S_IFCHR|0o666, 1<<8|5)) // now the zero device
	got := e.scanFiles()
	if len(got) != 1 || got[0].Change != integrity.ChangeModified || !strings.Contains(got[0].Details, "device number changed 0x103 → 0x105") {
		t.Fatalf("%s", describeAlerts(got))
	}
}
