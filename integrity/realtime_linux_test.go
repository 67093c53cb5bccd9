package integrity_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
	"golang.org/x/sys/unix"
)

// watch starts Run with real-time detection on e (re-opening its Monitor
// with Realtime set) and waits until the watches are in place and the first
// full scan is done. Run ends with the test.
func (e *env) watch(interval time.Duration) {
	e.t.Helper()
	e.cfg.Realtime = true
	e.open()
	e.runWatch(interval)
}

func (e *env) runWatch(interval time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	mon := e.mon
	go func() { done <- mon.Run(ctx, interval) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			e.t.Errorf("Run: %v", err)
		}
	})
	e.waitFor("watching and the first full scan done", func() bool {
		s := e.mon.Realtime()
		return s.Watching && s.FullScans >= 1
	})
}

// waitFor polls cond until it holds, failing after a generous deadline.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for: %s; alerts:\n%s", what, describeAlerts(e.allAlerts()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alertsOf returns the alerts of path rel, oldest first.
func (e *env) alertsOf(rel string) []integrity.Alert {
	var out []integrity.Alert
	for _, a := range e.allAlerts() {
		if a.Path == rel && a.Type != integrity.AlertRealtimeDegraded {
			out = append(out, a)
		}
	}
	return out
}

// waitAlert waits until rel has n alerts and returns them.
func (e *env) waitAlert(rel string, n int) []integrity.Alert {
	e.t.Helper()
	var as []integrity.Alert
	e.waitFor(fmt.Sprintf("%d alert(s) for %q", n, rel), func() bool {
		as = e.alertsOf(rel)
		return len(as) >= n
	})
	return as
}

// settle waits until real-time detection has nothing pending and has
// re-checked at least once more than before.
func (e *env) settle(before int64) {
	e.t.Helper()
	e.waitFor("the changes re-checked", func() bool {
		s := e.mon.Realtime()
		return s.Pending == 0 && s.Rechecks > before
	})
}

func scans(t *testing.T, e *env) int {
	return len(events(t, e.store, integrity.EventScanCompleted))
}

var rtFiles = map[string]string{
	"index.php": "<?php echo 1;\n", "conf/app.conf": "debug=0\n", "docs/a.txt": "a\n", "docs/sub/b.txt": "b\n",
	"keep.txt": "keep\n",
}

// TestRealtimeAlertsWithoutScan: each kind of change raises its alert
// through real-time detection alone: the alert carries the realtime
// check's id, and no scan ran after the first.
func TestRealtimeAlertsWithoutScan(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *env)
		want   map[string]integrity.Change
	}{
		{"write", func(e *env) { e.write("index.php", "<?php system($_GET['c']);\n") },
			map[string]integrity.Change{"index.php": integrity.ChangeModified}},
		{"new file", func(e *env) { e.write("docs/new.txt", "new\n") },
			map[string]integrity.Change{"docs/new.txt": integrity.ChangeAdded, "docs": integrity.ChangeMetadata}},
		{"chmod", func(e *env) { must(e.t, os.Chmod(e.path("keep.txt"), 0o600)) },
			map[string]integrity.Change{"keep.txt": integrity.ChangeMetadata}},
		{"chmod root", func(e *env) { must(e.t, os.Chmod(e.root, 0o750)) },
			map[string]integrity.Change{"": integrity.ChangeMetadata}},
		{"delete", func(e *env) { e.remove("docs/a.txt") },
			map[string]integrity.Change{"docs/a.txt": integrity.ChangeDeleted, "docs": integrity.ChangeMetadata}},
		{"editor save: write a temporary file, rename it over", func(e *env) {
			e.write("conf/.app.conf.tmp", "debug=1\n")
			must(e.t, os.Rename(e.path("conf/.app.conf.tmp"), e.path("conf/app.conf")))
		}, map[string]integrity.Change{"conf/app.conf": integrity.ChangeModified, "conf": integrity.ChangeMetadata}},
		{"new directory, then files in it at once", func(e *env) {
			e.write("new/x/y/z.php", "<?php\n")
			e.write("new/top.txt", "t\n")
		}, map[string]integrity.Change{"new": integrity.ChangeAdded, "new/x": integrity.ChangeAdded,
			"new/x/y": integrity.ChangeAdded, "new/x/y/z.php": integrity.ChangeAdded, "new/top.txt": integrity.ChangeAdded,
			"": integrity.ChangeMetadata}},
		{"delete a directory tree", func(e *env) { e.remove("docs") },
			map[string]integrity.Change{"docs": integrity.ChangeDeleted, "docs/a.txt": integrity.ChangeDeleted,
				"docs/sub": integrity.ChangeDeleted, "docs/sub/b.txt": integrity.ChangeDeleted, "": integrity.ChangeMetadata}},
		{"move a directory out of the root", func(e *env) {
			must(e.t, os.Rename(e.path("docs"), filepath.Join(e.t.TempDir(), "moved")))
		}, map[string]integrity.Change{"docs": integrity.ChangeDeleted, "docs/a.txt": integrity.ChangeDeleted,
			"docs/sub": integrity.ChangeDeleted, "docs/sub/b.txt": integrity.ChangeDeleted, "": integrity.ChangeMetadata}},
		{"move a directory tree into the root", func(e *env) {
			out := filepath.Join(e.t.TempDir(), "in")
			must(e.t, os.MkdirAll(filepath.Join(out, "deep"), 0o755))
			must(e.t, os.WriteFile(filepath.Join(out, "deep", "shell.php"), []byte("<?php\n"), 0o644))
			must(e.t, os.Rename(out, e.path("in")))
		}, map[string]integrity.Change{"in": integrity.ChangeAdded, "in/deep": integrity.ChangeAdded,
			"in/deep/shell.php": integrity.ChangeAdded, "": integrity.ChangeMetadata}},
		{"move a directory within the root", func(e *env) {
			must(e.t, os.Rename(e.path("docs/sub"), e.path("conf/sub")))
		}, map[string]integrity.Change{"docs/sub": integrity.ChangeDeleted, "docs/sub/b.txt": integrity.ChangeDeleted,
			"conf/sub": integrity.ChangeAdded, "conf/sub/b.txt": integrity.ChangeAdded,
			"docs": integrity.ChangeMetadata, "conf": integrity.ChangeMetadata}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, rtFiles)
			e.watch(time.Hour)
			id := e.mon.Realtime().CheckID
			scansBefore := scans(t, e)
			tt.change(e)
			e.waitFor("every alert", func() bool {
				for p := range tt.want {
					if len(e.alertsOf(p)) == 0 {
						return false
					}
				}
				return true
			})
			e.settle(0)
			got := latestByPath(e.allAlerts())
			for p, c := range tt.want {
				a := got[p]
				if a.Change != c || a.Type != integrity.AlertViolation || a.CheckID != id {
					t.Errorf("%q: %s/%s by %s, want %s by the realtime check %s", p, a.Type, a.Change, a.CheckID, c, id)
				}
			}
			for p, a := range got {
				if _, ok := tt.want[p]; !ok && !strings.Contains(p, ".tmp") {
					t.Errorf("unexpected alert %q: %s", p, a.Details)
				}
			}
			if n := scans(t, e); n != scansBefore {
				t.Errorf("%d scans ran", n-scansBefore)
			}
			// The realtime check reports what it did.
			c, err := e.mon.Progress(e.ctx, id)
			must(t, err)
			if c.Kind != integrity.CheckRealtime || c.Status != integrity.CheckRunning || c.ViolationsFound < int64(len(tt.want)) {
				t.Errorf("realtime check: %+v", c)
			}
			if err := e.mon.Cancel(id); !isErr(err, security.ErrConflict) || !strings.Contains(err.Error(), "real-time") {
				t.Errorf("Cancel of the realtime check: %v", err)
			}
			// A scan now agrees: it raises nothing more.
			wantNone(t, e.scan())
		})
	}
}

// TestRealtimeFollowsNewDirectories: a directory made, moved in or moved
// within the root is watched, so a later change in it raises an alert.
func TestRealtimeFollowsNewDirectories(t *testing.T) {
	e := newEnv(t, rtFiles)
	e.watch(time.Hour)
	dirs := e.mon.Realtime().Directories // root, conf, docs, docs/sub
	if dirs != 4 {
		t.Fatalf("watching %d directories, want 4", dirs)
	}
	e.mkdir("made/a/b")
	out := filepath.Join(t.TempDir(), "in")
	must(t, os.MkdirAll(filepath.Join(out, "c"), 0o755))
	must(t, os.Rename(out, e.path("in")))
	must(t, os.Rename(e.path("docs/sub"), e.path("conf/moved")))
	e.waitAlert("conf/moved", 1)
	e.waitAlert("made/a/b", 1)
	e.waitAlert("in/c", 1)
	if got := e.mon.Realtime().Directories; got != 4+3+2 {
		t.Errorf("watching %d directories, want 9", got)
	}
	for _, p := range []string{"made/a/b/f.txt", "in/c/f.txt", "conf/moved/f.txt"} {
		e.write(p, "later\n")
		if as := e.waitAlert(p, 1); as[0].Change != integrity.ChangeAdded {
			t.Errorf("%s: %s", p, as[0].Change)
		}
	}
	// A directory moved out is no longer watched.
	must(t, os.Rename(e.path("made"), filepath.Join(t.TempDir(), "gone")))
	e.waitFor("the moved-out directories forgotten", func() bool { return e.mon.Realtime().Directories == 9-3 })
}

// TestRealtimeRewritesRaiseOneAlertPerState: a file rewritten a thousand
// times raises one alert per state observed, not one per write. Saved
// atomically (a temporary file renamed over it, as editors do) with the
// same content, every alert names that content (its times differ). Rewritten
// in place, a re-check may also see it half written; still, no two alerts in a row
// are for the same state, there are no more alerts than re-checks, and the
// last state observed is the final one.
func TestRealtimeRewritesRaiseOneAlertPerState(t *testing.T) {
	tests := []struct {
		name    string
		atomic  bool
		content func(i int) string
	}{
		{"atomic saves, same content", true, func(int) string { return "<?php evil();\n" }},
		{"atomic saves, new content each time", true, func(i int) string { return fmt.Sprintf("<?php echo %d;\n", i) }},
		{"in place, same content", false, func(int) string { return "<?php evil();\n" }},
		{"in place, new content each time", false, func(i int) string { return fmt.Sprintf("<?php echo %d;\n", i) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, rtFiles, func(c *integrity.Config) { c.Exclude = []string{"*.tmp"} })
			e.watch(time.Hour)
			before := e.mon.Realtime().Rechecks
			for i := range 1000 {
				if tt.atomic {
					e.write("index.php.tmp", tt.content(i))
					must(t, os.Rename(e.path("index.php.tmp"), e.path("index.php")))
				} else {
					e.write("index.php", tt.content(i))
				}
			}
			e.waitAlert("index.php", 1)
			e.settle(before)
			as := e.alertsOf("index.php")
			rechecks := e.mon.Realtime().Rechecks - before
			if int64(len(as)) > rechecks {
				t.Fatalf("%d alerts in %d re-checks", len(as), rechecks)
			}
			if tt.atomic && tt.content(0) == tt.content(1) {
				// One content, but each save is a new inode with new
				// times, which are part of the state since metadata
				// parity (issue 12): one alert per state re-checked.
				for _, a := range as {
					if a.Details != as[0].Details {
						t.Fatalf("alerts for one content differ:\n%s", describeAlerts(as))
					}
				}
			}
			for i := 1; i < len(as); i++ {
				if as[i].State == as[i-1].State {
					t.Fatalf("two alerts in a row for one state:\n%s", describeAlerts(as))
				}
			}
			// The last state re-checked is the final one: a scan adds nothing.
			wantNone(t, e.scan())
			t.Logf("1000 rewrites: %d alert(s) in %d re-check(s)", len(as), rechecks)
		})
	}
}

// TestRealtimeDeploymentWindow: changes made while a deployment window is
// open raise nothing, and are accepted when it ends.
func TestRealtimeDeploymentWindow(t *testing.T) {
	e := newEnv(t, rtFiles)
	e.watch(time.Hour)
	actor := integrity.Actor{UserID: 1}
	_, err := e.mon.BeginDeployment(e.ctx, actor, "release 2")
	must(t, err)
	before := e.mon.Realtime().Rechecks
	e.write("index.php", "<?php echo 2;\n")
	e.write("lib/new.js", "x\n")
	e.remove("keep.txt")
	e.settle(before)
	wantNone(t, e.allAlerts())
	ended, err := e.mon.EndDeployment(e.ctx, actor)
	must(t, err)
	if ended.Accepted != 5 { // index.php, lib, lib/new.js, keep.txt, and the root, whose entries changed
		t.Errorf("accepted %d, want 5", ended.Accepted)
	}
	wantNone(t, e.scan())
	// After the window, changes raise alerts again.
	e.write("index.php", "<?php echo 3;\n")
	e.waitAlert("index.php", 1)
}

// TestRealtimeOverflowFallsBack: lost events (the kernel's queue overflowed)
// are never silent: a full scan runs and a realtime_degraded alert says so,
// once while it is new.
func TestRealtimeOverflowFallsBack(t *testing.T) {
	e := newEnv(t, rtFiles)
	e.watch(time.Hour)
	degraded := func() []integrity.Alert {
		var out []integrity.Alert
		for _, a := range e.allAlerts() {
			if a.Type == integrity.AlertRealtimeDegraded {
				out = append(out, a)
			}
		}
		return out
	}
	e.write("keep.txt", "changed\n")
	if !integrity.InjectOverflow(e.mon) {
		t.Fatal("not watching")
	}
	e.waitFor("the fallback scan", func() bool { return e.mon.Realtime().FullScans == 2 })
	e.waitFor("the degraded alert", func() bool { return len(degraded()) == 1 })
	a := degraded()[0]
	if !strings.Contains(a.Details, "queue overflowed") || !strings.Contains(a.Details, "full scan chk_") ||
		a.Severity != integrity.SeverityHigh || a.CheckID != e.mon.Realtime().CheckID {
		t.Errorf("%+v", a)
	}
	e.waitAlert("keep.txt", 1) // found by the scan or before it, once
	// Again while the alert is new: a scan, no second alert.
	integrity.InjectOverflow(e.mon)
	e.waitFor("the second fallback scan", func() bool { return e.mon.Realtime().FullScans == 3 })
	if n := len(degraded()); n != 1 {
		t.Fatalf("%d degraded alerts", n)
	}
	_, err := e.mon.ResolveAlerts(e.ctx, integrity.Actor{}, a.ID)
	must(t, err)
	integrity.InjectOverflow(e.mon)
	e.waitFor("a new degraded alert once the last is resolved", func() bool { return len(degraded()) == 2 })
	if n := len(e.alertsOf("keep.txt")); n != 1 {
		t.Errorf("%d alerts for keep.txt", n)
	}
	if _, err := e.mon.Diff(e.ctx, a.ID); !isErr(err, security.ErrInvalid) {
		t.Errorf("diff of a degraded alert: %v", err)
	}
}

// TestRealtimeWatchLimit: a directory the kernel's watch limit leaves
// unwatched is reported (an alert and the status), a full scan covers it,
// and it is watched once the limit allows.
func TestRealtimeWatchLimit(t *testing.T) {
	e := newEnv(t, rtFiles)
	e.cfg.Realtime = true
	e.open()
	var limited atomic.Bool
	limited.Store(true)
	integrity.SetWatchHook(e.mon, func(path string) error {
		if limited.Load() && strings.HasSuffix(path, string(filepath.Separator)+"sub") {
			return unix.ENOSPC
		}
		return nil
	})
	e.write("docs/sub/b.txt", "changed before the watching\n")
	e.runWatch(100 * time.Millisecond)
	e.waitFor("the degraded alert", func() bool {
		for _, a := range e.allAlerts() {
			if a.Type == integrity.AlertRealtimeDegraded && strings.Contains(a.Details, "max_user_watches") &&
				strings.Contains(a.Details, e.path("docs/sub")) {
				return true
			}
		}
		return false
	})
	if len(e.alertsOf("docs/sub/b.txt")) != 1 {
		t.Errorf("the change was not found by the scan")
	}
	limited.Store(false)
	e.waitFor("every directory watched", func() bool {
		s := e.mon.Realtime()
		return s.Degraded == "" && s.Directories == 4
	})
}

// TestRealtimeTamperedEntryIsLeftToScans: a forged baseline entry raises no
// file alert in real time; the full scan it asks for raises the
// baseline_tampered alert. A removed entry is found by the verification of
// the whole root's seal (done before the first re-check, and whenever the
// seal changes); an altered one, by the entry's own MAC.
func TestRealtimeTamperedEntryIsLeftToScans(t *testing.T) {
	for _, afterFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("altered after the first re-check: %v", afterFirst), func(t *testing.T) {
			e := newEnv(t, rtFiles)
			e.watch(time.Hour)
			if afterFirst {
				e.write("keep.txt", "changed\n")
				e.waitAlert("keep.txt", 1)
			}
			k := integrity.Key{Root: e.root, Path: "index.php"}
			ent, err := e.store.Entry(e.ctx, k)
			must(t, err)
			b := integrity.Batch{Delete: []integrity.Key{k}} // the seal no longer matches
			if afterFirst {
				ent.Mode = 0o777 // the MAC no longer matches
				b = integrity.Batch{Put: []integrity.Entry{ent}}
			}
			must(t, e.store.Stage(e.ctx, "forge", b))
			seals, err := e.store.Seals(e.ctx)
			must(t, err)
			must(t, e.store.Commit(e.ctx, integrity.Commit{Set: "forge",
				Roots: []integrity.RootCommit{{Previous: seals[0].Sum, Seal: seals[0]}}}))
			e.write("index.php", "<?php evil();\n")
			e.waitFor("the tamper alert", func() bool {
				for _, a := range e.allAlerts() {
					if a.Type == integrity.AlertBaselineTampered {
						return true
					}
				}
				return false
			})
			if as := e.alertsOf("index.php"); len(as) != 0 {
				t.Fatalf("alert on a forged entry:\n%s", describeAlerts(as))
			}
		})
	}
}
