package integrity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/propops/propsec/integrity/internal/contentbox"
	"github.com/propops/propsec/integrity/internal/fsmeta"
	"github.com/propops/propsec/integrity/internal/glob"
	"github.com/propops/propsec/security"
)

// CheckIDPrefix starts every check id.
const CheckIDPrefix = "chk_"

// DeploymentIDPrefix starts every deployment id.
const DeploymentIDPrefix = "dep_"

// historySize is how many finished checks Progress remembers.
const historySize = 100

// recordInterval is how often a running check is recorded through a
// [ScanLease], and leaseTimeout bounds each call of a lease. A lease's
// calls are not cancelled with the check: cancelling a call may cost the
// lease its connection.
const (
	recordInterval = time.Second
	leaseTimeout   = 10 * time.Second
)

// leaseContext is the context of a call of the lease, for an operation
// whose context is ctx.
func leaseContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), leaseTimeout)
}

var (
	errClosed      = fmt.Errorf("integrity monitor closed: %w", security.ErrUnavailable)
	errUnsupported = fmt.Errorf("integrity: file monitoring is not supported on this system: %w", errors.ErrUnsupported)
)

// Monitor watches a set of roots. It is safe for concurrent use. At most one
// operation that walks the tree or writes the baseline runs at a time.
type Monitor struct {
	cfg    Config
	keys   *macKeys
	box    contentbox.Box // encrypts the known-good copies
	filter glob.Filter
	rules  []severityRule
	// hook, if set (tests only), runs after each read of a file.
	hook func(path string, pass int)
	// openHook, if set (tests only), runs just before a listed file or
	// directory is opened.
	openHook func(path string)
	// watchHook, if set (tests only), runs before each directory watch is
	// added; an error it returns stands for the kernel's.
	watchHook func(path string) error

	slot chan struct{} // held by the running operation
	// locker is cfg.Store as a ScanLocker, if it is one; lease is its lock
	// while the slot is held (owned by the slot's holder).
	locker ScanLocker
	lease  ScanLease
	base   context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	cur        *job
	history    []*job
	lastTamper string
	rt         *realtime // real-time detection, while Run watches
}

// job is one check: its counters are updated while it runs.
type job struct {
	id      string
	kind    CheckKind
	started time.Time
	cancel  context.CancelFunc

	total, scanned, violations, accepted atomic.Int64

	// Guarded by Monitor.mu.
	status   CheckStatus
	finished time.Time
	errText  string
	created  []string
	createMu sync.Mutex
}

func (j *job) addCreated(root string) {
	j.createMu.Lock()
	j.created = append(j.created, root)
	j.createMu.Unlock()
}

// New returns a Monitor for cfg, filling in the defaults. It starts nothing:
// call [Monitor.Init] once, then [Monitor.Start] or [Monitor.Run].
func New(cfg Config) (*Monitor, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	inc, err := glob.CompileAll("Include", cfg.Include)
	if err != nil {
		return nil, err
	}
	exc, err := glob.CompileAll("Exclude", cfg.Exclude)
	if err != nil {
		return nil, err
	}
	rules, err := compileRules(cfg.SeverityRules)
	if err != nil {
		return nil, err
	}
	cfg.Key = append([]byte(nil), cfg.Key...)
	if hs, ok := cfg.Store.(HostStores); ok {
		cfg.Store = hs.IntegrityStore(cfg.Host)
	}
	m := &Monitor{cfg: cfg, keys: deriveKeys(cfg.Key), box: contentbox.New(cfg.Key), filter: glob.Filter{Include: inc, Exclude: exc},
		rules: rules, slot: make(chan struct{}, 1)}
	m.locker, _ = cfg.Store.(ScanLocker)
	m.base, m.stop = context.WithCancel(context.Background())
	return m, nil
}

// Roots returns the monitored roots, absolute and sorted.
func (m *Monitor) Roots() []string { return append([]string(nil), m.cfg.Roots...) }

func (m *Monitor) now() time.Time { return security.Now(m.cfg.Clock).UTC() }

// acquire takes the operation slot, waiting for the running operation,
// then the store's lock (see [ScanLocker]) for check c (zero: for no
// check), waiting for it too.
func (m *Monitor) acquire(ctx context.Context, c Check) error {
	if !fsmeta.Supported {
		return errUnsupported
	}
	select {
	case m.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.base.Done():
		return errClosed
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.slot
		return errClosed
	}
	m.wg.Add(1)
	m.mu.Unlock()
	if err := m.lockStore(ctx, c, true); err != nil {
		m.release()
		return err
	}
	return nil
}

// lockStore takes the store's lock into m.lease, if the store is a
// ScanLocker; the slot is held. It gives up when the Monitor closes.
func (m *Monitor) lockStore(ctx context.Context, c Check, wait bool) error {
	if m.locker == nil {
		return nil
	}
	ctx, cancel := m.opContext(ctx)
	defer cancel()
	lease, err := m.locker.LockScan(ctx, c, wait)
	if err != nil {
		if m.base.Err() != nil {
			return errClosed
		}
		return err
	}
	m.lease = lease
	return nil
}

// release frees the store's lock, if held, and the slot.
func (m *Monitor) release() {
	if m.lease != nil {
		ctx, cancel := leaseContext(context.Background())
		// An error leaves the lock to be freed when its connection closes.
		_ = m.lease.Release(ctx)
		cancel()
		m.lease = nil
	}
	<-m.slot
	m.wg.Done()
}

// runningCheck is the Check recorded for a check starting now.
func (m *Monitor) runningCheck(id string, kind CheckKind) Check {
	return Check{ID: id, Host: m.cfg.Host, Kind: kind, Status: CheckRunning, StartedAt: m.now()}
}

// opContext is ctx, also cancelled when the Monitor closes.
func (m *Monitor) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(m.base, cancel)
	return ctx, func() { stop(); cancel() }
}

// newJobLocked registers a job with id (a new one if "") as the running
// one; m.mu is held and the slot taken.
func (m *Monitor) newJobLocked(id string, kind CheckKind, cancel context.CancelFunc) *job {
	if id == "" {
		id = security.NewID(CheckIDPrefix)
	}
	j := &job{id: id, kind: kind, started: m.now(), cancel: cancel, status: CheckRunning}
	m.cur = j
	return j
}

// execute runs fn as job j and records its outcome, also through the
// store's lease, if any.
func (m *Monitor) execute(ctx context.Context, j *job, fn func(context.Context, *job) error) error {
	stop, err := m.recordRunning(ctx, j)
	if err == nil {
		err = fn(ctx, j)
		if lost := stop(); lost != nil {
			err = lost
		}
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	now := m.now()
	status, errText := CheckComplete, ""
	if err != nil {
		status, errText = CheckFailed, err.Error()
		if errors.Is(err, context.Canceled) {
			errText = "cancelled"
		}
	}
	ev := security.Event{Time: now, Type: EventScanCompleted, Subject: j.id, Details: map[string]string{
		"kind": string(j.kind), "status": string(status), "files_scanned": fmt.Sprint(j.scanned.Load()),
		"violations_found": fmt.Sprint(j.violations.Load()), "accepted": fmt.Sprint(j.accepted.Load()),
		"duration_ms": fmt.Sprint(now.Sub(j.started).Milliseconds())}}
	if errText != "" {
		ev.Details["error"] = security.CleanText(errText, 500)
	}
	recErr := m.cfg.Store.RecordEvents(context.WithoutCancel(ctx), ev)
	if err == nil && recErr != nil {
		status, errText, err = CheckFailed, recErr.Error(), recErr
	}
	m.mu.Lock()
	j.status, j.finished, j.errText = status, now, errText
	m.cur = nil
	m.rememberLocked(j)
	m.mu.Unlock()
	m.observeCheck(j, err, now)
	if m.lease != nil {
		// If this fails, the store reports the check failed once the lock
		// is released.
		lctx, cancel := leaseContext(ctx)
		_ = m.lease.Record(lctx, m.snapshot(j))
		cancel()
	}
	return err
}

// recordRunning records j as running through the store's lease, if any,
// and then about every second until stop is called. If a record fails, it
// cancels j: the lease may be lost, and another process may take the lock.
// stop waits for the recording to end and returns the reason j failed, if
// it did.
func (m *Monitor) recordRunning(ctx context.Context, j *job) (stop func() error, err error) {
	if m.lease == nil {
		return func() error { return nil }, nil
	}
	record := func() error {
		lctx, cancel := leaseContext(ctx)
		defer cancel()
		return m.lease.Record(lctx, m.snapshot(j))
	}
	if err := record(); err != nil {
		return nil, fmt.Errorf("recording check %s: %w", j.id, err)
	}
	done := make(chan struct{})
	var lost error
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(recordInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if err := record(); err != nil {
				lost = fmt.Errorf("lost the store's integrity lock: %w", err)
				j.cancel()
				return
			}
		}
	})
	return func() error {
		close(done)
		wg.Wait()
		return lost
	}, nil
}

// Start starts a scan in the background and returns its id ("chk_…") at
// once. The scan outlives ctx: it runs until it ends, [Monitor.Cancel] or
// [Monitor.Close]. If a check is running, Start returns that check's id and
// an error wrapping [security.ErrConflict]; if another operation (accepting
// an alert) holds the Monitor, the id is empty. The same holds for a check
// or operation of another process sharing the store (see [ScanLocker]):
// the error is then a [*BusyError].
func (m *Monitor) Start(ctx context.Context) (string, error) {
	if !fsmeta.Supported {
		return "", errUnsupported
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return "", errClosed
	}
	if m.cur != nil {
		id := m.cur.id
		m.mu.Unlock()
		return id, fmt.Errorf("integrity check %s is running: %w", id, security.ErrConflict)
	}
	select {
	case m.slot <- struct{}{}:
	default:
		m.mu.Unlock()
		return "", fmt.Errorf("another integrity operation is running: %w", security.ErrConflict)
	}
	m.wg.Add(1)
	m.mu.Unlock()
	// The slot is held: take the store's lock, without waiting, outside
	// m.mu (it may be a round trip to a database).
	id := security.NewID(CheckIDPrefix)
	if err := m.lockStore(ctx, m.runningCheck(id, CheckScan), false); err != nil {
		m.release()
		var busy *BusyError
		if errors.As(err, &busy) {
			return busy.CheckID, err
		}
		return "", err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.release()
		return "", errClosed
	}
	jctx, cancel := context.WithCancel(m.base)
	j := m.newJobLocked(id, CheckScan, cancel)
	m.mu.Unlock()
	go func() {
		defer m.release()
		defer cancel()
		m.execute(jctx, j, m.runScan)
	}()
	return j.id, nil
}

// runSync runs a check in the calling goroutine, after the running one.
func (m *Monitor) runSync(ctx context.Context, kind CheckKind, fn func(context.Context, *job) error) (*job, error) {
	id := security.NewID(CheckIDPrefix)
	if err := m.acquire(ctx, m.runningCheck(id, kind)); err != nil {
		return nil, err
	}
	defer m.release()
	return m.runHeld(ctx, id, kind, fn)
}

// runHeld runs a check with id ("": a new one) in the calling goroutine,
// which holds the slot.
func (m *Monitor) runHeld(ctx context.Context, id string, kind CheckKind, fn func(context.Context, *job) error) (*job, error) {
	ctx, cancel := m.opContext(ctx)
	defer cancel()
	m.mu.Lock()
	j := m.newJobLocked(id, kind, cancel)
	m.mu.Unlock()
	return j, m.execute(ctx, j, fn)
}

// Scan runs a scan in the calling goroutine, waiting first for a running
// check, and returns its result. The error is the reason a failed scan
// failed.
func (m *Monitor) Scan(ctx context.Context) (Check, error) {
	j, err := m.runSync(ctx, CheckScan, m.runScan)
	if j == nil {
		return Check{}, err
	}
	return m.snapshot(j), err
}

// Init records the baseline of every root that has none, and returns those
// roots. A root whose records exist without their seal is not re-recorded
// (that would launder whatever changed): a baseline_tampered alert is raised
// instead, and ending a deployment rebuilds it.
func (m *Monitor) Init(ctx context.Context) ([]string, error) {
	j, err := m.runSync(ctx, CheckBaseline, m.runInit)
	if j == nil {
		return nil, err
	}
	j.createMu.Lock()
	defer j.createMu.Unlock()
	return append([]string(nil), j.created...), err
}

// Progress returns the state of check id: the running one or one of the
// last 100 finished. With a store shared by several processes (see
// [ScanLocker]), it also reports the checks the store recorded for any of
// them, with the counts recorded last (about every second while one runs).
func (m *Monitor) Progress(ctx context.Context, id string) (Check, error) {
	if !security.ValidID(CheckIDPrefix, id) {
		return Check{}, security.Invalid("check_id", "must be a check id (chk_…)")
	}
	m.mu.Lock()
	j := m.findLocked(id)
	m.mu.Unlock()
	if j != nil {
		return m.snapshot(j), nil
	}
	if m.locker != nil {
		c, err := m.locker.RecordedCheck(ctx, id)
		if err != nil {
			return Check{}, err
		}
		if c.Status == CheckRunning {
			c.Duration = max(m.now().Sub(c.StartedAt), 0)
		}
		return c, nil
	}
	return Check{}, fmt.Errorf("check %s: %w", id, security.ErrNotFound)
}

// Current returns the running check, if any.
func (m *Monitor) Current() (Check, bool) {
	m.mu.Lock()
	j := m.cur
	m.mu.Unlock()
	if j == nil {
		return Check{}, false
	}
	return m.snapshot(j), true
}

// rememberLocked adds the finished job j to the history; m.mu is held.
func (m *Monitor) rememberLocked(j *job) {
	m.history = append(m.history, j)
	if len(m.history) > historySize {
		m.history = m.history[len(m.history)-historySize:]
	}
}

func (m *Monitor) findLocked(id string) *job {
	if m.cur != nil && m.cur.id == id {
		return m.cur
	}
	if m.rt != nil && m.rt.j.id == id {
		return m.rt.j
	}
	for _, j := range m.history {
		if j.id == id {
			return j
		}
	}
	return nil
}

func (m *Monitor) snapshot(j *job) Check {
	m.mu.Lock()
	c := Check{ID: j.id, Host: m.cfg.Host, Kind: j.kind, Status: j.status, StartedAt: j.started, FinishedAt: j.finished,
		Error: j.errText}
	m.mu.Unlock()
	c.FilesTotal, c.FilesScanned = j.total.Load(), j.scanned.Load()
	c.ViolationsFound, c.Accepted = j.violations.Load(), j.accepted.Load()
	if c.Status == CheckRunning {
		c.Duration = m.now().Sub(c.StartedAt)
	} else {
		c.Duration = c.FinishedAt.Sub(c.StartedAt)
	}
	return c
}

// Cancel cancels the running check id. It fails with [security.ErrNotFound]
// for an unknown id and [security.ErrConflict] for a finished one, and for
// the [CheckRealtime] check (end Run to stop real-time detection).
func (m *Monitor) Cancel(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil && m.cur.id == id {
		m.cur.cancel()
		return nil
	}
	if m.rt != nil && m.rt.j.id == id {
		return fmt.Errorf("check %s is real-time detection, which runs as long as Run: %w", id, security.ErrConflict)
	}
	if m.findLocked(id) != nil {
		return fmt.Errorf("check %s is not running: %w", id, security.ErrConflict)
	}
	return fmt.Errorf("check %s: %w", id, security.ErrNotFound)
}

// Run starts a scan every interval until ctx is done or the Monitor closes,
// skipping a tick while a check is still running (here or, with a shared
// store, in another process) or when the scan cannot start, such as while
// the store is unreachable. It returns ctx.Err(), or an error wrapping
// [security.ErrUnavailable] once the Monitor is closed.
//
// With [Config.Realtime], Run also watches the roots and re-checks what
// changes as it changes (see "Real-time detection" in the package
// documentation); it fails at once if the watching cannot start, or if
// another Run of the same Monitor is watching.
func (m *Monitor) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return security.Invalid("interval", "must be positive")
	}
	var rt *realtime
	if m.cfg.Realtime {
		var err error
		if rt, err = m.startRealtime(ctx); err != nil {
			return err
		}
		defer rt.stop()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.base.Done():
			return errClosed
		case <-t.C:
			if rt != nil {
				rt.tick()
			}
			if _, err := m.Start(ctx); errors.Is(err, errClosed) || errors.Is(err, errUnsupported) {
				return err
			}
		}
	}
}

// Close cancels the running check and waits for every operation to end.
// Later calls fail with an error wrapping [security.ErrUnavailable].
func (m *Monitor) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
	return nil
}
