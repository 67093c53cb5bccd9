//go:build linux || darwin || freebsd || netbsd || openbsd

package integrity_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
)

// swapOnce returns an open hook that runs swap[path] the first time the
// Monitor is about to open path: the path was listed (or fstatat'ed) as
// what it was, and is something else when it is opened.
func swapOnce(t *testing.T, swap map[string]func()) func(string) {
	var mu sync.Mutex
	done := map[string]bool{}
	return func(path string) {
		mu.Lock()
		defer mu.Unlock()
		if f := swap[path]; f != nil && !done[path] {
			done[path] = true
			f()
		}
	}
}

// rebaseline records a new baseline of e's tree in an empty store, with
// the open hook hook in place during the walk.
func (e *env) rebaseline(hook func(string)) {
	e.t.Helper()
	e.store = memstore.New()
	e.cfg.Store = e.store
	e.open()
	integrity.SetOpenHook(e.mon, hook)
	if _, err := e.mon.Init(e.ctx); err != nil {
		e.t.Fatalf("Init: %v", err)
	}
}

// A file or directory swapped for a symlink to outside the root between the
// listing and the open is recorded as the symlink and never followed
// (fsmeta's openFile O_NOFOLLOW and dirFlags O_NOFOLLOW).
func TestSwappedForSymlinkBeforeOpen(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	must(t, os.WriteFile(secret, []byte("outside\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(outside, "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "dir", "planted.php"), []byte("<?php evil();\n"), 0o644))
	files := map[string]string{"f.txt": "inside\n", "sub/a.txt": "a\n"}
	hook := func(e *env) func(string) {
		return swapOnce(t, map[string]func(){
			e.path("f.txt"): func() {
				e.remove("f.txt")
				must(t, os.Symlink(secret, e.path("f.txt")))
			},
			e.path("sub"): func() {
				e.remove("sub")
				must(t, os.Symlink(filepath.Join(outside, "dir"), e.path("sub")))
			},
		})
	}
	noOutside := func(t *testing.T, s string) {
		t.Helper()
		if strings.Contains(s, "planted") {
			t.Fatalf("followed a symlink out of the root: %s", s)
		}
	}

	t.Run("scan", func(t *testing.T) {
		e := newEnv(t, files)
		integrity.SetOpenHook(e.mon, hook(e))
		got := byPath(t, e.scanFiles())
		noOutside(t, describeAlerts(e.allAlerts()))
		if a := got["f.txt"]; a.Change != integrity.ChangeModified || a.Details != `type changed file → symlink (pointing to "`+secret+`")` {
			t.Errorf("f.txt: %s %q", a.Change, a.Details)
		}
		if a := got["sub"]; a.Change != integrity.ChangeModified || !strings.HasPrefix(a.Details, "type changed dir → symlink") {
			t.Errorf("sub: %s %q", a.Change, a.Details)
		}
		if a := got["sub/a.txt"]; a.Change != integrity.ChangeDeleted {
			t.Errorf("sub/a.txt: %s %q", a.Change, a.Details)
		}
		if len(got) != 3 {
			t.Errorf("want 3 alerts:\n%s", describeAlerts(e.allAlerts()))
		}
	})

	t.Run("baseline", func(t *testing.T) {
		e := newEnv(t, files)
		e.rebaseline(hook(e))
		var paths []string
		for entry, err := range e.store.Entries(e.ctx, e.root) {
			must(t, err)
			paths = append(paths, entry.Path)
			switch entry.Path {
			case "f.txt":
				if entry.Type != integrity.TypeSymlink || entry.Target != secret || !entry.Hash.IsZero() {
					t.Errorf("f.txt: %+v", entry)
				}
			case "sub":
				if entry.Type != integrity.TypeSymlink {
					t.Errorf("sub: %+v", entry)
				}
			}
		}
		if strings.Join(paths, ",") != ",f.txt,sub" {
			t.Fatalf("baseline holds %q", paths)
		}
		wantNone(t, e.scanFiles()) // the root was recorded before the swaps
	})
}

// scanOrUnblock runs scan, and if it has not returned within a while,
// opens the FIFO at fifo for writing, which ends an open blocked on it,
// and fails the test.
func scanOrUnblock(t *testing.T, fifo string, scan func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		scan()
	}()
	select {
	case <-done:
		return
	case <-time.After(10 * time.Second):
	}
	if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		w.Close()
	}
	<-done
	t.Fatal("blocked opening a FIFO swapped in for a file")
}

// A file swapped for a FIFO between the listing (or the fstatat) and the
// open is recorded as a FIFO, and opening it does not block
// (fsmeta's openFile O_NONBLOCK).
func TestSwappedForFIFOBeforeOpen(t *testing.T) {
	toFIFO := func(e *env, rel string) func() {
		return func() {
			e.remove(rel)
			must(t, syscall.Mkfifo(e.path(rel), 0o644))
		}
	}

	t.Run("scan", func(t *testing.T) {
		e := newEnv(t, map[string]string{"f.txt": "f\n", "g.txt": "g\n"})
		integrity.SetOpenHook(e.mon, swapOnce(t, map[string]func(){e.path("f.txt"): toFIFO(e, "f.txt")}))
		var got []integrity.Alert
		scanOrUnblock(t, e.path("f.txt"), func() { got = e.scanFiles() })
		if len(got) != 1 || got[0].Path != "f.txt" || got[0].Change != integrity.ChangeModified ||
			got[0].Details != "type changed file → fifo" {
			t.Fatalf("%s", describeAlerts(got))
		}
	})

	t.Run("baseline", func(t *testing.T) {
		e := newEnv(t, map[string]string{"f.txt": "f\n"})
		scanOrUnblock(t, e.path("f.txt"), func() {
			e.rebaseline(swapOnce(t, map[string]func(){e.path("f.txt"): toFIFO(e, "f.txt")}))
		})
		entry, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: "f.txt"})
		must(t, err)
		if entry.Type != integrity.TypeFIFO || !entry.Hash.IsZero() || entry.ContentKept {
			t.Fatalf("%+v", entry)
		}
	})

	t.Run("diff", func(t *testing.T) {
		// Diff examines the path with fstatat, then opens it.
		e := newEnv(t, map[string]string{"f.txt": "f\n"})
		e.write("f.txt", "f2\n")
		a := e.scan()[0]
		integrity.SetOpenHook(e.mon, swapOnce(t, map[string]func(){e.path("f.txt"): toFIFO(e, "f.txt")}))
		var d integrity.Diff
		scanOrUnblock(t, e.path("f.txt"), func() {
			var err error
			d, err = e.mon.Diff(e.ctx, a.ID)
			must(t, err)
		})
		if d.Text != "not diffed: the path is now a fifo, not a regular file" {
			t.Fatalf("%+v", d)
		}
	})
}

// A root that is itself a symlink is recorded as a symlink and not
// descended (as [integrity.Config.Roots] says): its target is outside the
// tree the Monitor was given. Retargeting it is one modified alert.
func TestRootIsSymlink(t *testing.T) {
	target := t.TempDir()
	must(t, os.WriteFile(filepath.Join(target, "app.php"), []byte("<?php\n"), 0o644))
	link := filepath.Join(t.TempDir(), "current")
	must(t, os.Symlink(target, link))
	e := newEnvAt(t, link)
	var entries []integrity.Entry
	for entry, err := range e.store.Entries(e.ctx, link) {
		must(t, err)
		entries = append(entries, entry)
	}
	if len(entries) != 1 || entries[0].Path != "" || entries[0].Type != integrity.TypeSymlink || entries[0].Target != target {
		t.Fatalf("baseline: %+v", entries)
	}
	// What happens behind the link is not watched.
	must(t, os.WriteFile(filepath.Join(target, "app.php"), []byte("<?php evil();\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(target, "new.php"), []byte("<?php\n"), 0o644))
	wantNone(t, e.scan())

	other := t.TempDir()
	must(t, os.Remove(link))
	must(t, os.Symlink(other, link))
	got := e.scan()
	if len(got) != 1 || got[0].Path != "" || got[0].FilePath != link || got[0].Change != integrity.ChangeModified ||
		got[0].Details != `symlink target changed "`+target+`" → "`+other+`"` {
		t.Fatalf("%s", describeAlerts(got))
	}
}

// Diff and AcceptAlert on a path whose parent directory became a symlink to
// outside the root do not follow it: the path is absent, as a scan sees it.
// Accepting the alert's observed state is refused (it is gone), and the
// diff shows the known-good content removed, never the file outside.
func TestParentBecameSymlink(t *testing.T) {
	e := newEnv(t, map[string]string{"app/config.txt": "good\n"})
	e.write("app/config.txt", "changed\n")
	a := e.scan()[0]
	known, err := e.store.Entry(e.ctx, a.Key)
	must(t, err)
	// The same content, mode and owner as the state the alert observed:
	// were the symlink followed, this would be accepted.
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "config.txt"), []byte("changed\n"), 0o644))
	e.remove("app")
	must(t, os.Symlink(outside, e.path("app")))

	d, err := e.mon.Diff(e.ctx, a.ID)
	must(t, err)
	if d.Text != "--- a/app/config.txt\n+++ b/app/config.txt\n@@ -1 +0,0 @@\n-good\n" || d.LinesAdded != 0 || d.LinesRemoved != 1 {
		t.Errorf("diff: %+v", d)
	}
	if err := e.mon.AcceptAlert(e.ctx, integrity.Actor{}, a.ID); !isErr(err, security.ErrConflict) {
		t.Errorf("accept: %v", err)
	}
	now, err := e.store.Entry(e.ctx, a.Key)
	must(t, err)
	if now.Hash != known.Hash || now.Type != integrity.TypeFile {
		t.Errorf("baseline changed: %+v", now)
	}
	// The scan agrees: the directory is now a symlink, the file is gone.
	got := byPath(t, e.scanFiles())
	if len(got) != 2 || got["app"].Change != integrity.ChangeModified || got["app/config.txt"].Change != integrity.ChangeDeleted {
		t.Fatalf("%s", describeAlerts(e.allAlerts()))
	}
}
