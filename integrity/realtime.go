package integrity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/propops/propsec/security"
)

// CheckRealtime is the kind of the check that stands for real-time
// detection while [Monitor.Run] watches: the alerts it raises carry its id,
// and [Monitor.Progress] reports it running, counting the paths re-checked
// and the alerts raised.
const CheckRealtime CheckKind = "realtime"

// AlertRealtimeDegraded says that real-time detection missed or may miss
// changes: the kernel dropped events (its queue overflowed), or some
// directories cannot be watched (the kernel's watch limit). A full scan ran
// when it was raised (its details say which, and what it found); until the
// cause is gone, changes it may miss are found by the periodic scans. One
// is raised per cause while the previous one of that cause is still new.
const AlertRealtimeDegraded AlertType = "realtime_degraded"

// How real-time detection waits before it re-checks a changed path: a
// path is re-checked once no event has come for it for rtQuiet (rtWriteQuiet
// when its last event says it is still being written: created, or modified
// and not closed yet). A path that keeps changing is re-checked anyway
// rtMaxDelay after its first event if its last event finished a change (a
// close after writing, a rename, …), and rtMaxWriting after it in any case,
// so that a file rewritten without pause is re-checked (and alerted on, if
// its state is new) every few seconds, not once per write, and rarely while
// half written.
const (
	rtQuiet      = 50 * time.Millisecond
	rtWriteQuiet = time.Second
	rtMaxDelay   = 2 * time.Second
	rtMaxWriting = 10 * time.Second
	// rtMaxPending bounds the paths waiting to be re-checked; past it they
	// are dropped for a full scan.
	rtMaxPending = 1 << 16
	// rtBatch is the most paths re-checked under one hold of the lock.
	rtBatch = 4096
	// rtRetry is the pause after a re-check failed (the store is down).
	rtRetry = time.Second
)

// Causes of AlertRealtimeDegraded, and of a full scan.
const (
	causeStart     = ""            // Run began watching: scan, raise nothing
	causeTamper    = "tamper"      // let a scan raise the baseline_tampered alert
	causeOverflow  = "overflow"    // the kernel dropped events
	causeLimit     = "watch_limit" // directories not watched
	causeReadError = "read_error"  // events can no longer be read
)

// RealtimeStatus is the state of real-time detection ([Monitor.Realtime]).
type RealtimeStatus struct {
	// Watching is true once every directory that can be watched is, until
	// Run returns.
	Watching bool
	// CheckID is the id of the [CheckRealtime] check.
	CheckID string
	// Directories is how many directories are watched.
	Directories int
	// Pending is how many changed paths wait to be re-checked.
	Pending int
	// Rechecks counts the batches of paths re-checked; FullScans the full
	// scans real-time detection ran (at the start, and after lost events).
	Rechecks  int64
	FullScans int64
	// Degraded says why changes may be missed now ("" when none are): some
	// directories are not watched.
	Degraded string
}

// rtTarget is a path to re-check, and with subtree everything below it.
type rtTarget struct {
	Key
	subtree bool
}

// rtPath is a changed path waiting to be re-checked.
type rtPath struct {
	first, last time.Time
	writing     bool
	subtree     bool
}

// rtFull is a request for a full scan: why, and what to raise after it.
type rtFull struct {
	cause   string
	root    string
	details string
}

// realtime is real-time detection while Run watches. The platform's
// watcher marks changed paths; the processing goroutine re-checks them.
type realtime struct {
	m      *Monitor
	j      *job
	w      *watcher
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  atomic.Bool

	mu    sync.Mutex
	paths map[Key]*rtPath
	full  []rtFull
	wake  chan struct{}

	rechecks, fullScans atomic.Int64

	// Used by the processing goroutine only: the seal each root's
	// baseline was last verified with, the seal of roots that failed, and
	// the last degraded alert of each cause.
	reader       *reader
	verified     map[string]Hash
	bad          map[string]Hash
	lastAlert    map[string]int64
	deployForged bool
}

// startRealtime starts watching for Run: it adds every watch, asks for a
// first full scan (for what changed before the watches were in place) and
// starts the reading and processing goroutines, which stop stops.
func (m *Monitor) startRealtime(ctx context.Context) (*realtime, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errClosed
	}
	if m.rt != nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("integrity: real-time detection is already running: %w", security.ErrConflict)
	}
	rt := &realtime{m: m, paths: map[Key]*rtPath{}, wake: make(chan struct{}, 1), reader: newReader(m, false, nil),
		verified: map[string]Hash{}, bad: map[string]Hash{}, lastAlert: map[string]int64{}}
	rt.ctx, rt.cancel = m.opContext(ctx)
	rt.j = &job{id: security.NewID(CheckIDPrefix), kind: CheckRealtime, started: m.now(), cancel: rt.cancel,
		status: CheckRunning}
	m.rt = rt
	m.wg.Add(1)
	m.mu.Unlock()
	w, err := newWatcher(rt)
	if err != nil {
		rt.finish(err)
		return nil, err
	}
	rt.w = w
	rt.full = append(rt.full, rtFull{cause: causeStart})
	w.watchAll()
	rt.ready.Store(true)
	rt.wg.Go(func() {
		if err := w.read(); err != nil {
			rt.needFull(rtFull{cause: causeReadError, details: "real-time detection stopped: reading inotify events failed (" +
				err.Error() + "); changes are found by the periodic scans only"})
		}
	})
	rt.wg.Go(rt.process)
	return rt, nil
}

// stop ends the watching and waits for its goroutines.
func (rt *realtime) stop() {
	rt.cancel()
	rt.w.close()
	rt.wg.Wait()
	rt.finish(rt.m.base.Err())
}

// finish records the end of the realtime check.
func (rt *realtime) finish(err error) {
	m := rt.m
	m.mu.Lock()
	rt.j.status, rt.j.finished = CheckComplete, m.now()
	if err != nil {
		rt.j.status, rt.j.errText = CheckFailed, err.Error()
		if errors.Is(err, context.Canceled) {
			rt.j.errText = "cancelled"
		}
	}
	m.rt = nil
	m.rememberLocked(rt.j)
	m.mu.Unlock()
	m.wg.Done()
}

// tick runs at each periodic scan: directories that could not be watched
// (the watch limit, a root that went away) are tried again.
func (rt *realtime) tick() {
	if rt.w.incomplete() {
		rt.w.resync()
	}
}

// Realtime returns the state of real-time detection; the zero value when
// Run is not watching.
func (m *Monitor) Realtime() RealtimeStatus {
	m.mu.Lock()
	rt := m.rt
	m.mu.Unlock()
	if rt == nil {
		return RealtimeStatus{}
	}
	s := RealtimeStatus{CheckID: rt.j.id, Rechecks: rt.rechecks.Load(), FullScans: rt.fullScans.Load()}
	if !rt.ready.Load() {
		return s // the watches are being added
	}
	rt.mu.Lock()
	s.Pending = len(rt.paths)
	rt.mu.Unlock()
	s.Watching, s.Directories, s.Degraded = true, rt.w.count(), rt.w.degraded()
	return s
}

func (rt *realtime) signal() {
	select {
	case rt.wake <- struct{}{}:
	default:
	}
}

// mark notes that k changed (and, with subtree, maybe everything below
// it); writing says its last event leaves it possibly half written.
func (rt *realtime) mark(k Key, subtree, writing bool) {
	now := time.Now() // scheduling only: the monotonic clock, not cfg.Clock
	rt.mu.Lock()
	p := rt.paths[k]
	if p == nil {
		if len(rt.paths) >= rtMaxPending {
			rt.mu.Unlock()
			rt.needFull(rtFull{cause: causeOverflow, details: fmt.Sprintf(
				"more than %d changed paths waited to be re-checked; they were dropped", rtMaxPending)})
			return
		}
		p = &rtPath{first: now}
		rt.paths[k] = p
	}
	p.last, p.writing = now, writing
	p.subtree = p.subtree || subtree
	rt.mu.Unlock()
	rt.signal()
}

// needFull asks for a full scan, which covers every path waiting: they are
// dropped.
func (rt *realtime) needFull(f rtFull) {
	if f.cause != causeStart && f.cause != causeTamper {
		rt.m.cfg.Logger.Warn("integrity: real-time detection degraded; running a full scan",
			"cause", f.cause, "details", f.details)
		rt.m.observe(security.Measurement{Kind: security.KindRealtimeFallback, Result: f.cause})
	}
	rt.mu.Lock()
	rt.full = append(rt.full, f)
	clear(rt.paths)
	rt.mu.Unlock()
	rt.signal()
}

// take returns the full scans asked for or else up to rtBatch paths that
// are due at now, and when the next path will be due (zero: none waits).
func (rt *realtime) take(now time.Time) (due []rtTarget, full []rtFull, next time.Time) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.full) > 0 {
		full, rt.full = rt.full, nil
		return nil, full, time.Time{}
	}
	for k, p := range rt.paths {
		quiet, limit := rtQuiet, rtMaxDelay
		if p.writing {
			quiet, limit = rtWriteQuiet, rtMaxWriting
		}
		at := p.last.Add(quiet)
		if l := p.first.Add(limit); l.Before(at) {
			at = l
		}
		if !at.After(now) && len(due) < rtBatch {
			due = append(due, rtTarget{Key: k, subtree: p.subtree})
			delete(rt.paths, k)
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return due, nil, next
}

// requeue puts back targets whose re-check failed.
func (rt *realtime) requeue(ts []rtTarget) {
	for _, t := range ts {
		rt.mark(t.Key, t.subtree, false)
	}
}

// process is the processing goroutine.
func (rt *realtime) process() {
	ctx := rt.ctx
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for ctx.Err() == nil {
		due, full, next := rt.take(time.Now())
		var err error
		switch {
		case len(full) > 0:
			err = rt.fullScan(ctx, full)
		case len(due) > 0:
			if err = rt.recheck(ctx, due); err != nil && ctx.Err() == nil && !errors.Is(err, errClosed) {
				rt.requeue(due)
			}
		default:
			var wait <-chan time.Time
			if !next.IsZero() {
				timer.Reset(time.Until(next))
				wait = timer.C
			}
			select {
			case <-ctx.Done():
			case <-rt.wake:
			case <-wait:
			}
			timer.Stop()
			continue
		}
		if err == nil || ctx.Err() != nil || errors.Is(err, errClosed) {
			continue
		}
		rt.m.cfg.Logger.Error("integrity: real-time re-check failed; retrying", "error", err)
		timer.Reset(rtRetry)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		timer.Stop()
	}
}

// fullScan runs a scan for the requests fs and then raises their alerts.
// Paths whose last change came before the scan began are dropped: the scan
// saw them.
func (rt *realtime) fullScan(ctx context.Context, fs []rtFull) error {
	start := time.Now()
	for _, f := range fs {
		if f.cause == causeOverflow {
			rt.w.resync() // directories made while events were lost
			break
		}
	}
	c, scanErr := rt.m.Scan(ctx)
	if errors.Is(scanErr, errClosed) || ctx.Err() != nil {
		return scanErr
	}
	rt.fullScans.Add(1)
	rt.mu.Lock()
	for k, p := range rt.paths {
		if p.last.Before(start) {
			delete(rt.paths, k)
		}
	}
	rt.mu.Unlock()
	result := fmt.Sprintf("full scan %s: %s, %d alert(s)", c.ID, c.Status, c.ViolationsFound)
	if scanErr != nil {
		result = "the full scan failed: " + scanErr.Error()
		rt.m.cfg.Logger.Error("integrity: real-time detection's full scan failed", "error", scanErr)
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if f.cause == causeStart || f.cause == causeTamper || seen[f.cause] {
			continue
		}
		seen[f.cause] = true
		if err := rt.raiseDegraded(ctx, f, result); err != nil {
			return err
		}
	}
	return nil
}

// raiseDegraded raises the realtime_degraded alert of f, unless the last
// one of its cause is still new.
func (rt *realtime) raiseDegraded(ctx context.Context, f rtFull, result string) error {
	m := rt.m
	if id, ok := rt.lastAlert[f.cause]; ok {
		a, err := m.cfg.Store.Alert(ctx, id)
		if err == nil && a.Status == StatusNew {
			return nil
		}
	}
	root := f.root
	if root == "" {
		root = m.cfg.Roots[0]
	}
	now := m.now()
	a := Alert{Host: m.cfg.Host, Key: Key{Root: root}, FilePath: root, Type: AlertRealtimeDegraded,
		Severity: SeverityHigh, Status: StatusNew, Details: security.CleanText(f.details+"; "+result, maxDetails),
		CheckID: rt.j.id, CreatedAt: now, UpdatedAt: now}
	ids, err := m.saveFindings(ctx, rt.j, []Alert{a}, nil)
	if err != nil {
		return err
	}
	if len(ids) == 1 {
		rt.lastAlert[f.cause] = ids[0]
	}
	return nil
}

// recheck re-inspects the targets with the comparison, dedup and alerts of
// a scan, under the Monitor's lock (and the store's). While a deployment
// is open it raises nothing: ending it accepts the changes. A root whose
// baseline fails verification is left to scans, which raise the
// baseline_tampered alert.
func (rt *realtime) recheck(ctx context.Context, due []rtTarget) error {
	m := rt.m
	if err := m.acquire(ctx, Check{}); err != nil {
		return err
	}
	defer m.release()
	ctx, cancel := m.opContext(ctx)
	defer cancel()
	rt.rechecks.Add(1)
	m.observe(security.Measurement{Kind: security.KindRealtimeRecheck})
	t := &tamperLog{}
	open, err := m.deploymentOpen(ctx, t)
	if err != nil {
		return err
	}
	forged := t.any
	t = &tamperLog{}
	if forged && !rt.deployForged {
		t.mark(Key{Root: m.cfg.Roots[0]})
	}
	rt.deployForged = forged
	if open {
		return nil
	}
	seals, err := m.sealsByRoot(ctx)
	if err != nil {
		return err
	}
	for root, ts := range groupTargets(due) {
		seal, ok := seals[root]
		if !ok {
			continue // no baseline yet: scans say so
		}
		trusted, fresh, err := rt.trusted(ctx, seal)
		if err != nil {
			return err
		}
		if !trusted {
			if fresh {
				t.mark(Key{Root: root})
			}
			continue
		}
		obs, err := collect(m.cfg.Store.Observations(ctx, root))
		if err != nil {
			return err
		}
		rootT := &tamperLog{}
		r := m.newRootRun(ctx, rt.j, root, modeScan, rootT)
		for _, tg := range ts {
			if err := rt.recheckTarget(r, tg, obs); err != nil {
				return err
			}
		}
		if err := r.flushFindings(); err != nil {
			return err
		}
		if rootT.any {
			delete(rt.verified, root)
			rt.bad[root] = seal.Sum
			t.mark(Key{Root: root})
		}
	}
	if t.any {
		rt.needFull(rtFull{cause: causeTamper})
	}
	return nil
}

// trusted reports whether root's baseline verifies with seal, verifying
// it in full only when the seal changed since it last did; fresh says it
// was found bad just now.
func (rt *realtime) trusted(ctx context.Context, seal Seal) (ok, fresh bool, err error) {
	if rt.verified[seal.Root] == seal.Sum {
		return true, false, nil
	}
	if sum, bad := rt.bad[seal.Root]; bad && sum == seal.Sum {
		return false, false, nil
	}
	ok, err = rt.m.verifyRoot(ctx, seal, &tamperLog{})
	if err != nil {
		return false, false, err
	}
	if !ok {
		rt.bad[seal.Root] = seal.Sum
		return false, true, nil
	}
	delete(rt.bad, seal.Root)
	rt.verified[seal.Root] = seal.Sum
	return true, false, nil
}

// recheckTarget merges the walk of one target with its baseline entries
// and observations, as a scan merges the walk of a root.
func (rt *realtime) recheckTarget(r *rootRun, tg rtTarget, obs []Observation) error {
	m := rt.m
	// A single path is inspected by the walk itself, with one reader kept
	// from target to target (a reader's buffer is 1 MiB); a subtree by the
	// walk's workers.
	workers, rd := 1, rt.reader
	var old iter.Seq2[Entry, error]
	if tg.subtree {
		workers, rd = m.cfg.Workers, nil
		old = below(m.cfg.Store.Entries(r.ctx, tg.Root), tg.Path)
	} else {
		old = m.entryOf(r.ctx, tg.Key)
	}
	var inspect func(*item) *current
	if rd != nil {
		inspect = func(it *item) *current { return rd.inspectItem(it, tg.Root) }
	}
	r.walk = m.startWalkWith(r.ctx, tg.Root, false, workers, func(ctx context.Context, w *walkRun) {
		w.Target(ctx, tg.Root, tg.Path, tg.subtree, inspect, &rt.j.total)
	})
	defer r.walk.Stop()
	po, pb := pull(old), pull(observationsOf(obs, tg))
	defer po.stop()
	defer pb.stop()
	r.unknownOn, r.unknown = false, ""
	return r.merge(po, pb)
}

// groupTargets sorts the targets by root and path and leaves out those
// below another target's subtree.
func groupTargets(ts []rtTarget) map[string][]rtTarget {
	slices.SortFunc(ts, func(a, b rtTarget) int {
		return cmp.Or(strings.Compare(a.Root, b.Root), strings.Compare(a.Path, b.Path))
	})
	out := map[string][]rtTarget{}
	var subtrees []rtTarget
	for _, t := range ts {
		covered := slices.ContainsFunc(subtrees, func(s rtTarget) bool {
			return s.Root == t.Root && s.Path != t.Path && under(t.Path, s.Path)
		})
		if covered {
			continue
		}
		if t.subtree {
			subtrees = append(subtrees, t)
		}
		out[t.Root] = append(out[t.Root], t)
	}
	return out
}

// under reports whether path is prefix or below it.
func under(path, prefix string) bool {
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// below yields the entries of seq (in path order) at or under prefix.
func below(seq iter.Seq2[Entry, error], prefix string) iter.Seq2[Entry, error] {
	end := prefix + "0" // '0' follows '/': every path under prefix sorts before it
	return func(yield func(Entry, error) bool) {
		for e, err := range seq {
			if err != nil {
				yield(e, err)
				return
			}
			if prefix != "" && e.Path >= end {
				return
			}
			if under(e.Path, prefix) && !yield(e, nil) {
				return
			}
		}
	}
}

// entryOf yields the baseline entry of k, if it has one.
func (m *Monitor) entryOf(ctx context.Context, k Key) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		e, err := m.cfg.Store.Entry(ctx, k)
		if errors.Is(err, security.ErrNotFound) {
			return
		}
		yield(e, err)
	}
}

// observationsOf yields the observations of obs (in path order) that tg
// covers.
func observationsOf(obs []Observation, tg rtTarget) iter.Seq2[Observation, error] {
	return func(yield func(Observation, error) bool) {
		i, _ := slices.BinarySearchFunc(obs, tg.Path, func(o Observation, p string) int { return strings.Compare(o.Path, p) })
		for ; i < len(obs); i++ {
			o := obs[i]
			if o.Path != tg.Path && !(tg.subtree && under(o.Path, tg.Path)) {
				if o.Path > tg.Path+"0" || !tg.subtree {
					return
				}
				continue
			}
			if !yield(o, nil) {
				return
			}
		}
	}
}

func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
