// Package integritytest is the conformance suite for [integrity.Store]
// implementations: memstore, sqlitestore, pgstore and any later store run
// the same tests, so they cannot drift apart.
//
// # Use
//
// From the store's own tests:
//
//	func TestIntegrityStore(t *testing.T) {
//		integritytest.Run(t, func(t *testing.T) integritytest.Store { return open(t) })
//	}
//
// open must return a new, empty store for each call and release it with
// t.Cleanup.
//
// # What it checks
//
// What [integrity.Store] documents: byte order of paths, staging and
// atomic commits with their seal and deployment checks, observations
// forgotten by commits, alerts (with their host) with their filters,
// orders, pages and all-or-nothing bulk updates, and events written with
// each change. Times are compared with [time.Time.Equal].
//
// For a store that also implements [integrity.HostStores], that each
// host's Store keeps its data apart and shares alerts and content; for one
// that implements [integrity.ScanLocker], its lock and recorded checks.
// These subtests are skipped for a store that does not implement them.
package integritytest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

// Store is an integrity store that can also list its events.
type Store interface {
	integrity.Store
	// Events returns every recorded event, oldest first.
	Events(ctx context.Context) ([]security.Event, error)
}

// Run runs the whole suite; open is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) Store) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Store)
	}{
		{"BaselineOrderAndLookup", testBaselineOrder},
		{"StageAndCommit", testStageAndCommit},
		{"CommitConflicts", testCommitConflicts},
		{"ReplaceAndObservations", testReplaceAndObservations},
		{"Content", testContent},
		{"IterateWhileWriting", testIterateWhileWriting},
		{"Alerts", testAlerts},
		{"AlertBulkUpdates", testAlertBulk},
		{"Deployment", testDeployment},
		{"HostStores", testHostStores},
		{"ScanLock", testScanLock},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

var (
	t0   = time.Date(2024, 6, 14, 3, 12, 0, 123456789, time.UTC)
	root = "/srv/www"
)

func entry(path string, typ integrity.FileType, seed byte) integrity.Entry {
	e := integrity.Entry{Key: integrity.Key{Root: root, Path: path}, Type: typ, Size: int64(seed), Mode: 0o644,
		UID: 1000, GID: 1001, MTime: t0, CTime: t0.Add(time.Second), Inode: uint64(seed) + 100, Device: 7,
		Target: "t" + path}
	e.Hash[0], e.MAC[0] = seed, seed+1
	if seed%2 == 0 { // half the entries have Meta, the others were recorded before it
		e.Meta, e.Links = true, uint64(seed)+1
		e.XAttrs = []integrity.XAttr{{Name: "security.capability", Value: "\x00\x00\x00\x02 \x00"},
			{Name: "user.n\xff", Value: string([]byte{seed, 0, 1})}, {Name: "user.z", Value: "0123456789abcdef0123456789abcdef", Digest: true}}
	}
	return e
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func paths(t *testing.T, s integrity.Store, r string) []string {
	t.Helper()
	var out []string
	for e, err := range s.Entries(t.Context(), r) {
		check(t, err)
		out = append(out, e.Path)
	}
	return out
}

func commit(t *testing.T, s Store, set string, prev integrity.Hash, sum byte, b integrity.Batch, events ...security.Event) integrity.Seal {
	t.Helper()
	ctx := t.Context()
	check(t, s.Stage(ctx, set, b))
	seal := integrity.Seal{Root: root, Entries: 3, UpdatedAt: t0}
	seal.Sum[0] = sum
	check(t, s.Commit(ctx, integrity.Commit{Set: set, Roots: []integrity.RootCommit{{Previous: prev, Seal: seal}}, Events: events}))
	return seal
}

func eventTypes(t *testing.T, s Store) []security.EventType {
	t.Helper()
	evs, err := s.Events(t.Context())
	check(t, err)
	var out []security.EventType
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func testBaselineOrder(t *testing.T, s Store) {
	ctx := t.Context()
	if seals, err := s.Seals(ctx); err != nil || len(seals) != 0 {
		t.Fatalf("new store: %v %v", seals, err)
	}
	want := []string{"", "a", "a b", "a-b", "a.b", "a/b", "a/b/c", "a0", "b", "\u00e4"}
	var b integrity.Batch
	for i, p := range slices.Backward(want) {
		b.Put = append(b.Put, entry(p, integrity.TypeFile, byte(i)))
	}
	b.Put = append(b.Put, integrity.Entry{Key: integrity.Key{Root: "/other", Path: "x"}, Type: integrity.TypeDir})
	check(t, s.Stage(ctx, "set1", b))
	seal := integrity.Seal{Root: root, Entries: int64(len(want)), UpdatedAt: t0}
	seal.Sum[31] = 9
	other := integrity.Seal{Root: "/other", Entries: 1, UpdatedAt: t0}
	check(t, s.Commit(ctx, integrity.Commit{Set: "set1", Roots: []integrity.RootCommit{{Seal: seal}, {Seal: other}}}))
	if got := paths(t, s, root); !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
	seals, err := s.Seals(ctx)
	check(t, err)
	if len(seals) != 2 || seals[0].Root != "/other" && seals[1].Root != "/other" {
		t.Fatalf("%+v", seals)
	}
	for _, got := range seals {
		if got.Root == root && (got.Sum != seal.Sum || got.Entries != seal.Entries || !got.UpdatedAt.Equal(t0)) {
			t.Fatalf("seal %+v, want %+v", got, seal)
		}
	}
	for _, p := range []string{"a.b", "a-b"} { // with Meta, and without
		e, err := s.Entry(ctx, integrity.Key{Root: root, Path: p})
		check(t, err)
		wantE := entry(p, integrity.TypeFile, e.Hash[0])
		if !e.MTime.Equal(wantE.MTime) || !e.CTime.Equal(wantE.CTime) {
			t.Fatalf("times %v %v", e.MTime, e.CTime)
		}
		e.MTime, e.CTime = wantE.MTime, wantE.CTime
		if !reflect.DeepEqual(e, wantE) {
			t.Fatalf("entry %+v, want %+v", e, wantE)
		}
	}
	if _, err := s.Entry(ctx, integrity.Key{Root: root, Path: "nope"}); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("missing entry: %v", err)
	}
	// Early exit from an iteration.
	for range s.Entries(ctx, root) {
		break
	}
}

func testStageAndCommit(t *testing.T, s Store) {
	ctx := t.Context()
	seal := commit(t, s, "s1", integrity.Hash{}, 1, integrity.Batch{Put: []integrity.Entry{
		entry("a", integrity.TypeFile, 1), entry("b", integrity.TypeFile, 2), entry("c", integrity.TypeDir, 3)}},
		security.Event{Time: t0, Type: integrity.EventBaselineCreated, Subject: root})
	// Staged changes are invisible until committed; a later change of the
	// same key wins.
	check(t, s.Stage(ctx, "s2", integrity.Batch{Put: []integrity.Entry{entry("d", integrity.TypeFile, 4)},
		Delete: []integrity.Key{{Root: root, Path: "a"}}}))
	check(t, s.Stage(ctx, "s2", integrity.Batch{Put: []integrity.Entry{entry("a", integrity.TypeFile, 9)},
		Delete: []integrity.Key{{Root: root, Path: "d"}, {Root: root, Path: "b"}}}))
	if got := paths(t, s, root); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("before commit: %q", got)
	}
	commit(t, s, "s2", seal.Sum, 2, integrity.Batch{})
	if got := paths(t, s, root); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("after commit: %q", got)
	}
	if e, _ := s.Entry(ctx, integrity.Key{Root: root, Path: "a"}); e.Hash[0] != 9 {
		t.Fatalf("a not replaced: %+v", e)
	}
	// A discarded set is gone.
	check(t, s.Stage(ctx, "s3", integrity.Batch{Put: []integrity.Entry{entry("z", integrity.TypeFile, 5)}}))
	check(t, s.DiscardStaged(ctx, "s3"))
	var sum2 integrity.Hash
	sum2[0] = 2
	commit(t, s, "s3", sum2, 3, integrity.Batch{})
	if got := paths(t, s, root); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("discarded set applied: %q", got)
	}
	check(t, s.Stage(ctx, "s4", integrity.Batch{Put: []integrity.Entry{entry("y", integrity.TypeFile, 5)}}))
	check(t, s.DiscardStaged(ctx, ""))
	if got := eventTypes(t, s); !slices.Equal(got, []security.EventType{integrity.EventBaselineCreated}) {
		t.Fatalf("events %v", got)
	}
}

func testCommitConflicts(t *testing.T, s Store) {
	ctx := t.Context()
	seal := commit(t, s, "s1", integrity.Hash{}, 1, integrity.Batch{Put: []integrity.Entry{entry("a", integrity.TypeFile, 1)}})
	check(t, s.Stage(ctx, "s2", integrity.Batch{Put: []integrity.Entry{entry("b", integrity.TypeFile, 2)}}))
	stale := integrity.Seal{Root: root}
	err := s.Commit(ctx, integrity.Commit{Set: "s2", Roots: []integrity.RootCommit{{Previous: integrity.Hash{}, Seal: stale}},
		Events: []security.Event{{Time: t0, Type: integrity.EventAlertAccepted}}})
	if !errors.Is(err, security.ErrConflict) {
		t.Fatalf("stale previous seal: %v", err)
	}
	err = s.Commit(ctx, integrity.Commit{Set: "s2", Roots: []integrity.RootCommit{{Previous: seal.Sum, Seal: stale}},
		EndDeployment: "dep_none"})
	if !errors.Is(err, security.ErrConflict) {
		t.Fatalf("no open deployment: %v", err)
	}
	if got := paths(t, s, root); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("failed commit changed the baseline: %q", got)
	}
	if seals, _ := s.Seals(ctx); len(seals) != 1 || seals[0].Sum != seal.Sum {
		t.Fatalf("failed commit changed the seal: %+v", seals)
	}
	if got := eventTypes(t, s); len(got) != 0 {
		t.Fatalf("failed commit wrote events %v", got)
	}
	// The staged set survives a failed commit.
	commit(t, s, "s2", seal.Sum, 2, integrity.Batch{})
	if got := paths(t, s, root); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("%q", got)
	}
}

func obs(path string, state byte) integrity.Observation {
	o := integrity.Observation{Key: integrity.Key{Root: root, Path: path}}
	o.State[0], o.MAC[0] = state, state+1
	return o
}

func observations(t *testing.T, s integrity.Store, r string) []string {
	t.Helper()
	var out []string
	for o, err := range s.Observations(t.Context(), r) {
		check(t, err)
		out = append(out, fmt.Sprintf("%s=%d", o.Path, o.State[0]))
	}
	return out
}

func testReplaceAndObservations(t *testing.T, s Store) {
	ctx := t.Context()
	seal := commit(t, s, "s1", integrity.Hash{}, 1, integrity.Batch{Put: []integrity.Entry{
		entry("a", integrity.TypeFile, 1), entry("b", integrity.TypeFile, 2), entry("c", integrity.TypeFile, 3)}})
	_, err := s.SaveFindings(ctx, integrity.Findings{Observations: []integrity.Observation{
		obs("c", 3), obs("a", 1), obs("b", 2), obs("new", 4), obs("a.b", 5)}})
	check(t, err)
	_, err = s.SaveFindings(ctx, integrity.Findings{Observations: []integrity.Observation{
		obs("a.b", 0), obs("b", 6)}}) // forget a.b, replace b
	check(t, err)
	if got := observations(t, s, root); !slices.Equal(got, []string{"a=1", "b=6", "c=3", "new=4"}) {
		t.Fatalf("%q", got)
	}
	// A commit forgets the observations of the keys it changes.
	seal = commit(t, s, "s2", seal.Sum, 2, integrity.Batch{Put: []integrity.Entry{entry("a", integrity.TypeFile, 7)},
		Delete: []integrity.Key{{Root: root, Path: "c"}}})
	if got := observations(t, s, root); !slices.Equal(got, []string{"b=6", "new=4"}) {
		t.Fatalf("%q", got)
	}
	// Replace removes the root's entries and observations.
	check(t, s.Stage(ctx, "s3", integrity.Batch{Put: []integrity.Entry{entry("z", integrity.TypeFile, 8)}}))
	check(t, s.Commit(ctx, integrity.Commit{Set: "s3", Roots: []integrity.RootCommit{{Previous: seal.Sum, Replace: true,
		Seal: integrity.Seal{Root: root, UpdatedAt: t0}}}}))
	if got := paths(t, s, root); !slices.Equal(got, []string{"z"}) {
		t.Fatalf("%q", got)
	}
	if got := observations(t, s, root); len(got) != 0 {
		t.Fatalf("%q", got)
	}
}

func testContent(t *testing.T, s Store) {
	ctx := t.Context()
	e := entry("a.txt", integrity.TypeFile, 1)
	e.ContentKept = true
	e2 := entry("b.txt", integrity.TypeFile, 1) // same content
	e2.ContentKept = true
	data := []byte("hello\n")
	seal := commit(t, s, "s1", integrity.Hash{}, 1, integrity.Batch{Put: []integrity.Entry{e, e2},
		Blobs: []integrity.Blob{{Hash: e.Hash, Data: data}, {Hash: e.Hash, Data: data}}})
	got, err := s.Content(ctx, e.Hash)
	check(t, err)
	if string(got) != "hello\n" {
		t.Fatalf("%q", got)
	}
	got[0] = 'X' // the caller's copy
	if again, _ := s.Content(ctx, e.Hash); string(again) != "hello\n" {
		t.Fatalf("content shared with the caller: %q", again)
	}
	// Still referenced by b.txt after a.txt goes.
	commit(t, s, "s2", seal.Sum, 2, integrity.Batch{Delete: []integrity.Key{e.Key}})
	if _, err := s.Content(ctx, e.Hash); err != nil {
		t.Fatalf("content still referenced: %v", err)
	}
	if _, err := s.Content(ctx, integrity.Hash{9}); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("unknown content: %v", err)
	}
}

func testIterateWhileWriting(t *testing.T, s Store) {
	ctx := t.Context()
	var b integrity.Batch
	for i := range 300 {
		b.Put = append(b.Put, entry(fmt.Sprintf("f%03d", i), integrity.TypeFile, byte(i)))
	}
	commit(t, s, "s1", integrity.Hash{}, 1, b)
	_, err := s.SaveFindings(ctx, integrity.Findings{Observations: []integrity.Observation{obs("f001", 1)}})
	check(t, err)
	n := 0
	for e, err := range s.Entries(ctx, root) {
		check(t, err)
		// Another iteration and writes, from inside the iteration.
		for o, err := range s.Observations(ctx, root) {
			check(t, err)
			_ = o
		}
		_, err := s.SaveFindings(ctx, integrity.Findings{Alerts: []integrity.Alert{newAlert(e.Path, integrity.SeverityLow, t0)}})
		check(t, err)
		n++
	}
	if n != 300 {
		t.Fatalf("iterated %d entries", n)
	}
	if _, total, err := s.ListAlerts(ctx, integrity.AlertQuery{Limit: 1}); err != nil || total != 300 {
		t.Fatalf("%d %v", total, err)
	}
}

func newAlert(path string, sev integrity.Severity, at time.Time) integrity.Alert {
	k := integrity.Key{Root: root, Path: path}
	a := integrity.Alert{Host: "web-1.example", Key: k, FilePath: k.FilePath(), Type: integrity.AlertViolation, Change: integrity.ChangeModified,
		Severity: sev, Details: "File hash mismatch — expected: 00, got: 01", CheckID: "chk_x", CreatedAt: at, UpdatedAt: at}
	a.State[0] = 3
	return a
}

func testAlerts(t *testing.T, s Store) {
	ctx := t.Context()
	in := []integrity.Alert{
		newAlert("a", integrity.SeverityMedium, t0),
		newAlert("b", integrity.SeverityCritical, t0.Add(time.Minute)),
		newAlert("c", integrity.SeverityLow, t0.Add(time.Minute)),
		newAlert("d", integrity.SeverityCritical, t0.Add(2*time.Minute)),
	}
	var seen []int64
	ids, err := s.SaveFindings(ctx, integrity.Findings{Alerts: in, Observations: []integrity.Observation{obs("a", 3)},
		Events: func(added []integrity.Alert) []security.Event {
			for _, a := range added {
				seen = append(seen, a.ID)
			}
			return []security.Event{{Time: t0, Type: integrity.EventAlertRaised}}
		}})
	check(t, err)
	if len(ids) != 4 || !slices.Equal(ids, seen) || !slices.IsSorted(ids) || ids[0] <= 0 {
		t.Fatalf("ids %v, events saw %v", ids, seen)
	}
	got, err := s.Alert(ctx, ids[1])
	check(t, err)
	want := in[1]
	want.ID = ids[1]
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("times %v", got.CreatedAt)
	}
	got.CreatedAt, got.UpdatedAt = want.CreatedAt, want.UpdatedAt
	if got != want {
		t.Fatalf("alert %+v, want %+v", got, want)
	}
	if _, err := s.Alert(ctx, 99999); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("unknown alert: %v", err)
	}
	list := func(q integrity.AlertQuery) ([]string, int) {
		t.Helper()
		as, total, err := s.ListAlerts(ctx, q)
		check(t, err)
		var ps []string
		for _, a := range as {
			ps = append(ps, a.Path)
		}
		return ps, total
	}
	for _, c := range []struct {
		q     integrity.AlertQuery
		want  []string
		total int
	}{
		{integrity.AlertQuery{Sort: integrity.SortCreatedDesc, Limit: 10}, []string{"d", "c", "b", "a"}, 4},
		{integrity.AlertQuery{Sort: integrity.SortCreatedAsc, Limit: 10}, []string{"a", "b", "c", "d"}, 4},
		{integrity.AlertQuery{Sort: integrity.SortSeverityDesc, Limit: 10}, []string{"d", "b", "a", "c"}, 4},
		{integrity.AlertQuery{Sort: integrity.SortCreatedDesc, Offset: 1, Limit: 2}, []string{"c", "b"}, 4},
		{integrity.AlertQuery{Sort: integrity.SortCreatedDesc, Offset: 9, Limit: 2}, nil, 4},
		{integrity.AlertQuery{Sort: integrity.SortCreatedAsc, Severity: integrity.SeverityCritical, Limit: 10}, []string{"b", "d"}, 2},
	} {
		if got, total := list(c.q); !slices.Equal(got, c.want) || total != c.total {
			t.Errorf("%+v: %q %d, want %q %d", c.q, got, total, c.want, c.total)
		}
	}
	n, _, err := s.SetAlertStatus(ctx, []int64{ids[0]}, integrity.StatusIgnored, t0.Add(time.Hour), nil)
	check(t, err)
	if n != 1 {
		t.Fatalf("affected %d", n)
	}
	ignored := integrity.StatusIgnored
	if got, total := list(integrity.AlertQuery{Status: &ignored, Limit: 10}); total != 1 || got[0] != "a" {
		t.Errorf("status filter: %q", got)
	}
	if a, _ := s.Alert(ctx, ids[0]); a.Status != integrity.StatusIgnored || !a.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("%+v", a)
	}
	if got := eventTypes(t, s); !slices.Equal(got, []security.EventType{integrity.EventAlertRaised}) {
		t.Fatalf("events %v", got)
	}
}

func testAlertBulk(t *testing.T, s Store) {
	ctx := t.Context()
	ids, err := s.SaveFindings(ctx, integrity.Findings{Alerts: []integrity.Alert{
		newAlert("a", integrity.SeverityLow, t0), newAlert("b", integrity.SeverityLow, t0), newAlert("c", integrity.SeverityLow, t0)}})
	check(t, err)
	called := false
	n, unknown, err := s.SetAlertStatus(ctx, []int64{ids[0], 777, ids[1], 555}, integrity.StatusResolved, t0,
		func([]integrity.Alert) []security.Event { called = true; return nil })
	check(t, err)
	if n != 0 || !slices.Equal(unknown, []int64{555, 777}) || called {
		t.Fatalf("affected %d, unknown %v, events called %v", n, unknown, called)
	}
	if a, _ := s.Alert(ctx, ids[0]); a.Status != integrity.StatusNew {
		t.Fatalf("changed despite unknown ids: %+v", a)
	}
	var before []integrity.Alert
	n, unknown, err = s.SetAlertStatus(ctx, []int64{ids[1], ids[0], ids[1]}, integrity.StatusResolved, t0.Add(time.Minute),
		func(b []integrity.Alert) []security.Event {
			before = b
			return []security.Event{{Time: t0, Type: integrity.EventAlertResolved}, {Time: t0, Type: integrity.EventAlertResolved}}
		})
	check(t, err)
	if n != 2 || len(unknown) != 0 || len(before) != 2 || before[0].ID != ids[0] || before[0].Status != integrity.StatusNew {
		t.Fatalf("affected %d, unknown %v, before %+v", n, unknown, before)
	}
	n, unknown, err = s.DeleteAlerts(ctx, []int64{ids[2], 888}, nil)
	check(t, err)
	if n != 0 || !slices.Equal(unknown, []int64{888}) {
		t.Fatalf("%d %v", n, unknown)
	}
	var deleted []integrity.Alert
	n, unknown, err = s.DeleteAlerts(ctx, []int64{ids[2], ids[0]}, func(d []integrity.Alert) []security.Event {
		deleted = d
		return []security.Event{{Time: t0, Type: integrity.EventAlertDeleted}}
	})
	check(t, err)
	if n != 2 || len(unknown) != 0 || len(deleted) != 2 || deleted[0].Status != integrity.StatusResolved {
		t.Fatalf("%d %v %+v", n, unknown, deleted)
	}
	if _, total, _ := s.ListAlerts(ctx, integrity.AlertQuery{Limit: 10}); total != 1 {
		t.Fatalf("total %d", total)
	}
	want := []security.EventType{integrity.EventAlertResolved, integrity.EventAlertResolved, integrity.EventAlertDeleted}
	if got := eventTypes(t, s); !slices.Equal(got, want) {
		t.Fatalf("events %v", got)
	}
}

func testDeployment(t *testing.T, s Store) {
	ctx := t.Context()
	if _, err := s.Deployment(ctx); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("no deployment: %v", err)
	}
	d := integrity.Deployment{ID: "dep_1", Description: "release", StartedAt: t0, ActorUserID: 4}
	d.MAC[0] = 1
	check(t, s.BeginDeployment(ctx, d, []security.Event{{Time: t0, Type: integrity.EventDeploymentStarted}}))
	if err := s.BeginDeployment(ctx, integrity.Deployment{ID: "dep_2"}, []security.Event{{Time: t0, Type: integrity.EventDeploymentStarted}}); !errors.Is(err, security.ErrConflict) {
		t.Fatalf("second deployment: %v", err)
	}
	got, err := s.Deployment(ctx)
	check(t, err)
	if !got.StartedAt.Equal(t0) {
		t.Fatalf("%v", got.StartedAt)
	}
	got.StartedAt = t0
	if got != d {
		t.Fatalf("%+v", got)
	}
	if err := s.Commit(ctx, integrity.Commit{EndDeployment: "dep_other"}); !errors.Is(err, security.ErrConflict) {
		t.Fatalf("ending another deployment: %v", err)
	}
	if got, err := s.EndedDeployments(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("history while open: %+v %v", got, err)
	}
	end1 := integrity.DeploymentEnd{EndedAt: t0.Add(time.Hour), EndedByUserID: 5, Accepted: 3}
	check(t, s.Commit(ctx, integrity.Commit{EndDeployment: "dep_1", Ended: end1,
		Events: []security.Event{{Time: t0, Type: integrity.EventDeploymentEnded}}}))
	if _, err := s.Deployment(ctx); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("after end: %v", err)
	}
	want := []security.EventType{integrity.EventDeploymentStarted, integrity.EventDeploymentEnded}
	if got := eventTypes(t, s); !slices.Equal(got, want) {
		t.Fatalf("events %v", got)
	}

	// The history: latest ended first; of two ended at the same time, the
	// one committed later first; an ended window's id may be reused.
	ends := map[string]integrity.DeploymentEnd{"dep_1": end1}
	for _, c := range []struct {
		id  string
		end time.Duration
	}{{"dep_2", 3 * time.Hour}, {"dep_3", 2 * time.Hour}, {"dep_4", 3 * time.Hour}} {
		d := integrity.Deployment{ID: c.id, Description: "d " + c.id, StartedAt: t0.Add(time.Minute), ActorUserID: 6}
		check(t, s.BeginDeployment(ctx, d, nil))
		ends[c.id] = integrity.DeploymentEnd{EndedAt: t0.Add(c.end), EndedByUserID: 7, Accepted: int64(len(ends))}
		check(t, s.Commit(ctx, integrity.Commit{EndDeployment: c.id, Ended: ends[c.id]}))
	}
	check(t, s.BeginDeployment(ctx, integrity.Deployment{ID: "dep_open", StartedAt: t0}, nil))
	for limit, want := range map[int][]string{10: {"dep_4", "dep_2", "dep_3", "dep_1"}, 2: {"dep_4", "dep_2"}, 1: {"dep_4"}} {
		got, err := s.EndedDeployments(ctx, limit)
		check(t, err)
		var ids []string
		for _, d := range got {
			ids = append(ids, d.ID)
			e := ends[d.ID]
			if !d.EndedAt.Equal(e.EndedAt) || d.EndedByUserID != e.EndedByUserID || d.Accepted != e.Accepted {
				t.Fatalf("%s ended as %+v, want %+v", d.ID, d.DeploymentEnd, e)
			}
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("limit %d: %v, want %v", limit, ids, want)
		}
		if first := got[0]; limit == 1 && (first.Description != "d dep_4" || first.ActorUserID != 6 ||
			!first.StartedAt.Equal(t0.Add(time.Minute))) {
			t.Fatalf("%+v", first)
		}
	}
	got, err = s.Deployment(ctx)
	check(t, err)
	hist, err := s.EndedDeployments(ctx, 10)
	check(t, err)
	last := hist[len(hist)-1]
	last.StartedAt = t0
	if got.ID != "dep_open" || last.Deployment != d {
		t.Fatalf("open %+v; dep_1 in the history %+v, want %+v", got, last.Deployment, d)
	}
}

// commitTo stages b under set in s and commits it for root against prev,
// with a seal whose sum starts with sum.
func commitTo(t *testing.T, s integrity.Store, set string, prev integrity.Hash, sum byte, replace bool, b integrity.Batch) integrity.Hash {
	t.Helper()
	ctx := t.Context()
	check(t, s.Stage(ctx, set, b))
	seal := integrity.Seal{Root: root, Entries: int64(len(b.Put)), UpdatedAt: t0}
	seal.Sum[0] = sum
	check(t, s.Commit(ctx, integrity.Commit{Set: set, Roots: []integrity.RootCommit{{Previous: prev, Replace: replace, Seal: seal}}}))
	return seal.Sum
}

func testHostStores(t *testing.T, s Store) {
	hs, ok := s.(integrity.HostStores)
	if !ok {
		t.Skip("the store does not implement integrity.HostStores")
	}
	ctx := t.Context()
	a, b := hs.IntegrityStore("web-a"), hs.IntegrityStore("web-b")
	seals := func(st integrity.Store) []integrity.Hash {
		t.Helper()
		ss, err := st.Seals(ctx)
		check(t, err)
		var out []integrity.Hash
		for _, seal := range ss {
			out = append(out, seal.Sum)
		}
		return out
	}
	// The same root on two machines: two baselines, sharing one content.
	shared := entry("shared.txt", integrity.TypeFile, 7)
	shared.ContentKept = true
	blob := integrity.Blob{Hash: shared.Hash, Data: []byte("same on both\n")}
	sumA := commitTo(t, a, "sa", integrity.Hash{}, 1, false, integrity.Batch{
		Put: []integrity.Entry{shared, entry("only-a", integrity.TypeFile, 1)}, Blobs: []integrity.Blob{blob}})
	sumB := commitTo(t, b, "sb", integrity.Hash{}, 2, false, integrity.Batch{
		Put: []integrity.Entry{shared, entry("only-b", integrity.TypeFile, 2)}, Blobs: []integrity.Blob{blob}})
	if got := paths(t, a, root); !slices.Equal(got, []string{"only-a", "shared.txt"}) {
		t.Fatalf("host a: %q", got)
	}
	if got := paths(t, b, root); !slices.Equal(got, []string{"only-b", "shared.txt"}) {
		t.Fatalf("host b: %q", got)
	}
	if _, err := a.Entry(ctx, integrity.Key{Root: root, Path: "only-b"}); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("host a reads host b's entry: %v", err)
	}
	if got := seals(a); !slices.Equal(got, []integrity.Hash{sumA}) {
		t.Fatalf("host a's seals: %v", got)
	}
	if got := seals(b); !slices.Equal(got, []integrity.Hash{sumB}) {
		t.Fatalf("host b's seals: %v", got)
	}
	// A commit is checked against its own host's seal.
	check(t, a.Stage(ctx, "stale", integrity.Batch{}))
	if err := a.Commit(ctx, integrity.Commit{Set: "stale", Roots: []integrity.RootCommit{{Previous: sumB,
		Seal: integrity.Seal{Root: root}}}}); !errors.Is(err, security.ErrConflict) {
		t.Fatalf("commit on a against b's seal: %v", err)
	}
	check(t, a.DiscardStaged(ctx, "stale"))

	// Observations are per host.
	_, err := a.SaveFindings(ctx, integrity.Findings{Observations: []integrity.Observation{obs("only-a", 3)}})
	check(t, err)
	if got := observations(t, b, root); len(got) != 0 {
		t.Fatalf("host b sees host a's observations: %q", got)
	}
	if got := observations(t, a, root); !slices.Equal(got, []string{"only-a=3"}) {
		t.Fatalf("host a's observations: %q", got)
	}

	// Discarding every staged set of one host keeps the other's.
	check(t, b.Stage(ctx, "sb2", integrity.Batch{Put: []integrity.Entry{entry("staged-b", integrity.TypeFile, 4)}}))
	check(t, a.DiscardStaged(ctx, ""))
	sumB = commitTo(t, b, "sb2", sumB, 3, false, integrity.Batch{})
	if got := paths(t, b, root); !slices.Equal(got, []string{"only-b", "shared.txt", "staged-b"}) {
		t.Fatalf("host a's discard dropped host b's staged set: %q", got)
	}

	// Content stays while any host refers to it.
	commitTo(t, a, "sa2", sumA, 4, true, integrity.Batch{Put: []integrity.Entry{entry("new-a", integrity.TypeFile, 5)}})
	if got := paths(t, b, root); !slices.Equal(got, []string{"only-b", "shared.txt", "staged-b"}) {
		t.Fatalf("host a's replace changed host b's baseline: %q", got)
	}
	if data, err := b.Content(ctx, shared.Hash); err != nil || string(data) != string(blob.Data) {
		t.Fatalf("content host b refers to: %q %v", data, err)
	}
	commitTo(t, b, "sb3", sumB, 5, false, integrity.Batch{Delete: []integrity.Key{shared.Key}})
	if _, err := a.Content(ctx, shared.Hash); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("content no host refers to: %v", err)
	}

	// One open deployment per host.
	d := integrity.Deployment{ID: "dep_a", Description: "a", StartedAt: t0}
	check(t, a.BeginDeployment(ctx, d, nil))
	if _, err := b.Deployment(ctx); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("host b sees host a's deployment: %v", err)
	}
	check(t, b.BeginDeployment(ctx, integrity.Deployment{ID: "dep_b", StartedAt: t0}, nil))
	if err := b.Commit(ctx, integrity.Commit{EndDeployment: "dep_a"}); !errors.Is(err, security.ErrConflict) {
		t.Fatalf("host b ends host a's deployment: %v", err)
	}
	check(t, b.Commit(ctx, integrity.Commit{EndDeployment: "dep_b", Ended: integrity.DeploymentEnd{EndedAt: t0}}))
	if got, err := a.Deployment(ctx); err != nil || got.ID != "dep_a" {
		t.Fatalf("host a's deployment: %+v %v", got, err)
	}
	if got, err := a.EndedDeployments(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("host a sees host b's ended deployment: %+v %v", got, err)
	}
	if got, err := b.EndedDeployments(ctx, 10); err != nil || len(got) != 1 || got[0].ID != "dep_b" {
		t.Fatalf("host b's ended deployments: %+v %v", got, err)
	}

	// Alerts are shared, each with its host.
	alertA, alertB := newAlert("only-a", integrity.SeverityLow, t0), newAlert("only-b", integrity.SeverityHigh, t0)
	alertA.Host, alertB.Host = "web-a", "web-b"
	idsA, err := a.SaveFindings(ctx, integrity.Findings{Alerts: []integrity.Alert{alertA}})
	check(t, err)
	idsB, err := b.SaveFindings(ctx, integrity.Findings{Alerts: []integrity.Alert{alertB}})
	check(t, err)
	for _, st := range []integrity.Store{a, b, s} {
		list, total, err := st.ListAlerts(ctx, integrity.AlertQuery{Sort: integrity.SortSeverityDesc, Limit: 10})
		check(t, err)
		if total != 2 || len(list) != 2 || list[0].Host != "web-b" || list[1].Host != "web-a" {
			t.Fatalf("alerts: %d %+v", total, list)
		}
	}
	if got, err := b.Alert(ctx, idsA[0]); err != nil || got.Host != "web-a" {
		t.Fatalf("host a's alert read on b: %+v %v", got, err)
	}
	if n, unknown, err := b.SetAlertStatus(ctx, []int64{idsA[0], idsB[0]}, integrity.StatusResolved, t0, nil); err != nil || n != 2 || len(unknown) != 0 {
		t.Fatalf("resolve both hosts' alerts on b: %d %v %v", n, unknown, err)
	}
}

func testScanLock(t *testing.T, s Store) {
	l, ok := s.(integrity.ScanLocker)
	if !ok {
		t.Skip("the store does not implement integrity.ScanLocker")
	}
	ctx := t.Context()
	newCheck := func() integrity.Check {
		return integrity.Check{ID: security.NewID(integrity.CheckIDPrefix), Host: "web-1", Kind: integrity.CheckScan,
			Status: integrity.CheckRunning, StartedAt: t0}
	}
	recorded := func(want integrity.Check) {
		t.Helper()
		got, err := l.RecordedCheck(ctx, want.ID)
		check(t, err)
		if !got.StartedAt.Equal(want.StartedAt) || !got.FinishedAt.Equal(want.FinishedAt) {
			t.Fatalf("recorded times %v %v, want %v %v", got.StartedAt, got.FinishedAt, want.StartedAt, want.FinishedAt)
		}
		got.StartedAt, got.FinishedAt = want.StartedAt, want.FinishedAt
		if got != want {
			t.Fatalf("recorded %+v\nwant     %+v", got, want)
		}
	}
	busy := func(wantID string) {
		t.Helper()
		lease, err := l.LockScan(ctx, newCheck(), false)
		var be *integrity.BusyError
		if !errors.As(err, &be) || !errors.Is(err, security.ErrConflict) || be.CheckID != wantID {
			if lease != nil {
				lease.Release(ctx)
			}
			t.Fatalf("lock held for %q: %v", wantID, err)
		}
	}

	c1 := newCheck()
	lease1, err := l.LockScan(ctx, c1, false)
	check(t, err)
	recorded(c1)
	busy(c1.ID)
	c1.FilesTotal, c1.FilesScanned, c1.Duration = 10, 5, time.Second
	check(t, lease1.Record(ctx, c1))
	recorded(c1)

	// A waiter gets the lock once it is released.
	c2 := newCheck()
	c2.Duration = 3 * time.Second
	type result struct {
		lease integrity.ScanLease
		err   error
	}
	waited := make(chan result, 1)
	go func() {
		lease, err := l.LockScan(ctx, c2, true)
		waited <- result{lease, err}
	}()
	c1.Status, c1.FinishedAt, c1.ViolationsFound, c1.Accepted = integrity.CheckComplete, t0.Add(time.Minute), 2, 1
	check(t, lease1.Record(ctx, c1))
	check(t, lease1.Release(ctx))
	recorded(c1)
	r := <-waited
	check(t, r.err)
	recorded(c2)
	busy(c2.ID)

	// A check still recorded as running when its lock is released is
	// reported failed.
	check(t, r.lease.Release(ctx))
	got, err := l.RecordedCheck(ctx, c2.ID)
	check(t, err)
	if got.Status != integrity.CheckFailed || got.Error == "" || !got.FinishedAt.Equal(c2.StartedAt.Add(c2.Duration)) {
		t.Fatalf("abandoned check: %+v", got)
	}

	// A lock taken for no check, and a later check under it.
	lease3, err := l.LockScan(ctx, integrity.Check{}, false)
	check(t, err)
	busy("")
	c4 := newCheck()
	check(t, lease3.Record(ctx, c4))
	busy(c4.ID)
	c4.Status, c4.FinishedAt = integrity.CheckFailed, t0.Add(time.Second)
	c4.Error = "cancelled"
	check(t, lease3.Record(ctx, c4))
	busy("")
	recorded(c4)

	// Waiting ends with ctx.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if lease, err := l.LockScan(cctx, newCheck(), true); err == nil {
		lease.Release(ctx)
		t.Fatal("LockScan waited for a held lock past its context")
	}
	// Another host's lock is another lock.
	if hs, ok := s.(integrity.HostStores); ok {
		other, ok := hs.IntegrityStore("web-other").(integrity.ScanLocker)
		if !ok {
			t.Fatal("a host's Store is not a ScanLocker")
		}
		lease, err := other.LockScan(ctx, newCheck(), false)
		check(t, err)
		check(t, lease.Release(ctx))
	}
	check(t, lease3.Release(ctx))
	lease, err := l.LockScan(ctx, integrity.Check{}, false)
	check(t, err)
	check(t, lease.Release(ctx))
	if _, err := l.RecordedCheck(ctx, security.NewID(integrity.CheckIDPrefix)); !errors.Is(err, security.ErrNotFound) {
		t.Fatalf("unknown check: %v", err)
	}
}
