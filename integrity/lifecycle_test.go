package integrity_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

func TestDeploymentWindow(t *testing.T) {
	e := newEnv(t, map[string]string{"app.php": "v1\n", "lib.php": "lib\n", "conf.ini": "debug=0\n"})
	e.write("conf.ini", "debug=1\n") // changed before the window: must still alert
	actor := integrity.Actor{UserID: 42, IP: "203.0.113.10"}
	d, err := e.mon.BeginDeployment(e.ctx, actor, "release 1.2")
	must(t, err)
	if !strings.HasPrefix(d.ID, "dep_") || d.Description != "release 1.2" {
		t.Fatalf("%+v", d)
	}
	pre := e.allAlerts()
	if len(pre) != 1 || pre[0].Path != "conf.ini" {
		t.Fatalf("the scan before the window: %s", describeAlerts(pre))
	}
	if _, err := e.mon.BeginDeployment(e.ctx, actor, "again"); !isErr(err, security.ErrConflict) {
		t.Fatalf("second window: %v", err)
	}
	e.write("app.php", "v2\n")
	e.write("new.php", "new\n")
	e.remove("lib.php")
	wantNone(t, e.scan())
	e.open() // the host restarts mid-deployment: the window is stored
	wantNone(t, e.scan())
	ended, err := e.mon.EndDeployment(e.ctx, actor)
	must(t, err)
	// app.php, new.php, lib.php and the root, whose entries changed
	if ended.Accepted != 4 || ended.Deployment != d || ended.EndedByUserID != 42 || !ended.EndedAt.Equal(e.clock.Now()) {
		t.Fatalf("ended %+v, want 4 accepted of %+v", ended, d)
	}
	if hist, err := e.mon.EndedDeployments(e.ctx, 0); err != nil || len(hist) != 1 || hist[0].ID != d.ID ||
		hist[0].Accepted != 4 || hist[0].EndedByUserID != 42 || hist[0].Description != "release 1.2" {
		t.Fatalf("history %+v %v", hist, err)
	}
	evs := events(t, e.store, integrity.EventDeploymentEnded)
	if len(evs) != 1 || evs[0].Details["accepted"] != "4" || evs[0].ActorUserID != 42 || evs[0].Subject != d.ID {
		t.Fatalf("%+v", evs)
	}
	if evs := events(t, e.store, integrity.EventDeploymentStarted); len(evs) != 1 || evs[0].Details["description"] != "release 1.2" {
		t.Fatalf("%+v", evs)
	}
	wantNone(t, e.scan())
	// The change from before the window was not accepted: its diff still
	// shows it, and it is alerted on again if it changes again.
	diff, err := e.mon.Diff(e.ctx, pre[0].ID)
	must(t, err)
	if diff.LinesAdded != 1 || diff.LinesRemoved != 1 {
		t.Fatalf("%+v", diff)
	}
	if _, err := e.mon.EndDeployment(e.ctx, actor); !isErr(err, security.ErrNotFound) {
		t.Fatalf("no window: %v", err)
	}
	e.write("app.php", "v3\n")
	if got := e.scan(); len(got) != 1 || got[0].Path != "app.php" {
		t.Fatalf("%s", describeAlerts(got))
	}
}

// tamper edits a baseline record in the store behind the Monitor's back, as
// someone with write access to the database would, leaving the seal alone.
func tamper(t *testing.T, e *env, b integrity.Batch) {
	t.Helper()
	seals, err := e.store.Seals(e.ctx)
	must(t, err)
	must(t, e.store.Stage(e.ctx, "evil", b))
	must(t, e.store.Commit(e.ctx, integrity.Commit{Set: "evil", Roots: []integrity.RootCommit{{Previous: seals[0].Sum, Seal: seals[0]}}}))
}

func TestTamperedBaseline(t *testing.T) {
	files := map[string]string{"index.php": "<?php echo 'hi';\n", "b.txt": "b\n", "c.txt": "c\n"}
	t.Run("altered row", func(t *testing.T) {
		e := newEnv(t, files)
		// The attacker changes index.php and makes its record match.
		e.write("index.php", "<?php system($_GET['c']);\n")
		entry, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: "index.php"})
		must(t, err)
		entry.Hash[0] ^= 1
		entry.Size = 26
		tamper(t, e, integrity.Batch{Put: []integrity.Entry{entry}})
		got := e.scan()
		if len(got) != 1 || got[0].Type != integrity.AlertBaselineTampered || got[0].Severity != integrity.SeverityCritical {
			t.Fatalf("%s", describeAlerts(got))
		}
		if got[0].Path != "" || got[0].FilePath != e.root || !strings.Contains(got[0].Details, `1 record(s) altered (first: "index.php")`) {
			t.Fatalf("%q %q", got[0].Path, got[0].Details)
		}
		wantNone(t, e.scan()) // the same finding is not raised twice
		if _, err := e.mon.Diff(e.ctx, got[0].ID); !isErr(err, security.ErrInvalid) {
			t.Fatalf("diff of a tampered alert: %v", err)
		}
		// Accepting an alert would re-seal the forgery: refused.
		e.write("b.txt", "b2\n")
		if err := e.mon.AcceptAlert(e.ctx, integrity.Actor{}, got[0].ID); !isErr(err, security.ErrInvalid) {
			t.Fatalf("accept tampered alert: %v", err)
		}
		// A deployment rebuilds the baseline from the tree.
		_, err = e.mon.BeginDeployment(e.ctx, integrity.Actor{}, "rebuild")
		must(t, err)
		_, err = e.mon.EndDeployment(e.ctx, integrity.Actor{})
		must(t, err)
		wantNone(t, e.scan())
	})
	t.Run("removed row", func(t *testing.T) {
		e := newEnv(t, files)
		tamper(t, e, integrity.Batch{Delete: []integrity.Key{{Root: e.root, Path: "c.txt"}}})
		got := e.scan()
		if len(got) != 1 || got[0].Type != integrity.AlertBaselineTampered || !strings.Contains(got[0].Details, "seal mismatch") {
			t.Fatalf("%s", describeAlerts(got))
		}
	})
	t.Run("replayed older row", func(t *testing.T) {
		e := newEnv(t, files)
		old, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: "b.txt"})
		must(t, err)
		e.write("b.txt", "b2\n")
		got := e.scan()
		must(t, e.mon.AcceptAlert(e.ctx, integrity.Actor{}, got[0].ID))
		e.write("b.txt", "b\n") // back to the old content, with the old record
		tamper(t, e, integrity.Batch{Put: []integrity.Entry{old}})
		got = e.scan()
		if len(got) != 1 || got[0].Type != integrity.AlertBaselineTampered {
			t.Fatalf("%s", describeAlerts(got))
		}
	})
	t.Run("forged deployment window", func(t *testing.T) {
		e := newEnv(t, files)
		must(t, e.store.BeginDeployment(e.ctx, integrity.Deployment{ID: "dep_forged", StartedAt: e.clock.Now()}, nil))
		e.write("index.php", "<?php evil();\n")
		got := byPath(t, e.scan())
		if len(got) != 2 || got["index.php"].Change != integrity.ChangeModified || got[""].Type != integrity.AlertBaselineTampered {
			t.Fatalf("%s", describeAlerts(e.allAlerts()))
		}
		if _, err := e.mon.EndDeployment(e.ctx, integrity.Actor{}); !isErr(err, security.ErrConflict) {
			t.Fatalf("ending a forged window: %v", err)
		}
	})
	t.Run("forged observation", func(t *testing.T) {
		e := newEnv(t, files)
		e.write("index.php", "<?php evil();\n")
		first := e.scan()
		if len(first) != 1 {
			t.Fatalf("%s", describeAlerts(first))
		}
		// Suppress the alert for a further change by faking its observation.
		e.write("index.php", "<?php worse();\n")
		var st integrity.Hash
		st[0] = 1
		_, err := e.store.SaveFindings(e.ctx, integrity.Findings{Observations: []integrity.Observation{
			{Key: integrity.Key{Root: e.root, Path: "index.php"}, State: st}}})
		must(t, err)
		got := byPath(t, e.scan())
		if len(got) != 2 || got["index.php"].Change != integrity.ChangeModified || got[""].Type != integrity.AlertBaselineTampered {
			t.Fatalf("%s", describeAlerts(e.allAlerts()))
		}
	})
}

// A scan verifies the baseline as it compares with it and holds its
// findings back until the verdict. Past integrity.SetDeferredFindings
// findings it verifies the whole root in a pass of its own first: a sound
// baseline then gets every alert, a tampered one only the tamper alert,
// with each altered record counted once.
func TestTamperVerdictPastDeferredFindings(t *testing.T) {
	files := map[string]string{"a.txt": "a\n", "m.txt": "m\n", "z.txt": "z\n"}
	added := []string{"n1.txt", "n2.txt", "n3.txt", "n4.txt", "n5.txt"} // between m and z
	alter := func(t *testing.T, e *env, path string) {
		t.Helper()
		entry, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: path})
		must(t, err)
		entry.Size++
		tamper(t, e, integrity.Batch{Put: []integrity.Entry{entry}})
	}
	onlyTamper := func(t *testing.T, e *env, want string) {
		t.Helper()
		got := e.allAlerts()
		if len(got) != 1 || got[0].Type != integrity.AlertBaselineTampered || !strings.Contains(got[0].Details, want) {
			t.Fatalf("want only the tamper alert saying %q, got %s", want, describeAlerts(got))
		}
		if n := strings.Count(got[0].Details, "seal mismatch"); n > 1 {
			t.Fatalf("seal mismatch noted %d times: %s", n, got[0].Details)
		}
	}
	for _, limit := range []int{2, 4096} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			defer integrity.SetDeferredFindings(limit)()
			t.Run("sound baseline", func(t *testing.T) {
				e := newEnv(t, files)
				for _, p := range added {
					e.write(p, p)
				}
				got := byPath(t, e.scanFiles())
				if len(got) != len(added) {
					t.Fatalf("%s", describeAlerts(e.allAlerts()))
				}
				for _, p := range added {
					if got[p].Change != integrity.ChangeAdded {
						t.Fatalf("%s: %s", p, describeAlerts(e.allAlerts()))
					}
				}
			})
			for _, tc := range []struct {
				name, want string
				spoil      func(t *testing.T, e *env)
			}{
				{"record altered after the findings", `1 record(s) altered (first: "z.txt")`,
					func(t *testing.T, e *env) { alter(t, e, "z.txt") }},
				{"record altered before the findings", `2 record(s) altered (first: "a.txt")`,
					func(t *testing.T, e *env) { alter(t, e, "a.txt"); alter(t, e, "z.txt") }},
				{"record removed", "seal mismatch", func(t *testing.T, e *env) {
					tamper(t, e, integrity.Batch{Delete: []integrity.Key{{Root: e.root, Path: "z.txt"}}})
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e := newEnv(t, files)
					tc.spoil(t, e)
					for _, p := range added {
						e.write(p, p)
					}
					e.scan()
					onlyTamper(t, e, tc.want)
				})
			}
		})
	}
}

func TestInitDoesNotLaunderARemovedSeal(t *testing.T) {
	e := newEnv(t, map[string]string{"a.txt": "a\n"})
	// The seal is gone but the records remain (a store that lost it).
	ns := &noSeals{Store: e.store}
	e.cfg.Store = ns
	e.open()
	created, err := e.mon.Init(e.ctx)
	must(t, err)
	if len(created) != 0 {
		t.Fatalf("re-recorded %v", created)
	}
	as := e.allAlerts()
	if len(as) != 1 || as[0].Type != integrity.AlertBaselineTampered {
		t.Fatalf("%s", describeAlerts(as))
	}
}

type noSeals struct{ integrity.Store }

func (noSeals) Seals(context.Context) ([]integrity.Seal, error) { return nil, nil }

// blockOn makes the Monitor stop in the middle of reading path until
// released; it returns a channel that receives when it got there.
func blockOn(t *testing.T, e *env, rel string) (reached <-chan struct{}, release func()) {
	r := make(chan struct{}, 8)
	b := make(chan struct{})
	var once atomic.Bool
	target := e.path(rel)
	integrity.SetReadHook(e.mon, func(path string, pass int) {
		if path == target {
			r <- struct{}{}
			<-b
		}
	})
	return r, func() {
		if once.CompareAndSwap(false, true) {
			close(b)
		}
	}
}

func manyFiles(n int) map[string]string {
	files := map[string]string{}
	for i := range n {
		files["d/f"+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = "content\n"
	}
	return files
}

func TestOneScanAtATimeAndCancel(t *testing.T) {
	e := newEnv(t, manyFiles(40))
	reached, release := blockOn(t, e, "d/fm")
	defer release()
	id, err := e.mon.Start(e.ctx)
	must(t, err)
	<-reached
	id2, err := e.mon.Start(e.ctx)
	if id2 != id || !isErr(err, security.ErrConflict) {
		t.Fatalf("second start: %q %v", id2, err)
	}
	p, err := e.mon.Progress(e.ctx, id)
	must(t, err)
	if p.Status != integrity.CheckRunning || p.FinishedAt.IsZero() == false {
		t.Fatalf("%+v", p)
	}
	if cur, ok := e.mon.Current(); !ok || cur.ID != id {
		t.Fatalf("current %+v", cur)
	}
	must(t, e.mon.Cancel(id))
	release()
	c, err := e.mon.Scan(e.ctx) // waits for the cancelled one
	must(t, err)
	if c.Status != integrity.CheckComplete {
		t.Fatalf("%+v", c)
	}
	p, err = e.mon.Progress(e.ctx, id)
	must(t, err)
	if p.Status != integrity.CheckFailed || p.Error != "cancelled" {
		t.Fatalf("%+v", p)
	}
	wantNone(t, e.allAlerts()) // a cancelled scan reports nothing as deleted
	if err := e.mon.Cancel(id); !isErr(err, security.ErrConflict) {
		t.Fatalf("cancel finished: %v", err)
	}
	if err := e.mon.Cancel(security.NewID("chk_")); !isErr(err, security.ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
	if _, err := e.mon.Progress(e.ctx, "chk_nope"); !isErr(err, security.ErrInvalid) {
		t.Fatalf("progress bad id: %v", err)
	}
}

func TestCloseWaitsForTheScan(t *testing.T) {
	e := newEnv(t, manyFiles(10))
	reached, release := blockOn(t, e, "d/fc")
	id, err := e.mon.Start(e.ctx)
	must(t, err)
	<-reached
	closed := make(chan struct{})
	go func() {
		e.mon.Close()
		close(closed)
	}()
	release()
	<-closed
	p, err := e.mon.Progress(e.ctx, id)
	must(t, err)
	if p.Status == integrity.CheckRunning {
		t.Fatalf("Close returned while the scan ran: %+v", p)
	}
	if _, err := e.mon.Start(e.ctx); !isErr(err, security.ErrUnavailable) {
		t.Fatalf("start after close: %v", err)
	}
	if _, err := e.mon.Scan(e.ctx); !isErr(err, security.ErrUnavailable) {
		t.Fatalf("scan after close: %v", err)
	}
}

func TestRunScansPeriodically(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, map[string]string{"a.txt": "a\n"})
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan error, 1)
		go func() { done <- e.mon.Run(ctx, time.Hour) }()
		time.Sleep(90 * time.Minute)
		synctest.Wait()
		e.write("a.txt", "b\n")
		time.Sleep(time.Hour)
		synctest.Wait()
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("Run: %v", err)
		}
		scans := 0
		for _, ev := range events(t, e.store, integrity.EventScanCompleted) {
			if ev.Details["kind"] == "scan" {
				scans++
			}
		}
		if scans != 2 || len(e.allAlerts()) != 1 {
			t.Fatalf("%d scans, alerts:\n%s", scans, describeAlerts(e.allAlerts()))
		}
	})
}

func TestNewValidates(t *testing.T) {
	dir := t.TempDir()
	base := func() integrity.Config {
		return integrity.Config{Store: &noSeals{}, Key: testKey, Roots: []string{dir}}
	}
	for name, mod := range map[string]func(*integrity.Config){
		"no store":     func(c *integrity.Config) { c.Store = nil },
		"short key":    func(c *integrity.Config) { c.Key = c.Key[:31] },
		"no roots":     func(c *integrity.Config) { c.Roots = nil },
		"nested roots": func(c *integrity.Config) { c.Roots = []string{dir, dir + "/sub"} },
		"twice":        func(c *integrity.Config) { c.Roots = []string{dir, dir + "/"} },
		"bad glob":     func(c *integrity.Config) { c.Exclude = []string{"[x"} },
		"empty glob":   func(c *integrity.Config) { c.Include = []string{""} },
		"bad severity": func(c *integrity.Config) {
			c.SeverityRules = []integrity.SeverityRule{{Pattern: "*", Severity: "urgent"}}
		},
		"bad default": func(c *integrity.Config) { c.DefaultSeverity = "meh" },
		"bad rule glob": func(c *integrity.Config) {
			c.SeverityRules = []integrity.SeverityRule{{Pattern: "a//b", Severity: "low"}}
		},
	} {
		c := base()
		mod(&c)
		if _, err := integrity.New(c); !isErr(err, security.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, err := integrity.New(base())
	must(t, err)
	if m.Roots()[0] != dir {
		t.Fatal(m.Roots())
	}
}

func TestInitAndMissingBaseline(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "a"})
	created, err := e.mon.Init(e.ctx)
	must(t, err)
	if len(created) != 0 {
		t.Fatalf("second Init created %v", created)
	}
	other := t.TempDir()
	e.cfg.Roots = []string{e.root, other}
	e.open()
	if _, err := e.mon.Scan(e.ctx); !isErr(err, security.ErrNotFound) {
		t.Fatalf("scan without a baseline: %v", err)
	}
	created, err = e.mon.Init(e.ctx)
	must(t, err)
	if len(created) != 1 || created[0] != other {
		t.Fatalf("%v", created)
	}
	if evs := events(t, e.store, integrity.EventBaselineCreated); len(evs) != 2 {
		t.Fatalf("%+v", evs)
	}
	wantNone(t, e.scan())
	must(t, os.WriteFile(other+"/x", []byte("x"), 0o644))
	if got := e.scanFiles(); len(got) != 1 || got[0].FilePath != other+"/x" {
		t.Fatalf("%s", describeAlerts(got))
	}
}

func TestRootsWithoutBaseline(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "a"})
	other := t.TempDir()
	for _, tc := range []struct {
		name  string
		roots []string
		store integrity.Store
		want  []string
	}{
		{"baselined", []string{e.root}, e.store, nil},
		{"a new root", []string{e.root, other}, e.store, []string{other}},
		{"a removed seal", []string{e.root}, &noSeals{Store: e.store}, []string{e.root}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.cfg.Roots, e.cfg.Store = tc.roots, tc.store
			e.open()
			missing, err := e.mon.RootsWithoutBaseline(e.ctx)
			must(t, err)
			if !slices.Equal(missing, tc.want) {
				t.Fatalf("got %q, want %q", missing, tc.want)
			}
		})
	}
}
