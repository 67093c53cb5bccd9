//go:build linux || darwin || freebsd || netbsd || openbsd

package integrity_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/propops/propsec/integrity"
)

// TestUnreadable needs permission checks, which root bypasses. Run as root,
// it runs itself again in a child process as the user nobody (uid 65534),
// from a copy of the test binary that nobody can execute: the files are
// then really unreadable, no fault injection.
func TestUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		rerunAsNobody(t)
		return
	}
	e := newEnv(t, map[string]string{"secret.conf": "password=1\n", "locked/a.txt": "a\n", "locked/b.txt": "b\n",
		"open.txt": "open\n"})

	// A file whose read permission is removed: its mode change is the
	// alert, which says the content could not be checked. Not a deletion.
	must(t, os.Chmod(e.path("secret.conf"), 0o000))
	// A directory that can no longer be listed: its entries are not
	// considered deleted.
	must(t, os.Chmod(e.path("locked"), 0o300))
	t.Cleanup(func() { os.Chmod(e.path("locked"), 0o755) })
	got := byPath(t, e.scan())
	if len(got) != 2 {
		t.Fatalf("want 2 alerts:\n%s", describeAlerts(e.allAlerts()))
	}
	if a := got["secret.conf"]; a.Type != integrity.AlertViolation || a.Change != integrity.ChangeMetadata ||
		a.Details != "mode changed 0644 → 0000; content not checked: permission denied" {
		t.Errorf("secret.conf: %s/%s %q", a.Type, a.Change, a.Details)
	}
	if a := got["locked"]; a.Change != integrity.ChangeMetadata ||
		a.Details != "mode changed 0755 → 0300; entries not listed: permission denied" {
		t.Errorf("locked: %s/%s %q", a.Type, a.Change, a.Details)
	}
	wantNone(t, e.scan())

	// Paths unreadable when the baseline is recorded raise file_unreadable.
	e2 := newEnv(t, map[string]string{"hidden.txt": "h\n", "closed/x.txt": "x\n", "fine.txt": "f\n"})
	must(t, os.Chmod(e2.path("hidden.txt"), 0o200))
	must(t, os.Chmod(e2.path("closed"), 0o311))
	t.Cleanup(func() { os.Chmod(e2.path("closed"), 0o755) })
	e3 := newEnvAt(t, e2.root) // a new baseline, recorded now
	got = byPath(t, e3.scan())
	if len(got) != 2 {
		t.Fatalf("want 2 alerts:\n%s", describeAlerts(e3.allAlerts()))
	}
	if a := got["hidden.txt"]; a.Type != integrity.AlertUnreadable || a.Details != "cannot read: permission denied" {
		t.Errorf("hidden.txt: %s %q", a.Type, a.Details)
	}
	if a := got["closed"]; a.Type != integrity.AlertUnreadable || a.Details != "cannot list entries: permission denied" {
		t.Errorf("closed: %s %q", a.Type, a.Details)
	}
	wantNone(t, e3.scan())
	// Readable again: the mode change is reported, the content now known.
	must(t, os.Chmod(e2.path("hidden.txt"), 0o644))
	must(t, os.Chmod(e2.path("closed"), 0o755))
	got = byPath(t, e3.scan())
	if a := got["closed/x.txt"]; a.Change != integrity.ChangeAdded {
		t.Errorf("closed/x.txt: %+v", a)
	}
	if a := got["hidden.txt"]; a.Change != integrity.ChangeMetadata {
		t.Errorf("hidden.txt: %+v", a)
	}
}

func rerunAsNobody(t *testing.T) {
	exe, err := os.Executable()
	must(t, err)
	dir, err := os.MkdirTemp("", "propsec-nobody-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "integrity.test")
	src, err := os.Open(exe)
	must(t, err)
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	must(t, err)
	_, err = io.Copy(dst, src)
	src.Close()
	must(t, dst.Close())
	must(t, err)
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "TMPDIR="+os.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(err.Error(), "operation not permitted") {
		t.Skipf("cannot run as nobody: %v", err)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	t.Logf("ran as uid 65534:\n%s", out)
}
