package integrity

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/propops/propsec/integrity/internal/fsmeta"
	"github.com/propops/propsec/integrity/internal/record"
	"github.com/propops/propsec/integrity/internal/walk"
	"github.com/propops/propsec/security"
)

// How much work may be in flight. Memory does not grow with the number of
// files: the walker holds one directory listing per level, at most a window
// of paths waits to be compared (package walk), and findings and baseline
// changes are written in batches.
const (
	findingsBatch = 256
	stageEntries  = 512
	stageBytes    = 8 << 20
)

// A scan holds back up to deferredFindings findings of a root until the
// baseline it read has verified (see rootRun.trust); tests lower it.
var deferredFindings = 4096

// item is one walked path, inspected into its current state; walkRun is
// the walk of one root or target (see package walk).
type (
	item    = walk.Item[*current]
	walkRun = walk.Run[*current]
)

func (m *Monitor) startWalk(ctx context.Context, root string, keep bool, total *atomic.Int64) *walkRun {
	return m.startWalkWith(ctx, root, keep, m.cfg.Workers, func(ctx context.Context, w *walkRun) {
		w.Root(ctx, root, total)
	})
}

// startWalkWith is startWalk with workers workers and body emitting the
// items (in walk order) instead of a walk of the whole root.
func (m *Monitor) startWalkWith(ctx context.Context, root string, keep bool, workers int,
	body func(context.Context, *walkRun)) *walkRun {
	w := walk.Start(ctx, walk.Options{Filter: &m.filter, BeforeOpen: m.openHook}, body)
	for range workers {
		w.Go(func() {
			r := reader{fsmeta.NewReader(readerOptions(m, keep, &w.Budget))} // on this goroutine's stack
			w.Work(func(it *item) *current { return r.inspectItem(it, root) })
		})
	}
	return w
}

// runMode says what a root run does with what it finds.
type runMode int

const (
	modeScan  runMode = iota // raise alerts
	modeQuiet                // a deployment is open: raise nothing
	modeInit                 // record a new baseline
	modeEnd                  // accept a deployment's changes
)

// puller reads an iterator one record ahead.
type puller[T any] struct {
	next func() (T, error, bool)
	stop func()
	cur  T
	ok   bool
	err  error
}

func pull[T any](seq iter.Seq2[T, error]) *puller[T] {
	if seq == nil {
		seq = func(func(T, error) bool) {}
	}
	p := &puller[T]{}
	p.next, p.stop = iter.Pull2(seq)
	p.advance()
	return p
}

func (p *puller[T]) advance() {
	v, err, ok := p.next()
	if ok && err != nil {
		p.err, p.ok = err, false
		return
	}
	p.cur, p.ok = v, ok
}

// rootRun compares one root's walk with its baseline and observations.
type rootRun struct {
	m    *Monitor
	j    *job
	ctx  context.Context
	root string
	mode runMode
	walk *walkRun
	t    *tamperLog

	alerts []Alert
	obs    []Observation

	batch      Batch
	batchBytes int
	blobs      map[Hash]bool
	newSeal    *record.Sealer // the baseline being written (init, end)
	oldSeal    *record.Sealer // the baseline being read (scan, end)
	accepted   int64

	// A scan verifies the baseline as it compares with it (see trust):
	// seal is the root's stored seal; altered and firstAltered count the
	// entries whose MAC failed; deferring holds findings back until the
	// baseline is known good.
	seal         *Seal
	altered      int
	firstAltered string
	deferring    bool
	reader       *reader // re-reads content the workers could not keep

	unknownOn bool
	unknown   string
}

func (m *Monitor) newRootRun(ctx context.Context, j *job, root string, mode runMode, t *tamperLog) *rootRun {
	r := &rootRun{m: m, j: j, ctx: ctx, root: root, mode: mode, t: t}
	if mode == modeInit || mode == modeEnd {
		r.newSeal = m.keys.newSealer(root)
		r.blobs = map[Hash]bool{}
		r.reader = newReader(m, true, nil)
	}
	return r
}

// run walks the root and merges the walk with old and obs (nil: none).
func (r *rootRun) run(old iter.Seq2[Entry, error], obs iter.Seq2[Observation, error]) error {
	keep := r.mode == modeInit || r.mode == modeEnd
	r.walk = r.m.startWalk(r.ctx, r.root, keep, &r.j.total)
	defer r.walk.Stop()
	po, pb := pull(old), pull(obs)
	defer po.stop()
	defer pb.stop()
	if err := r.merge(po, pb); err != nil {
		return err
	}
	if r.seal != nil {
		if err := r.trust(); err != nil {
			return err
		}
	}
	if err := r.flushFindings(); err != nil {
		return err
	}
	return r.flushBatch()
}

func (r *rootRun) merge(old *puller[Entry], obs *puller[Observation]) error {
	var w *item
	walkDone := false
	lastOld, lastObs := "", ""
	firstOld, firstObs := true, true
	for {
		for w == nil && !walkDone {
			it, ok, err := r.walk.Next(r.ctx)
			if err != nil {
				return err
			}
			if !ok {
				walkDone = true
			} else if it.Marker {
				r.unknownOn, r.unknown = true, it.Rel
			} else {
				w = it
			}
		}
		if old.err != nil {
			return old.err
		}
		if obs.err != nil {
			return obs.err
		}
		if old.ok && (old.cur.Root != r.root || (!firstOld && old.cur.Path <= lastOld)) {
			return fmt.Errorf("integrity: store yielded entry %q of %s out of order", old.cur.Path, old.cur.Root)
		}
		if obs.ok && (obs.cur.Root != r.root || (!firstObs && obs.cur.Path <= lastObs)) {
			return fmt.Errorf("integrity: store yielded observation %q of %s out of order", obs.cur.Path, obs.cur.Root)
		}
		key, any := "", false
		consider := func(ok bool, k string) {
			if ok && (!any || k < key) {
				key, any = k, true
			}
		}
		consider(w != nil, pathOf(w))
		consider(old.ok, old.cur.Path)
		consider(obs.ok, obs.cur.Path)
		if !any {
			return nil
		}
		var e *Entry
		var it *item
		var ob *Observation
		if w != nil && w.Rel == key {
			it, w = w, nil
		}
		if old.ok && old.cur.Path == key {
			v := old.cur
			e = &v
			lastOld, firstOld = key, false
			old.advance()
		}
		if obs.ok && obs.cur.Path == key {
			v := obs.cur
			ob = &v
			lastObs, firstObs = key, false
			obs.advance()
		}
		if err := r.process(key, e, it, ob); err != nil {
			return err
		}
		if it != nil {
			if it.Cur != nil && it.Cur.Content != nil {
				r.walk.Budget.Add(-int64(len(it.Cur.Content)))
			}
			r.j.scanned.Add(1)
		}
	}
}

func pathOf(it *item) string {
	if it == nil {
		return ""
	}
	return it.Rel
}

func (r *rootRun) unknownCovers(path string) bool {
	if !r.unknownOn {
		return false
	}
	if r.unknown == "" {
		return path != ""
	}
	return strings.HasPrefix(path, r.unknown+"/")
}

// process handles one path: old is its baseline entry, it its walk item,
// ob its observation (each nil when there is none).
func (r *rootRun) process(path string, old *Entry, it *item, ob *Observation) error {
	k := Key{Root: r.root, Path: path}
	oldBad := false
	if old != nil {
		if r.oldSeal != nil {
			r.oldSeal.Add(old.MAC)
		}
		if r.m.keys.entryMAC(old) != old.MAC {
			if r.seal != nil {
				if r.altered == 0 {
					r.firstAltered = path
				}
				r.altered++
			} else {
				r.t.altered(k)
			}
			oldBad = true
			old = nil
			if r.mode == modeScan || r.mode == modeQuiet {
				return nil // untrusted: nothing to compare with
			}
		}
	}
	if ob != nil && r.m.keys.observationMAC(ob) != ob.MAC {
		r.t.altered(k)
		ob = nil
	}
	if it == nil {
		wasDir := old != nil && old.Type == TypeDir
		if (old != nil || oldBad) && (r.unknownCovers(path) || r.m.filter.SkipPath(path, wasDir)) {
			// Below a directory that could not be listed, or no longer
			// monitored: kept as it is (a forged record is dropped).
			if oldBad {
				return r.stageDelete(k)
			}
			r.keepRow(old)
			return nil
		}
		if old == nil && !oldBad && ob != nil && (r.unknownCovers(path) || r.m.filter.SkipPath(path, false)) {
			return nil
		}
	}
	var cur *current
	if it != nil {
		cur = it.Cur
		if cur != nil && it.ListErr != "" && cur.Type == TypeDir {
			cur.Unreadable = it.ListErr
		}
	}
	switch r.mode {
	case modeQuiet:
		return nil
	case modeInit:
		if cur != nil && cur.StatError == "" {
			return r.stagePut(cur)
		}
		return nil
	}
	typ, change, details := r.m.compare(old, cur)
	if r.mode == modeEnd {
		return r.accept(k, old, oldBad, cur, typ, ob)
	}
	if typ == "" {
		if ob != nil {
			return r.addFinding(nil, &Observation{Key: k})
		}
		return nil
	}
	state := stateDigest(old, cur)
	if ob != nil && ob.State == state {
		return nil // this state was alerted on already
	}
	now := r.m.now()
	a := Alert{Host: r.m.cfg.Host, Key: k, FilePath: k.FilePath(), Type: typ, Change: change,
		Severity: r.m.severity(path, old, cur), Status: StatusNew,
		Details: security.CleanText(details, maxDetails), State: state, CheckID: r.j.id,
		CreatedAt: now, UpdatedAt: now}
	o := Observation{Key: k, State: state}
	o.MAC = r.m.keys.observationMAC(&o)
	return r.addFinding(&a, &o)
}

const maxDetails = 4000

// accept decides, at the end of a deployment, what becomes of one path. A
// change is accepted unless the path cannot be read now, or its state is
// the one a scan alerted on before the deployment began: such a change was
// not made by the deployment, and its alert stands.
func (r *rootRun) accept(k Key, old *Entry, oldBad bool, cur *current, typ AlertType, ob *Observation) error {
	keep := func() error {
		if old != nil {
			r.keepRow(old)
			return nil
		}
		if oldBad {
			return r.stageDelete(k)
		}
		return nil
	}
	if typ == "" {
		if ob != nil {
			if err := r.addFinding(nil, &Observation{Key: k}); err != nil {
				return err
			}
		}
		return keep()
	}
	unreadable := cur != nil && (cur.StatError != "" || cur.Unreadable != "")
	if unreadable || (ob != nil && ob.State == stateDigest(old, cur)) {
		return keep()
	}
	r.accepted++
	if cur == nil {
		return r.stageDelete(k)
	}
	return r.stagePut(cur)
}

func (r *rootRun) keepRow(old *Entry) {
	if r.newSeal != nil {
		r.newSeal.Add(old.MAC)
	}
}

func (r *rootRun) stagePut(c *current) error {
	e, blob := r.m.entryFor(c, r.reader)
	if blob != nil && !r.blobs[blob.Hash] {
		r.blobs[blob.Hash] = true
		r.batch.Blobs = append(r.batch.Blobs, *blob)
		r.batchBytes += len(blob.Data)
	}
	r.newSeal.Add(e.MAC)
	r.batch.Put = append(r.batch.Put, e)
	if r.mode == modeInit {
		r.accepted++
	}
	return r.maybeFlushBatch()
}

func (r *rootRun) stageDelete(k Key) error {
	r.batch.Delete = append(r.batch.Delete, k)
	return r.maybeFlushBatch()
}

func (r *rootRun) maybeFlushBatch() error {
	if len(r.batch.Put)+len(r.batch.Delete) >= stageEntries || r.batchBytes >= stageBytes {
		return r.flushBatch()
	}
	return nil
}

func (r *rootRun) flushBatch() error {
	if len(r.batch.Put)+len(r.batch.Delete)+len(r.batch.Blobs) == 0 {
		return nil
	}
	err := r.m.cfg.Store.Stage(r.ctx, r.j.id, r.batch)
	r.batch = Batch{}
	r.batchBytes = 0
	clear(r.blobs)
	return err
}

func (r *rootRun) addFinding(a *Alert, o *Observation) error {
	if a != nil {
		r.alerts = append(r.alerts, *a)
	}
	if o != nil {
		r.obs = append(r.obs, *o)
	}
	switch n := len(r.alerts) + len(r.obs); {
	case r.deferring && n >= deferredFindings:
		return r.settle()
	case !r.deferring && n >= findingsBatch:
		return r.flushFindings()
	}
	return nil
}

// errUntrusted ends a root's scan whose baseline failed verification.
var errUntrusted = errors.New("integrity: baseline not trusted")

// settle is called when a scan has held back as many findings as it may
// before its comparison has read the whole baseline: it verifies the whole
// root now, in a pass of its own (verifyRoot), and either lets the scan go
// on saving findings as it finds them, or ends it with errUntrusted having
// noted what failed. A root already known bad is verified in full too, so
// that the tamper alert counts every altered record.
func (r *rootRun) settle() error {
	scratch := &tamperLog{}
	trusted, err := r.m.verifyRoot(r.ctx, *r.seal, scratch)
	if err != nil {
		return err
	}
	if trusted && r.altered == 0 {
		r.deferring = false
		return r.flushFindings()
	}
	r.t.absorb(scratch)
	return errUntrusted // the held-back findings are dropped with the run
}

// trust decides, at the end of a scan's comparison, whether the baseline it
// compared with was sound: every entry's MAC matched and the seal over
// them all is the stored one. Findings held back are saved only then;
// otherwise they are dropped and the failure is noted for the tamper
// alert. (After settle the findings were saved already: a failure now
// means the baseline changed during the scan, and is noted all the same.)
func (r *rootRun) trust() error {
	ok := true
	if r.altered > 0 {
		r.t.alteredN(Key{Root: r.root, Path: r.firstAltered}, r.altered)
		ok = false
	}
	if r.oldSeal.Sum() != r.seal.Sum {
		r.t.note(Key{Root: r.root}, fmt.Sprintf("%s: records removed, added or replaced (seal mismatch)", r.root))
		ok = false
	}
	if !ok && r.deferring {
		r.alerts, r.obs = nil, nil
		return nil
	}
	r.deferring = false
	return r.flushFindings()
}

func (r *rootRun) flushFindings() error {
	if len(r.alerts)+len(r.obs) == 0 {
		return nil
	}
	_, err := r.m.saveFindings(r.ctx, r.j, r.alerts, r.obs)
	r.alerts, r.obs = r.alerts[:0], r.obs[:0]
	return err
}

// saveFindings stores alerts and observations with one raised event per
// alert, and returns the alerts' ids.
func (m *Monitor) saveFindings(ctx context.Context, j *job, alerts []Alert, obs []Observation) ([]int64, error) {
	ids, err := m.cfg.Store.SaveFindings(ctx, Findings{Alerts: alerts, Observations: obs,
		Events: func(added []Alert) []security.Event {
			evs := make([]security.Event, 0, len(added))
			for _, a := range added {
				evs = append(evs, security.Event{Time: a.CreatedAt, Type: EventAlertRaised, Subject: a.FilePath,
					Details: map[string]string{"alert_id": fmt.Sprint(a.ID), "alert_type": string(a.Type),
						"change": string(a.Change), "severity": string(a.Severity), "check_id": a.CheckID}})
			}
			return evs
		}})
	if err == nil {
		j.violations.Add(int64(len(alerts)))
	}
	return ids, err
}

// tamperLog collects what a job found wrong with the stored records.
type tamperLog struct {
	first   Key
	any     bool
	count   map[string]int
	firstOf map[string]string
	notes   []string
}

// mark records that k's root has a problem; the alert is filed under the
// first such root (Path ""), and its details name the records.
func (t *tamperLog) mark(k Key) {
	if !t.any {
		t.first, t.any = Key{Root: k.Root}, true
	}
}

func (t *tamperLog) altered(k Key) { t.alteredN(k, 1) }

// alteredN records n altered records of k's root, k being the first.
func (t *tamperLog) alteredN(k Key, n int) {
	t.mark(k)
	if t.count == nil {
		t.count, t.firstOf = map[string]int{}, map[string]string{}
	}
	if t.count[k.Root] == 0 {
		t.firstOf[k.Root] = k.Path
	}
	t.count[k.Root] += n
}

// absorb adds what o found to t.
func (t *tamperLog) absorb(o *tamperLog) {
	for root, n := range o.count {
		t.alteredN(Key{Root: root, Path: o.firstOf[root]}, n)
	}
	for _, s := range o.notes {
		t.note(o.first, s)
	}
}

func (t *tamperLog) note(k Key, s string) {
	t.mark(k)
	t.notes = append(t.notes, s)
}

func (t *tamperLog) String() string {
	var parts []string
	roots := make([]string, 0, len(t.count))
	for r := range t.count {
		roots = append(roots, r)
	}
	slices.Sort(roots)
	for _, r := range roots {
		parts = append(parts, fmt.Sprintf("%s: %d record(s) altered (first: %q)", r, t.count[r], t.firstOf[r]))
	}
	parts = append(parts, t.notes...)
	return "baseline failed verification and is not trusted — " + strings.Join(parts, "; ")
}

// raiseTamper raises the one baseline_tampered alert of a job, unless the
// same findings were raised by the previous job of this Monitor.
func (m *Monitor) raiseTamper(ctx context.Context, j *job, t *tamperLog) error {
	m.mu.Lock()
	if !t.any {
		m.lastTamper = ""
		m.mu.Unlock()
		return nil
	}
	details := t.String()
	repeat := details == m.lastTamper
	m.lastTamper = details
	m.mu.Unlock()
	if repeat {
		return nil
	}
	now := m.now()
	a := Alert{Host: m.cfg.Host, Key: t.first, FilePath: t.first.FilePath(), Type: AlertBaselineTampered, Severity: SeverityCritical,
		Status: StatusNew, Details: security.CleanText(details, maxDetails), CheckID: j.id, CreatedAt: now, UpdatedAt: now}
	_, err := m.saveFindings(ctx, j, []Alert{a}, nil)
	return err
}

// verifyRoot checks every entry's MAC and the root's seal, noting what is
// wrong in t. It reports whether the root's baseline can be trusted.
func (m *Monitor) verifyRoot(ctx context.Context, seal Seal, t *tamperLog) (bool, error) {
	s := m.keys.newSealer(seal.Root)
	ok := true
	for e, err := range m.cfg.Store.Entries(ctx, seal.Root) {
		if err != nil {
			return false, err
		}
		if m.keys.entryMAC(&e) != e.MAC {
			t.altered(e.Key)
			ok = false
		}
		s.Add(e.MAC)
	}
	if s.Sum() != seal.Sum {
		t.note(Key{Root: seal.Root}, fmt.Sprintf("%s: records removed, added or replaced (seal mismatch)", seal.Root))
		ok = false
	}
	return ok, nil
}

// hasEntries reports whether root has any baseline entry.
func (m *Monitor) hasEntries(ctx context.Context, root string) (bool, error) {
	for _, err := range m.cfg.Store.Entries(ctx, root) {
		return err == nil, err
	}
	return false, nil
}

func (m *Monitor) sealsByRoot(ctx context.Context) (map[string]Seal, error) {
	seals, err := m.cfg.Store.Seals(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Seal, len(seals))
	for _, s := range seals {
		out[s.Root] = s
	}
	return out, nil
}

// RootsWithoutBaseline returns the configured roots that have no sealed
// baseline in the store, in configuration order: none after a successful
// [Monitor.Init] unless a seal was removed since. It is one store query,
// cheap enough for a readiness probe, and verifies nothing (a scan does).
func (m *Monitor) RootsWithoutBaseline(ctx context.Context) ([]string, error) {
	seals, err := m.sealsByRoot(ctx)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, root := range m.cfg.Roots {
		if _, ok := seals[root]; !ok {
			missing = append(missing, root)
		}
	}
	return missing, nil
}

// deploymentOpen reports whether a deployment window is open, noting in t
// a stored window that fails verification (which is then ignored).
func (m *Monitor) deploymentOpen(ctx context.Context, t *tamperLog) (bool, error) {
	_, open, err := m.Deployment(ctx)
	if errors.Is(err, security.ErrConflict) {
		t.note(Key{Root: m.cfg.Roots[0]}, err.Error())
		return false, nil
	}
	return open, err
}

// rootSeals returns the seals of the configured roots, and the roots that
// have neither seal nor entries. A root with entries but no seal (its seal
// was removed) is noted in t, with why.
func (m *Monitor) rootSeals(ctx context.Context, t *tamperLog, why string) (map[string]Seal, []string, error) {
	seals, err := m.sealsByRoot(ctx)
	if err != nil {
		return nil, nil, err
	}
	var empty []string
	for _, root := range m.cfg.Roots {
		if _, ok := seals[root]; ok {
			continue
		}
		has, err := m.hasEntries(ctx, root)
		if err != nil {
			return nil, nil, err
		}
		if has {
			t.note(Key{Root: root}, root+": records without a seal"+why)
		} else {
			empty = append(empty, root)
		}
	}
	return seals, empty, nil
}

// runScan is the body of a scan check.
func (m *Monitor) runScan(ctx context.Context, j *job) error {
	t := &tamperLog{}
	open, err := m.deploymentOpen(ctx, t)
	if err != nil {
		return err
	}
	mode := modeScan
	if open {
		mode = modeQuiet
	}
	seals, missing, err := m.rootSeals(ctx, t, "")
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("no baseline for %s (call Init): %w", strings.Join(missing, ", "), security.ErrNotFound)
	}
	for _, root := range m.cfg.Roots {
		seal, ok := seals[root]
		if !ok {
			continue
		}
		// One pass: the baseline is verified as it is compared, and the
		// findings wait for the verdict (rootRun.trust).
		r := m.newRootRun(ctx, j, root, mode, t)
		r.seal, r.oldSeal, r.deferring = &seal, m.keys.newSealer(root), true
		err := r.run(m.cfg.Store.Entries(ctx, root), m.cfg.Store.Observations(ctx, root))
		if err != nil && !errors.Is(err, errUntrusted) {
			return err
		}
	}
	return m.raiseTamper(ctx, j, t)
}

// runInit records the baseline of every root that has none.
func (m *Monitor) runInit(ctx context.Context, j *job) error {
	t := &tamperLog{}
	// Roots whose entries lost their seal are not re-recorded: that would
	// launder whatever changed since.
	_, empty, err := m.rootSeals(ctx, t, " (not re-recorded; end a deployment to rebuild it)")
	if err != nil {
		return err
	}
	if err := m.cfg.Store.DiscardStaged(ctx, ""); err != nil {
		return err
	}
	for _, root := range empty {
		r := m.newRootRun(ctx, j, root, modeInit, t)
		if err := r.run(nil, nil); err != nil {
			m.cfg.Store.DiscardStaged(context.WithoutCancel(ctx), j.id)
			return err
		}
		now := m.now()
		seal := Seal{Root: root, Sum: r.newSeal.Sum(), Entries: r.newSeal.Entries(), UpdatedAt: now}
		ev := security.Event{Time: now, Type: EventBaselineCreated, Subject: root,
			Details: map[string]string{"entries": fmt.Sprint(seal.Entries), "check_id": j.id}}
		if err := m.cfg.Store.Commit(ctx, Commit{Set: j.id, Roots: []RootCommit{{Replace: true, Seal: seal}},
			Events: []security.Event{ev}}); err != nil {
			m.cfg.Store.DiscardStaged(context.WithoutCancel(ctx), j.id)
			return err
		}
		j.accepted.Add(r.accepted)
		j.addCreated(root)
	}
	return m.raiseTamper(ctx, j, t)
}

// runEnd accepts the changes of deployment d into the baseline and ends it,
// in one commit, and returns how it ended.
func (m *Monitor) runEnd(ctx context.Context, j *job, d Deployment, actor Actor) (DeploymentEnd, error) {
	t := &tamperLog{}
	seals, err := m.sealsByRoot(ctx)
	if err != nil {
		return DeploymentEnd{}, err
	}
	if err := m.cfg.Store.DiscardStaged(ctx, ""); err != nil {
		return DeploymentEnd{}, err
	}
	var commits []RootCommit
	var accepted int64
	for _, root := range m.cfg.Roots {
		seal, has := seals[root]
		r := m.newRootRun(ctx, j, root, modeEnd, t)
		var old iter.Seq2[Entry, error]
		var obs iter.Seq2[Observation, error]
		if has {
			r.oldSeal = m.keys.newSealer(root)
			old, obs = m.cfg.Store.Entries(ctx, root), m.cfg.Store.Observations(ctx, root)
		}
		if err := r.run(old, obs); err != nil {
			m.cfg.Store.DiscardStaged(context.WithoutCancel(ctx), j.id)
			return DeploymentEnd{}, err
		}
		if has && r.oldSeal.Sum() != seal.Sum {
			t.note(Key{Root: root}, fmt.Sprintf("%s: records removed, added or replaced (seal mismatch; rebuilt)", root))
		}
		accepted += r.accepted
		commits = append(commits, RootCommit{Previous: seal.Sum, Replace: !has,
			Seal: Seal{Root: root, Sum: r.newSeal.Sum(), Entries: r.newSeal.Entries(), UpdatedAt: m.now()}})
	}
	end := DeploymentEnd{EndedAt: m.now(), EndedByUserID: actor.UserID, Accepted: accepted}
	ev := actor.event(EventDeploymentEnded, end.EndedAt, d.ID, map[string]string{
		"accepted": fmt.Sprint(accepted), "description": d.Description, "check_id": j.id})
	if err := m.cfg.Store.Commit(ctx, Commit{Set: j.id, Roots: commits, EndDeployment: d.ID, Ended: end,
		Events: []security.Event{ev}}); err != nil {
		m.cfg.Store.DiscardStaged(context.WithoutCancel(ctx), j.id)
		return DeploymentEnd{}, err
	}
	j.accepted.Add(accepted)
	return end, m.raiseTamper(ctx, j, t)
}
