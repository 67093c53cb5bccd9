package integrity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/propops/propsec/security"
)

// Limits of the alert operations.
const (
	DefaultLimit = 25
	MaxLimit     = 100
	// MaxBulkIDs is the most alert ids one bulk operation takes.
	MaxBulkIDs = 1000
)

// ListOptions selects a page of alerts for [Monitor.Alerts].
type ListOptions struct {
	// Status, when not nil, keeps only alerts with that status.
	Status *Status
	// Severity, when not empty, keeps only alerts of that severity.
	Severity Severity
	// Sort is the order; "" means [SortCreatedDesc].
	Sort AlertSort
	// Page is 1-based; 0 means 1.
	Page int
	// Limit is the page size, 1 to [MaxLimit]; 0 means [DefaultLimit].
	Limit int
}

// Alerts returns one page of alerts and how many match in all. Options out
// of range fail with a [security.InvalidError].
func (m *Monitor) Alerts(ctx context.Context, o ListOptions) ([]Alert, int, error) {
	if o.Status != nil && !o.Status.Valid() {
		return nil, 0, security.Invalid("status", "must be 0, 1 or 2")
	}
	if o.Severity != "" && !o.Severity.Valid() {
		return nil, 0, security.Invalid("severity", "must be critical, high, medium or low")
	}
	if o.Sort == "" {
		o.Sort = SortCreatedDesc
	}
	if !o.Sort.Valid() {
		return nil, 0, security.Invalid("sortBy", "must be created_at_desc, created_at_asc or severity_desc")
	}
	if o.Page == 0 {
		o.Page = 1
	}
	if o.Page < 1 || o.Page > 1<<30 {
		return nil, 0, security.Invalid("page", "must be a positive integer")
	}
	if o.Limit == 0 {
		o.Limit = DefaultLimit
	}
	if o.Limit < 1 || o.Limit > MaxLimit {
		return nil, 0, security.Invalidf("limit", "must be between 1 and %d", MaxLimit)
	}
	return m.cfg.Store.ListAlerts(ctx, AlertQuery{Status: o.Status, Severity: o.Severity, Sort: o.Sort,
		Offset: (o.Page - 1) * o.Limit, Limit: o.Limit})
}

// Alert returns one alert.
func (m *Monitor) Alert(ctx context.Context, id int64) (Alert, error) {
	if id <= 0 {
		return Alert{}, security.Invalid("alert_id", "must be a positive integer")
	}
	return m.cfg.Store.Alert(ctx, id)
}

// UnknownAlertsError says which alert ids do not exist. Nothing was changed.
type UnknownAlertsError struct {
	IDs []int64
}

// Error lists the unknown ids: "unknown alert id(s): 4, 9".
func (e *UnknownAlertsError) Error() string {
	s := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		s[i] = fmt.Sprint(id)
	}
	return "unknown alert id(s): " + strings.Join(s, ", ")
}

// Is makes errors.Is(err, security.ErrNotFound) true.
func (e *UnknownAlertsError) Is(target error) bool { return target == security.ErrNotFound }

func checkIDs(ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, security.Invalid("alert_ids", "must not be empty")
	}
	if len(ids) > MaxBulkIDs {
		return nil, security.Invalidf("alert_ids", "at most %d ids", MaxBulkIDs)
	}
	for _, id := range ids {
		if id <= 0 {
			return nil, security.Invalid("alert_ids", "must be positive integers")
		}
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

var statusEvents = map[Status]security.EventType{
	StatusNew:      EventAlertReopened,
	StatusResolved: EventAlertResolved,
	StatusIgnored:  EventAlertIgnored,
}

// SetAlertStatus sets the status of the alerts ids and returns how many
// there are (duplicates count once). If any id is unknown it changes nothing
// and fails with an [*UnknownAlertsError]. An event is recorded for each
// alert whose status changes.
func (m *Monitor) SetAlertStatus(ctx context.Context, actor Actor, status Status, ids ...int64) (int, error) {
	if !status.Valid() {
		return 0, security.Invalid("status", "must be 0, 1 or 2")
	}
	ids, err := checkIDs(ids)
	if err != nil {
		return 0, err
	}
	now := m.now()
	n, unknown, err := m.cfg.Store.SetAlertStatus(ctx, ids, status, now, func(before []Alert) []security.Event {
		var evs []security.Event
		for _, a := range before {
			if a.Status != status {
				evs = append(evs, actor.event(statusEvents[status], now, a.FilePath,
					map[string]string{"alert_id": fmt.Sprint(a.ID), "from": a.Status.String()}))
			}
		}
		return evs
	})
	return bulkResult(n, unknown, err)
}

func bulkResult(n int, unknown []int64, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	if len(unknown) > 0 {
		return 0, &UnknownAlertsError{IDs: unknown}
	}
	return n, nil
}

// ResolveAlerts marks alerts resolved; see [Monitor.SetAlertStatus].
func (m *Monitor) ResolveAlerts(ctx context.Context, actor Actor, ids ...int64) (int, error) {
	return m.SetAlertStatus(ctx, actor, StatusResolved, ids...)
}

// IgnoreAlerts marks alerts ignored; see [Monitor.SetAlertStatus].
func (m *Monitor) IgnoreAlerts(ctx context.Context, actor Actor, ids ...int64) (int, error) {
	return m.SetAlertStatus(ctx, actor, StatusIgnored, ids...)
}

// DeleteAlerts deletes alerts for good, with the rules of
// [Monitor.SetAlertStatus], and records an event for each. Deleting an
// alert does not accept its change: the observation that suppresses a
// repeat alert for the same state is kept.
func (m *Monitor) DeleteAlerts(ctx context.Context, actor Actor, ids ...int64) (int, error) {
	ids, err := checkIDs(ids)
	if err != nil {
		return 0, err
	}
	now := m.now()
	n, unknown, err := m.cfg.Store.DeleteAlerts(ctx, ids, func(deleted []Alert) []security.Event {
		evs := make([]security.Event, 0, len(deleted))
		for _, a := range deleted {
			evs = append(evs, actor.event(EventAlertDeleted, now, a.FilePath, map[string]string{
				"alert_id": fmt.Sprint(a.ID), "alert_type": string(a.Type), "status": a.Status.String()}))
		}
		return evs
	})
	return bulkResult(n, unknown, err)
}

// AcceptAlert accepts the state an alert observed as known-good: the path's
// baseline entry becomes its current state (or is removed, for a deletion),
// and the alert is resolved. The file must still be in the state the alert
// observed, else it fails with [security.ErrConflict] (run a scan). It also
// refuses while the root's baseline fails verification, since re-sealing
// would launder the tampering; end a deployment to rebuild it instead. An
// alert raised on another host fails with an [*OtherHostError].
func (m *Monitor) AcceptAlert(ctx context.Context, actor Actor, id int64) error {
	if id <= 0 {
		return security.Invalid("alert_id", "must be a positive integer")
	}
	if err := m.acquire(ctx, Check{}); err != nil {
		return err
	}
	defer m.release()
	ctx, cancel := m.opContext(ctx)
	defer cancel()
	a, err := m.cfg.Store.Alert(ctx, id)
	if err != nil {
		return err
	}
	if err := m.ownAlert(a); err != nil {
		return err
	}
	if a.Type != AlertViolation {
		return security.Invalid("alert_id", "only file integrity violations can be accepted")
	}
	if !slices.Contains(m.cfg.Roots, a.Root) {
		return security.Invalid("alert_id", "the alert's root is no longer monitored")
	}
	seals, err := m.sealsByRoot(ctx)
	if err != nil {
		return err
	}
	seal, ok := seals[a.Root]
	if !ok {
		return fmt.Errorf("no baseline for %s: %w", a.Root, security.ErrConflict)
	}
	rd := newReader(m, true, nil)
	cur := rd.inspectPath(a.Key)
	if cur != nil && (cur.StatError != "" || cur.Unreadable != "") {
		return fmt.Errorf("cannot read %s now: %w", a.FilePath, security.ErrConflict)
	}
	var old *Entry // the state digest depends on what the entry recorded
	switch e, err := m.cfg.Store.Entry(ctx, a.Key); {
	case err == nil:
		old = &e
	case !errors.Is(err, security.ErrNotFound):
		return err
	}
	if stateDigest(old, cur) != a.State {
		return fmt.Errorf("%s has changed since alert %d; run a scan: %w", a.FilePath, id, security.ErrConflict)
	}
	var batch Batch
	var put *Entry
	if cur != nil {
		e, blob := m.entryFor(cur, nil)
		put = &e
		batch.Put = []Entry{e}
		if blob != nil {
			batch.Blobs = []Blob{*blob}
		}
	} else {
		batch.Delete = []Key{a.Key}
	}
	// The new seal: the stored entries, verified, with this one changed.
	t := &tamperLog{}
	oldS, newS := m.keys.newSealer(a.Root), m.keys.newSealer(a.Root)
	placed := false
	for e, err := range m.cfg.Store.Entries(ctx, a.Root) {
		if err != nil {
			return err
		}
		if m.keys.entryMAC(&e) != e.MAC {
			t.altered(e.Key)
		}
		oldS.Add(e.MAC)
		if !placed && e.Path >= a.Path {
			placed = true
			if put != nil {
				newS.Add(put.MAC)
			}
			if e.Path == a.Path {
				continue
			}
		}
		newS.Add(e.MAC)
	}
	if !placed && put != nil {
		newS.Add(put.MAC)
	}
	if t.any || oldS.Sum() != seal.Sum {
		return fmt.Errorf("the baseline of %s failed verification; end a deployment to rebuild it: %w", a.Root, security.ErrConflict)
	}
	now := m.now()
	set := security.NewID("stg_")
	if err := m.cfg.Store.Stage(ctx, set, batch); err != nil {
		return err
	}
	ev := actor.event(EventAlertAccepted, now, a.FilePath, map[string]string{
		"alert_id": fmt.Sprint(a.ID), "change": string(a.Change)})
	if err := m.cfg.Store.Commit(ctx, Commit{Set: set, Roots: []RootCommit{{Previous: seal.Sum,
		Seal: Seal{Root: a.Root, Sum: newS.Sum(), Entries: newS.Entries(), UpdatedAt: now}}},
		Events: []security.Event{ev}}); err != nil {
		m.cfg.Store.DiscardStaged(context.WithoutCancel(ctx), set)
		return err
	}
	_, err = m.SetAlertStatus(ctx, actor, StatusResolved, id)
	return err
}

// entryFor makes the baseline entry (with its MAC) for a current state, and
// the content blob to keep with it, if any. When the content is missing,
// rd (if not nil) reads it again. The blob is sealed in c.Content's array:
// c.Content is not to be read after (its length stays, for the budget).
func (m *Monitor) entryFor(c *current, rd *reader) (Entry, *Blob) {
	e := c.Entry
	e.ContentKept = false
	if !e.Meta {
		e.Links, e.XAttrs = 0, nil // not recorded
	}
	var blob *Blob
	if c.Type == TypeFile && c.Text && !c.Hash.IsZero() && m.cfg.MaxDiffBytes >= 0 {
		data := c.Content
		if data == nil && rd != nil {
			if again := rd.inspectPath(c.Key); again != nil && again.Hash == c.Hash {
				data = again.Content
			}
		}
		if data != nil {
			e.ContentKept = true
			blob = &Blob{Hash: e.Hash, Data: m.box.Seal(e.Hash, data)}
		}
	}
	e.MAC = m.keys.entryMAC(&e)
	return e, blob
}
