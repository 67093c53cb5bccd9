package pgstore

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/blake3"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/integrity/integritytest"
	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/internal/storetest"
	"github.com/propops/propsec/security"
)

func TestIntegrityConformance(t *testing.T) {
	pgtest.DSN(t)
	integritytest.Run(t, func(t *testing.T) integritytest.Store { return openTest(t) })
}

var monitorKey = []byte("0123456789abcdef0123456789abcdef")

// gatedStore is a host's Store whose Entries, once armed, wait until gate
// is closed: it holds a scan of its Monitor running. It passes the scan
// lock through.
type gatedStore struct {
	integrity.Store
	armed   atomic.Bool
	entered chan struct{} // closed when an armed Entries is called
	gate    chan struct{}
	release func() // closes gate
}

// gate returns st gated.
func gate(st integrity.Store) *gatedStore {
	g := &gatedStore{Store: st, entered: make(chan struct{}), gate: make(chan struct{})}
	g.release = sync.OnceFunc(func() { close(g.gate) })
	return g
}

func (g *gatedStore) Entries(ctx context.Context, root string) iter.Seq2[integrity.Entry, error] {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		select {
		case <-g.gate:
		case <-ctx.Done(): // the Monitor closes: a failed test ends
		}
	}
	return g.Store.Entries(ctx, root)
}

func (g *gatedStore) LockScan(ctx context.Context, c integrity.Check, wait bool) (integrity.ScanLease, error) {
	return g.Store.(integrity.ScanLocker).LockScan(ctx, c, wait)
}

func (g *gatedStore) RecordedCheck(ctx context.Context, id string) (integrity.Check, error) {
	return g.Store.(integrity.ScanLocker).RecordedCheck(ctx, id)
}

func newMonitor(t *testing.T, st integrity.Store, host, root string) *integrity.Monitor {
	t.Helper()
	m, err := integrity.New(integrity.Config{Store: st, Host: host, Key: monitorKey, Roots: []string{root}, Workers: 1})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// TestTwoMonitorsOneHost runs two Monitors of one host on two Stores (two
// pools) on one schema, as two processes of a machine would: while one
// scans, the other's Start is refused with the running check's id, its
// Progress reports that check, and its synchronous operations wait for it.
func TestTwoMonitorsOneHost(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := t.Context()
	open := func() *Store {
		st, err := Open(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	stA, stB := open(), open()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "index.php"), "<?php echo 1;\n")
	const host = "web-1"

	gated := gate(stA.IntegrityStore(host))
	monA := newMonitor(t, gated, host, root)
	monB := newMonitor(t, stB, host, root)
	_, err := monB.Init(ctx)
	require.NoError(t, err)
	writeFile(t, filepath.Join(root, "index.php"), "<?php evil();\n")

	gated.armed.Store(true)
	id, err := monA.Start(ctx)
	require.NoError(t, err)
	<-gated.entered // A's scan holds the lock, and waits

	got, err := monB.Start(ctx)
	var busy *integrity.BusyError
	require.ErrorAs(t, err, &busy)
	assert.ErrorIs(t, err, security.ErrConflict)
	assert.Equal(t, id, got, "the running check's id")
	assert.Equal(t, host, busy.Host)
	c, err := monB.Progress(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, integrity.CheckRunning, c.Status)
	assert.Equal(t, host, c.Host)

	// B's synchronous scan waits for A's, then runs.
	scanned := make(chan error, 1)
	go func() {
		_, err := monB.Scan(ctx)
		scanned <- err
	}()
	gated.release()
	require.NoError(t, <-scanned)
	c, err = monA.Progress(ctx, id)
	require.NoError(t, err)
	require.Equal(t, integrity.CheckComplete, c.Status, "%+v", c)
	assert.EqualValues(t, 1, c.ViolationsFound)
	// B reports A's finished check from the store.
	c, err = monB.Progress(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, integrity.CheckComplete, c.Status)
	assert.EqualValues(t, 1, c.ViolationsFound)

	alerts, total, err := monB.Alerts(ctx, integrity.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, total, "one alert: B's scan saw the state A alerted on")
	assert.Equal(t, host, alerts[0].Host)
	assert.Equal(t, id, alerts[0].CheckID)
	// Either Monitor of the host may accept it.
	require.NoError(t, monB.AcceptAlert(ctx, integrity.Actor{}, alerts[0].ID))
	check, err := monA.Scan(ctx)
	require.NoError(t, err)
	assert.Zero(t, check.ViolationsFound)
}

// TestTwoHosts runs Monitors of two machines on one schema, watching the
// same root path (here, one directory whose content changes between the
// two baselines): each keeps its own baseline, they scan at the same time,
// and an alert of one host is listed by both but diffed and accepted only
// by its own.
func TestTwoHosts(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	root := t.TempDir()
	file := filepath.Join(root, "index.php")
	gated := gate(st.IntegrityStore("web-a"))
	monA := newMonitor(t, gated, "web-a", root)
	monB := newMonitor(t, st, "web-b", root)

	writeFile(t, file, "<?php echo 'a';\n")
	created, err := monA.Init(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{root}, created)
	writeFile(t, file, "<?php echo 'b';\n")
	created, err = monB.Init(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{root}, created, "web-b's baseline is its own")

	// web-b scans while a scan of web-a runs, and finds its files as it
	// recorded them; web-a finds its file changed.
	gated.armed.Store(true)
	id, err := monA.Start(ctx)
	require.NoError(t, err)
	<-gated.entered
	c, err := monB.Scan(ctx)
	require.NoError(t, err)
	assert.Zero(t, c.ViolationsFound)
	gated.release()
	c, err = monA.Scan(ctx) // after the running one
	require.NoError(t, err)
	assert.Zero(t, c.ViolationsFound, "the running scan raised the alert")
	c, err = monA.Progress(ctx, id)
	require.NoError(t, err)
	require.Equal(t, integrity.CheckComplete, c.Status, "%+v", c)
	assert.EqualValues(t, 1, c.ViolationsFound)

	alerts, _, err := monB.Alerts(ctx, integrity.ListOptions{})
	require.NoError(t, err)
	require.Len(t, alerts, 1, "both hosts list every alert")
	a := alerts[0]
	assert.Equal(t, "web-a", a.Host)
	var other *integrity.OtherHostError
	_, err = monB.Diff(ctx, a.ID)
	require.ErrorAs(t, err, &other)
	assert.Equal(t, "web-a", other.Host)
	assert.ErrorIs(t, err, security.ErrConflict)
	require.ErrorAs(t, monB.AcceptAlert(ctx, integrity.Actor{}, a.ID), &other)
	d, err := monA.Diff(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, d.LinesAdded)
	assert.Contains(t, d.Text, "-<?php echo 'a';")
	require.NoError(t, monA.AcceptAlert(ctx, integrity.Actor{}, a.ID))

	// Each host's baseline now holds the content it last accepted, one
	// copy shared by both and encrypted.
	want := blake3.Sum256([]byte("<?php echo 'b';\n"))
	for _, host := range []string{"web-a", "web-b"} {
		e, err := st.IntegrityStore(host).Entry(ctx, integrity.Key{Root: root, Path: "index.php"})
		require.NoError(t, err)
		require.Equal(t, integrity.Hash(want), e.Hash, host)
		data, err := st.Content(ctx, e.Hash)
		require.NoError(t, err)
		assert.NotContains(t, string(data), "echo", host)
	}
	writeFile(t, file, "<?php echo 'c';\n")
	for _, m := range []*integrity.Monitor{monA, monB} {
		c, err := m.Scan(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, c.ViolationsFound)
		as, _, err := m.Alerts(ctx, integrity.ListOptions{})
		require.NoError(t, err)
		for _, a := range as {
			if a.CheckID == c.ID {
				d, err := m.Diff(ctx, a.ID)
				require.NoError(t, err)
				assert.Contains(t, d.Text, "-<?php echo 'b';\n+<?php echo 'c';\n", a.Host)
			}
		}
	}
}

// TestScanLockFreedWhenConnectionDies: the lock of a process whose
// connection ends is free at once, and the check it ran is reported
// interrupted.
func TestScanLockFreedWhenConnectionDies(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	c := integrity.Check{ID: security.NewID(integrity.CheckIDPrefix), Host: "web-1", Kind: integrity.CheckScan,
		Status: integrity.CheckRunning, StartedAt: time.Date(2024, 6, 14, 3, 0, 0, 0, time.UTC), Duration: time.Minute}
	h := st.IntegrityStore("web-1").(*hostStore)
	lease, err := h.LockScan(ctx, c, false)
	require.NoError(t, err)
	_, err = h.LockScan(ctx, integrity.Check{}, false)
	require.ErrorIs(t, err, security.ErrConflict)

	// The server ends the lock's session, as when the process crashes.
	var pid int
	require.NoError(t, lease.(*scanLease).conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	_, err = st.pool.Exec(ctx, `SELECT pg_terminate_backend($1, 10000)`, pid)
	require.NoError(t, err)

	got, err := h.RecordedCheck(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, integrity.CheckFailed, got.Status)
	assert.Equal(t, interrupted, got.Error)
	assert.True(t, got.FinishedAt.Equal(c.StartedAt.Add(time.Minute)), "finished when last recorded: %v", got.FinishedAt)
	again, err := h.LockScan(ctx, integrity.Check{}, false)
	require.NoError(t, err, "the lock of a dead session is free")
	// The lost lease cannot record, and releasing it is harmless.
	assert.Error(t, lease.Record(ctx, c))
	assert.Error(t, lease.Release(ctx))
	require.NoError(t, again.Release(ctx))
}

// A check's error may name a file, which need not be UTF-8: it is stored
// cleaned, never refused (a refused record would fail the check).
func TestRecordCheckErrorNotUTF8(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	c := integrity.Check{ID: security.NewID(integrity.CheckIDPrefix), Host: "web-1", Kind: integrity.CheckScan,
		Status: integrity.CheckRunning}
	lease, err := st.LockScan(ctx, c, false)
	require.NoError(t, err)
	defer lease.Release(ctx)
	c.Status, c.Error = integrity.CheckFailed, "open /srv/\xff\x00: permission denied"
	require.NoError(t, lease.Record(ctx, c))
	got, err := st.RecordedCheck(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, security.CleanText(c.Error, maxCheckError), got.Error)
}

// A lock taken after waiting, and released, leaves no advisory lock of the
// host held by any session: neither the waiter's wait nor a pooled
// connection keeps one.
func TestScanLockWaiterLeavesNoLock(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	h := st.IntegrityStore("web-1").(*hostStore)
	held := func() int {
		t.Helper()
		var n int
		require.NoError(t, st.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks l, (SELECT `+lockKey("$1")+` AS k) AS key
			WHERE l.locktype = 'advisory' AND l.objsubid = 1
			AND l.classid = ((key.k >> 32) & 4294967295)::oid AND l.objid = (key.k & 4294967295)::oid`, h.host).Scan(&n))
		return n
	}
	first, err := h.LockScan(ctx, integrity.Check{}, false)
	require.NoError(t, err)
	require.Equal(t, 1, held())
	got := make(chan integrity.ScanLease, 1)
	go func() {
		lease, err := h.LockScan(ctx, integrity.Check{}, true)
		assert.NoError(t, err)
		got <- lease
	}()
	require.NoError(t, first.Release(ctx))
	second := <-got
	require.NotNil(t, second)
	require.Equal(t, 1, held())
	require.NoError(t, second.Release(ctx))
	require.Zero(t, held())
}

// TestIntegrityPlaintextCopiesDropped builds a schema of the previous
// format (version 2, the copies in plaintext), opens it: migration 0003
// drops the copies, the diff says the content is not stored, and the next
// accepted state is stored encrypted and diffed. It fails without the
// migration.
func TestIntegrityPlaintextCopiesDropped(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := t.Context()
	root := t.TempDir()
	file := filepath.Join(root, "config.env")
	writeFile(t, file, "DB_PASSWORD=hunter2-pg\n")
	st, err := Open(ctx, dsn)
	require.NoError(t, err)
	mon := newMonitor(t, st, "web-a", root)
	_, err = mon.Init(ctx)
	require.NoError(t, err)
	// What version 2 stored: the copy in the clear.
	sum := blake3.Sum256([]byte("DB_PASSWORD=hunter2-pg\n"))
	tag, err := st.pool.Exec(ctx, `UPDATE integrity_content SET data = $1 WHERE hash = $2`,
		[]byte("DB_PASSWORD=hunter2-pg\n"), sum[:])
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	// Back to a version-2 schema: the later migrations run again on Open.
	later, err := storetest.TablesAfter(migrationFiles, 2)
	require.NoError(t, err)
	_, err = st.pool.Exec(ctx, `DROP TABLE `+strings.Join(later, ", "))
	require.NoError(t, err)
	_, err = st.pool.Exec(ctx, `DELETE FROM propsec_schema WHERE version >= 3`)
	require.NoError(t, err)
	require.NoError(t, mon.Close())
	require.NoError(t, st.Close())

	st, err = Open(ctx, dsn)
	require.NoError(t, err)
	defer st.Close()
	var copies, plain int
	require.NoError(t, st.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE position('hunter2'::bytea IN data) > 0)
		FROM integrity_content`).Scan(&copies, &plain))
	assert.Zero(t, plain, "plaintext copies left")
	assert.Zero(t, copies)

	mon = newMonitor(t, st, "web-a", root)
	writeFile(t, file, "DB_PASSWORD=swordfish\n")
	c, err := mon.Scan(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, c.ViolationsFound)
	as, _, err := mon.Alerts(ctx, integrity.ListOptions{})
	require.NoError(t, err)
	require.Len(t, as, 1)
	d, err := mon.Diff(ctx, as[0].ID)
	require.NoError(t, err)
	assert.Equal(t, "not diffed: the known-good content is not stored", d.Text)
	require.NoError(t, mon.AcceptAlert(ctx, integrity.Actor{UserID: 1}, as[0].ID))
	require.NoError(t, st.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE position('swordfish'::bytea IN data) > 0)
		FROM integrity_content`).Scan(&copies, &plain))
	assert.Equal(t, 1, copies)
	assert.Zero(t, plain, "the accepted copy is stored in the clear")

	writeFile(t, file, "DB_PASSWORD=again\n")
	c, err = mon.Scan(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, c.ViolationsFound)
	as, _, err = mon.Alerts(ctx, integrity.ListOptions{})
	require.NoError(t, err)
	for _, a := range as {
		if a.CheckID == c.ID {
			d, err := mon.Diff(ctx, a.ID)
			require.NoError(t, err)
			assert.Contains(t, d.Text, "-DB_PASSWORD=swordfish\n+DB_PASSWORD=again\n")
		}
	}
}
