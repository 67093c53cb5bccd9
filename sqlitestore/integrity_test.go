package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/integrity/integritytest"
	"github.com/propops/propsec/internal/integritysql"
	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
)

func TestIntegrityConformance(t *testing.T) {
	integritytest.Run(t, func(t *testing.T) integritytest.Store {
		st, _ := openTemp(t)
		return st
	})
}

var integrityT0 = time.Date(2024, 6, 14, 3, 12, 0, 123456789, time.UTC)

// testEntry is an entry of root with every field set from seed.
func testEntry(root, path string, seed byte) integrity.Entry {
	e := integrity.Entry{Key: integrity.Key{Root: root, Path: path}, Type: integrity.TypeFile, Size: int64(seed),
		Mode: 0o4755, UID: 1<<32 - 1, GID: 7, MTime: integrityT0, CTime: integrityT0.Add(time.Duration(seed)),
		Inode: 1<<64 - 1 - uint64(seed), Device: 1 << 40, Target: "../t\xff" + path}
	e.Hash[0], e.Hash[31], e.MAC[0] = seed, 1, seed+1
	return e
}

// commitSet stages b under set and commits it for root, against the seal
// the root has now.
func commitSet(t *testing.T, st *Store, set, root string, b integrity.Batch, replace bool) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, st.Stage(ctx, set, b))
	require.NoError(t, st.Commit(ctx, integrity.Commit{Set: set, Roots: []integrity.RootCommit{
		{Previous: sealOf(t, st, root), Replace: replace, Seal: integrity.Seal{Root: root, Sum: integrity.Hash{byte(len(set))}, UpdatedAt: integrityT0}}}}))
}

func sealOf(t *testing.T, st *Store, root string) integrity.Hash {
	t.Helper()
	seals, err := st.Seals(t.Context())
	require.NoError(t, err)
	for _, s := range seals {
		if s.Root == root {
			return s.Sum
		}
	}
	return integrity.Hash{}
}

func entryPaths(t *testing.T, seq func(func(integrity.Entry, error) bool)) []string {
	t.Helper()
	var out []string
	for e, err := range seq {
		require.NoError(t, err)
		out = append(out, e.Path)
	}
	return out
}

// Paths, roots, targets and alert file paths are stored byte for byte,
// invalid UTF-8 included, and paths sort as bytes.
func TestIntegrityBytePaths(t *testing.T) {
	st, _ := openTemp(t)
	ctx := t.Context()
	root := "/srv/\xfe\xff"
	paths := []string{"", "a", "a\x00b", "a\x80", "b/\xc3\xa9", "\xc3\xa9", "\xff", "\xff\xfe"}
	var b integrity.Batch
	for i, p := range slices.Backward(paths) {
		b.Put = append(b.Put, testEntry(root, p, byte(i)))
	}
	commitSet(t, st, "s", root, b, false)
	assert.Equal(t, paths, entryPaths(t, st.Entries(ctx, root)))
	assert.Empty(t, entryPaths(t, st.Entries(ctx, "/srv/\xfe")), "another root")
	for _, want := range b.Put {
		got, err := st.Entry(ctx, want.Key)
		require.NoError(t, err)
		assert.True(t, got.MTime.Equal(want.MTime) && got.CTime.Equal(want.CTime))
		got.MTime, got.CTime = want.MTime, want.CTime
		assert.Equal(t, want, got)
	}
	seals, err := st.Seals(ctx)
	require.NoError(t, err)
	require.Len(t, seals, 1)
	assert.Equal(t, root, seals[0].Root)

	k := integrity.Key{Root: root, Path: "\xff"}
	o := integrity.Observation{Key: k, State: integrity.Hash{1}, MAC: integrity.Hash{2}}
	a := integrity.Alert{Key: k, FilePath: k.FilePath(), Type: integrity.AlertViolation, Change: integrity.ChangeAdded,
		Severity: integrity.SeverityHigh, Details: "added", CheckID: "chk_1", CreatedAt: integrityT0, UpdatedAt: integrityT0}
	ids, err := st.SaveFindings(ctx, integrity.Findings{Alerts: []integrity.Alert{a}, Observations: []integrity.Observation{o}})
	require.NoError(t, err)
	got, err := st.Alert(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, "/srv/\xfe\xff/\xff", got.FilePath)
	assert.Equal(t, k, got.Key)
	var obs []integrity.Observation
	for o, err := range st.Observations(ctx, root) {
		require.NoError(t, err)
		obs = append(obs, o)
	}
	assert.Equal(t, []integrity.Observation{o}, obs)
}

// Content is stored once per hash, only once committed, and dropped once
// no entry refers to it.
func TestIntegrityContentLifecycle(t *testing.T) {
	st, _ := openTemp(t)
	ctx := t.Context()
	const root = "/r"
	count := func(table string) int {
		var n int
		require.NoError(t, st.r.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}
	visible := func(h integrity.Hash) bool {
		_, err := st.Content(ctx, h)
		if err != nil && !errors.Is(err, security.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	kept := func(path string, h byte) (integrity.Entry, integrity.Blob) {
		e := testEntry(root, path, h)
		e.ContentKept = true
		return e, integrity.Blob{Hash: e.Hash, Data: []byte("content " + string(rune('a'+h)))}
	}
	a, blobA := kept("a", 1)
	b, blobB := kept("b", 2)

	// Staged content is not visible, and a discard drops it.
	require.NoError(t, st.Stage(ctx, "s1", integrity.Batch{Put: []integrity.Entry{a}, Blobs: []integrity.Blob{blobA, blobA}}))
	assert.False(t, visible(a.Hash))
	require.NoError(t, st.DiscardStaged(ctx, "s1"))
	assert.Zero(t, count("integrity_staged_blobs"))
	assert.Zero(t, count("integrity_staged"))
	assert.Zero(t, count("integrity_content_data"))

	// Two sets stage the same content: discarding one leaves the other,
	// whose commit stores it once.
	require.NoError(t, st.Stage(ctx, "s2", integrity.Batch{Put: []integrity.Entry{a}, Blobs: []integrity.Blob{blobA}}))
	require.NoError(t, st.Stage(ctx, "s2", integrity.Batch{Blobs: []integrity.Blob{blobA}}))
	require.NoError(t, st.Stage(ctx, "s3", integrity.Batch{Put: []integrity.Entry{a}, Blobs: []integrity.Blob{blobA}}))
	require.NoError(t, st.DiscardStaged(ctx, "s3"))
	commitSet(t, st, "s2", root, integrity.Batch{}, false)
	data, err := st.Content(ctx, a.Hash)
	require.NoError(t, err)
	assert.Equal(t, blobA.Data, data)
	assert.Equal(t, 1, count("integrity_content"))
	assert.Equal(t, 1, count("integrity_content_data"), "the second copy of the data is dropped")
	assert.Zero(t, count("integrity_staged_blobs"))

	// Content no entry refers to is dropped by the next commit that drops
	// a reference.
	stray := integrity.Blob{Hash: integrity.Hash{9}, Data: []byte("stray")}
	commitSet(t, st, "s4", root, integrity.Batch{Put: []integrity.Entry{b}, Blobs: []integrity.Blob{blobA, blobB, stray}}, false)
	assert.True(t, visible(b.Hash))
	assert.Equal(t, 3, count("integrity_content"))

	// Content whose last entry changes or goes is dropped with it, and
	// content still referenced stays.
	b2 := b
	b2.Path = "b2"
	commitSet(t, st, "s5", root, integrity.Batch{Put: []integrity.Entry{b2}}, false)
	a2 := a
	a2.ContentKept = false // a is now binary: its content goes
	commitSet(t, st, "s6", root, integrity.Batch{Put: []integrity.Entry{a2}, Delete: []integrity.Key{b.Key}}, false)
	assert.False(t, visible(a.Hash))
	assert.False(t, visible(stray.Hash))
	assert.True(t, visible(b.Hash), "still referenced by b2")
	assert.Equal(t, 1, count("integrity_content"))

	// Replace drops the content of the entries it removes; empty content
	// is content too.
	empty := testEntry(root, "empty", 3)
	empty.ContentKept = true
	commitSet(t, st, "s7", root, integrity.Batch{Put: []integrity.Entry{empty}, Blobs: []integrity.Blob{{Hash: empty.Hash}}}, true)
	assert.False(t, visible(b.Hash))
	data, err = st.Content(ctx, empty.Hash)
	require.NoError(t, err)
	assert.NotNil(t, data)
	assert.Empty(t, data)
	assert.Equal(t, 1, count("integrity_content"))
	assert.Equal(t, 1, count("integrity_content_data"), "no data left that nothing refers to")
}

// An iteration that runs across commits yields every entry that stayed,
// each once and in order, page after page.
func TestIntegrityPagesAcrossCommits(t *testing.T) {
	st, _ := openTemp(t)
	ctx := t.Context()
	const root = "/r"
	n := 3*integrityPage + 7
	name := func(i int) string { return fmt.Sprintf("f%06d", 2*i) }
	var b integrity.Batch
	for i := range n {
		b.Put = append(b.Put, testEntry(root, name(i), byte(i)))
	}
	commitSet(t, st, "fill", root, b, false)

	var got []string
	i := 0
	for e, err := range st.Entries(ctx, root) {
		require.NoError(t, err)
		got = append(got, e.Path)
		if i == integrityPage/2 || i == integrityPage+3 {
			// Delete one ahead, add one behind and one ahead.
			commitSet(t, st, fmt.Sprint("c", i), root, integrity.Batch{
				Put:    []integrity.Entry{testEntry(root, name(i-10)+"x", 1), testEntry(root, name(i+integrityPage)+"x", 1)},
				Delete: []integrity.Key{{Root: root, Path: name(i + 2*integrityPage)}},
			}, false)
		}
		i++
	}
	assert.True(t, slices.IsSorted(got))
	seen := map[string]bool{}
	for _, p := range got {
		assert.False(t, seen[p], "%s twice", p)
		seen[p] = true
	}
	for i := range n {
		deleted := i == integrityPage/2+2*integrityPage || i == integrityPage+3+2*integrityPage
		assert.Equal(t, !deleted, seen[name(i)], name(i))
	}
	assert.True(t, seen[name(integrityPage/2+integrityPage)+"x"], "added ahead")
	assert.False(t, seen[name(integrityPage/2-10)+"x"], "added behind")
}

// A slow iteration holds no reader connection and no read transaction
// between pages: the writer commits, and a checkpoint empties the WAL,
// while two iterations are paused.
func TestIntegrityIterationDoesNotHoldTheDatabase(t *testing.T) {
	st, _ := openTemp(t)
	ctx := t.Context()
	const root = "/r"
	var b integrity.Batch
	for i := range 2*integrityPage + 1 {
		b.Put = append(b.Put, testEntry(root, fmt.Sprintf("f%05d", i), byte(i)))
	}
	commitSet(t, st, "fill", root, b, false)
	_, err := st.SaveFindings(ctx, integrity.Findings{Observations: []integrity.Observation{
		{Key: integrity.Key{Root: root, Path: "f00001"}, State: integrity.Hash{1}}}})
	require.NoError(t, err)

	nextE, stopE := iter.Pull2(st.Entries(ctx, root))
	defer stopE()
	nextO, stopO := iter.Pull2(st.Observations(ctx, root))
	defer stopO()
	_, err, ok := nextE()
	require.True(t, ok)
	require.NoError(t, err)
	_, err, ok = nextO()
	require.True(t, ok)
	require.NoError(t, err)

	commitSet(t, st, "more", root, integrity.Batch{Put: []integrity.Entry{testEntry(root, "g", 1)}}, false)
	var busy, logFrames, done int
	require.NoError(t, st.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done))
	assert.Equal(t, 0, busy, "checkpoint blocked by a paused iteration")
	assert.Equal(t, 0, logFrames)
	count := 1
	for {
		_, err, ok := nextE()
		if !ok {
			break
		}
		require.NoError(t, err)
		count++
	}
	assert.Equal(t, 2*integrityPage+2, count)
}

// Iterations report a cancelled context.
func TestIntegrityIterationCancelled(t *testing.T) {
	st, _ := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, err := range st.Entries(ctx, "/r") {
		assert.ErrorIs(t, err, context.Canceled)
	}
	for _, err := range st.Observations(ctx, "/r") {
		assert.ErrorIs(t, err, context.Canceled)
	}
}

// Every filter and order of the alert list is served by an index, without
// sorting.
func TestIntegrityAlertListPlans(t *testing.T) {
	st, _ := openTemp(t)
	status := integrity.StatusResolved
	for _, sort := range []integrity.AlertSort{integrity.SortCreatedDesc, integrity.SortCreatedAsc, integrity.SortSeverityDesc} {
		for _, byStatus := range []bool{false, true} {
			for _, sev := range []integrity.Severity{"", integrity.SeverityHigh} {
				q := integrity.AlertQuery{Sort: sort, Severity: sev, Limit: 10}
				if byStatus {
					q.Status = &status
				}
				count, list, args := alertListSQL(q)
				for _, query := range []string{count, list} {
					a := args
					if query == list {
						a = append(slices.Clone(args), 10, 0)
					}
					plan := queryPlan(t, st, query, a...)
					assert.NotContains(t, plan, "TEMP B-TREE", "%+v: %s", q, query)
					assert.Contains(t, plan, "INDEX", "%+v: %s", q, query)
				}
			}
		}
	}
}

func queryPlan(t *testing.T, st *Store, query string, args ...any) string {
	t.Helper()
	rows, err := st.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		lines = append(lines, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}

// Bulk updates take any number of ids, more than SQLite's 32,766
// parameters: they go to SQLite as one JSON array.
func TestIntegrityBulkManyIDs(t *testing.T) {
	st, _ := openTemp(t)
	ctx := t.Context()
	ids, err := st.SaveFindings(ctx, integrity.Findings{Alerts: []integrity.Alert{
		{Type: integrity.AlertViolation}, {Type: integrity.AlertViolation}, {Type: integrity.AlertViolation}}})
	require.NoError(t, err)
	const n = 33_000
	var many, unknownWant []int64
	for i := range int64(n) {
		many = append(many, ids[i%3])
		if i >= 3 {
			many = append(many, 1000+i)
			unknownWant = append(unknownWant, 1000+i)
		}
	}
	affected, unknown, err := st.SetAlertStatus(ctx, many, integrity.StatusResolved, integrityT0, nil)
	require.NoError(t, err)
	assert.Zero(t, affected)
	assert.True(t, slices.Equal(unknownWant, unknown), "unknown ids")
	var before []integrity.Alert
	affected, unknown, err = st.SetAlertStatus(ctx, many, integrity.StatusResolved, integrityT0,
		func(b []integrity.Alert) []security.Event { before = b; return nil })
	require.NoError(t, err)
	assert.Zero(t, affected)
	assert.Equal(t, len(unknownWant), len(unknown))
	assert.Nil(t, before, "events is not called when ids are unknown")
	var dups []int64
	for i := range n {
		dups = append(dups, ids[i%3])
	}
	affected, unknown, err = st.DeleteAlerts(ctx, dups, func(d []integrity.Alert) []security.Event { before = d; return nil })
	require.NoError(t, err)
	assert.Equal(t, 3, affected)
	assert.Empty(t, unknown)
	assert.Len(t, before, 3)
	// Ids are not reused after a delete.
	more, err := st.SaveFindings(ctx, integrity.Findings{Alerts: []integrity.Alert{{Type: integrity.AlertViolation}}})
	require.NoError(t, err)
	assert.Equal(t, ids[2]+1, more[0])
}

// A malformed record is an error, never a silently wrong entry.
func TestIntegrityMalformedRecord(t *testing.T) {
	st, _ := openTemp(t)
	ctx := t.Context()
	commitSet(t, st, "s", "/r", integrity.Batch{Put: []integrity.Entry{testEntry("/r", "a", 1)}}, false)
	_, err := st.w.ExecContext(ctx, `UPDATE integrity_entries SET record = x'0102'`)
	require.NoError(t, err)
	_, err = st.Entry(ctx, integrity.Key{Root: "/r", Path: "a"})
	assert.ErrorIs(t, err, integritysql.ErrMalformed)
	for _, err := range st.Entries(ctx, "/r") {
		assert.ErrorIs(t, err, integritysql.ErrMalformed)
	}
}

// The monitor end to end on SQLite, across a reopen of the database: one
// change of each kind, a file name that is not UTF-8, a diff from the
// stored content, a deployment window and a tampered record.
func TestIntegrityMonitorSQLite(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	dbPath := filepath.Join(t.TempDir(), "propsec.db")
	write := func(name, data string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(data), 0o644))
	}
	for i := range 50 {
		write(fmt.Sprintf("dir%d/file%d.txt", i%5, i), fmt.Sprintf("line one\nfile %d\nline three\n", i))
	}
	// Linux takes any bytes but "/" and NUL in a name; others want UTF-8.
	odd := "odd\xffname.txt"
	if runtime.GOOS != "linux" {
		odd = "odd name.txt"
	}
	write(odd, "odd\n")
	open := func() (*Store, *integrity.Monitor) {
		st, err := Open(ctx, dbPath)
		require.NoError(t, err)
		mon, err := integrity.New(integrity.Config{Store: st, Key: integrityKey, Roots: []string{root}, Workers: 2})
		require.NoError(t, err)
		return st, mon
	}
	closeBoth := func(st *Store, mon *integrity.Monitor) {
		require.NoError(t, mon.Close())
		require.NoError(t, st.Close())
	}
	scan := func(mon *integrity.Monitor) integrity.Check {
		t.Helper()
		c, err := mon.Scan(ctx)
		require.NoError(t, err)
		return c
	}

	st, mon := open()
	created, err := mon.Init(ctx)
	skipUnsupported(t, err)
	require.NoError(t, err)
	assert.Equal(t, []string{root}, created)
	assert.Zero(t, scan(mon).ViolationsFound)

	write("dir0/file0.txt", "line one\nchanged\nline three\n")
	write(odd, "odder\n")
	write("dir1/new.txt", "new\n")
	require.NoError(t, os.Remove(filepath.Join(root, "dir2/file2.txt")))
	c := scan(mon)
	assert.Equal(t, int64(6), c.ViolationsFound) // and dir1, dir2: their entries changed
	alerts, total, err := mon.Alerts(ctx, integrity.ListOptions{Sort: integrity.SortCreatedAsc})
	require.NoError(t, err)
	require.Equal(t, 6, total)
	changes := map[string]integrity.Change{}
	for _, a := range alerts {
		changes[a.Path] = a.Change
		if a.Path == "dir0/file0.txt" {
			d, err := mon.Diff(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, 1, d.LinesAdded)
			assert.Equal(t, 1, d.LinesRemoved)
			assert.Contains(t, d.Text, "-file 0\n+changed\n")
		}
	}
	assert.Equal(t, map[string]integrity.Change{"dir0/file0.txt": integrity.ChangeModified,
		odd: integrity.ChangeModified, "dir1/new.txt": integrity.ChangeAdded,
		"dir2/file2.txt": integrity.ChangeDeleted, "dir1": integrity.ChangeMetadata, "dir2": integrity.ChangeMetadata}, changes)
	closeBoth(st, mon)

	// After a reopen: the same states raise nothing new.
	st, mon = open()
	assert.Zero(t, scan(mon).ViolationsFound)

	// A deployment accepts what changed inside it.
	_, err = mon.BeginDeployment(ctx, integrity.Actor{}, "release")
	require.NoError(t, err)
	write("dir3/file3.txt", "deployed\n")
	ended, err := mon.EndDeployment(ctx, integrity.Actor{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), ended.Accepted, "the deployment's change, not those alerted on before")
	assert.Zero(t, scan(mon).ViolationsFound)

	// A record altered in the database is caught.
	rec := integritysql.Append(nil, &integrity.Entry{Type: integrity.TypeFile, Size: 1})
	_, err = st.w.ExecContext(ctx, `UPDATE integrity_entries SET record = ? WHERE path = ?`, rec, blob("dir4/file4.txt"))
	require.NoError(t, err)
	c = scan(mon)
	assert.Equal(t, int64(1), c.ViolationsFound)
	alerts, _, err = mon.Alerts(ctx, integrity.ListOptions{Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, integrity.AlertBaselineTampered, alerts[0].Type)
	closeBoth(st, mon)
}

// Alerts stored before migration 0004 have no host; they read as "".
func TestIntegrityHostMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "propsec.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	ms, err := sqlrow.LoadMigrations(migrationFiles)
	require.NoError(t, err)
	for _, m := range ms[:3] {
		_, err := db.ExecContext(ctx, m.SQL)
		require.NoError(t, err, m.Name)
	}
	_, err = db.ExecContext(ctx, `PRAGMA user_version = 3`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO integrity_alerts (root, path, file_path, type, change, severity, status,
		details, state, check_id, created_at, updated_at)
		VALUES (x'2f72', x'61', x'2f722f61', 'file_integrity_violation', 'modified', 'high', 0, 'd', zeroblob(32),
		'chk_1', 0, 0)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	st, err := Open(ctx, path)
	require.NoError(t, err)
	defer st.Close()
	a, err := st.Alert(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, "", a.Host)
	assert.Equal(t, "/r/a", a.FilePath)
	a.Host = "web-1"
	ids, err := st.SaveFindings(ctx, integrity.Findings{Alerts: []integrity.Alert{a}})
	require.NoError(t, err)
	got, err := st.Alert(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, "web-1", got.Host)
}
