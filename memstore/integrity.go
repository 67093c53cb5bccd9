package memstore

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

// integrityState is the part of a Store that implements [integrity.Store].
// It is guarded by Store.mu, so that its changes and their audit events are
// one atomic step.
type integrityState struct {
	roots        map[string]*integrityRoot
	content      map[integrity.Hash][]byte
	staged       map[string]*stagedSet
	observations map[integrity.Key]integrity.Observation
	alerts       map[int64]*integrity.Alert
	nextAlertID  int64
	deployment   *integrity.Deployment
	ended        []integrity.EndedDeployment // in the order they ended
}

// integrityRoot is one root's baseline. entries is sorted by Path and never
// changed in place (a commit replaces it), so an iteration can read it
// without the lock.
type integrityRoot struct {
	entries []integrity.Entry
	seal    *integrity.Seal
}

type stagedSet struct {
	puts  map[string]map[string]integrity.Entry // root → path → entry
	dels  map[string]map[string]bool
	blobs map[integrity.Hash][]byte
}

// integ returns s's integrity state; s.mu must be held.
func (s *Store) integ() *integrityState {
	st := &s.integrity
	if st.roots == nil {
		st.roots = map[string]*integrityRoot{}
		st.content = map[integrity.Hash][]byte{}
		st.staged = map[string]*stagedSet{}
		st.observations = map[integrity.Key]integrity.Observation{}
		st.alerts = map[int64]*integrity.Alert{}
	}
	return st
}

var _ integrity.Store = (*Store)(nil)

// Seals implements [integrity.Store].
func (s *Store) Seals(context.Context) ([]integrity.Seal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []integrity.Seal
	for _, r := range s.integ().roots {
		if r.seal != nil {
			out = append(out, *r.seal)
		}
	}
	slices.SortFunc(out, func(a, b integrity.Seal) int { return strings.Compare(a.Root, b.Root) })
	return out, nil
}

// Entries implements [integrity.Store]; it iterates a snapshot.
func (s *Store) Entries(_ context.Context, root string) iter.Seq2[integrity.Entry, error] {
	return func(yield func(integrity.Entry, error) bool) {
		s.mu.Lock()
		var entries []integrity.Entry
		if r := s.integ().roots[root]; r != nil {
			entries = r.entries
		}
		s.mu.Unlock()
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Entry implements [integrity.Store].
func (s *Store) Entry(_ context.Context, k integrity.Key) (integrity.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.integ().roots[k.Root]; r != nil {
		if i, ok := slices.BinarySearchFunc(r.entries, k.Path, comparePath); ok {
			return r.entries[i], nil
		}
	}
	return integrity.Entry{}, notFound("baseline entry")
}

func comparePath(e integrity.Entry, path string) int { return strings.Compare(e.Path, path) }

// Content implements [integrity.Store].
func (s *Store) Content(_ context.Context, h integrity.Hash) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.integ().content[h]
	if !ok {
		return nil, notFound("content")
	}
	return slices.Clone(b), nil
}

// Stage implements [integrity.Store].
func (s *Store) Stage(_ context.Context, set string, b integrity.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.integ()
	ss := st.staged[set]
	if ss == nil {
		ss = &stagedSet{puts: map[string]map[string]integrity.Entry{}, dels: map[string]map[string]bool{},
			blobs: map[integrity.Hash][]byte{}}
		st.staged[set] = ss
	}
	for _, e := range b.Put {
		if ss.puts[e.Root] == nil {
			ss.puts[e.Root] = map[string]integrity.Entry{}
		}
		e.XAttrs = slices.Clone(e.XAttrs) // the caller's slice stays theirs
		ss.puts[e.Root][e.Path] = e
		delete(ss.dels[e.Root], e.Path)
	}
	for _, k := range b.Delete {
		if ss.dels[k.Root] == nil {
			ss.dels[k.Root] = map[string]bool{}
		}
		ss.dels[k.Root][k.Path] = true
		delete(ss.puts[k.Root], k.Path)
	}
	for _, bl := range b.Blobs {
		ss.blobs[bl.Hash] = slices.Clone(bl.Data)
	}
	return nil
}

// DiscardStaged implements [integrity.Store].
func (s *Store) DiscardStaged(_ context.Context, set string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.integ()
	if set == "" {
		clear(st.staged)
	} else {
		delete(st.staged, set)
	}
	return nil
}

// Commit implements [integrity.Store].
func (s *Store) Commit(_ context.Context, c integrity.Commit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.integ()
	for _, rc := range c.Roots {
		var have integrity.Hash
		if r := st.roots[rc.Seal.Root]; r != nil && r.seal != nil {
			have = r.seal.Sum
		}
		if have != rc.Previous {
			return fmt.Errorf("baseline of %s changed meanwhile: %w", rc.Seal.Root, security.ErrConflict)
		}
	}
	if c.EndDeployment != "" && (st.deployment == nil || st.deployment.ID != c.EndDeployment) {
		return fmt.Errorf("deployment %s is not open: %w", c.EndDeployment, security.ErrConflict)
	}
	ss := st.staged[c.Set]
	if ss == nil {
		ss = &stagedSet{}
	}
	roots := map[string]bool{}
	for _, rc := range c.Roots {
		roots[rc.Seal.Root] = true
	}
	for r := range ss.puts {
		roots[r] = true
	}
	for r := range ss.dels {
		roots[r] = true
	}
	replace := map[string]bool{}
	for _, rc := range c.Roots {
		replace[rc.Seal.Root] = rc.Replace
	}
	for root := range roots {
		r := st.roots[root]
		if r == nil {
			r = &integrityRoot{}
			st.roots[root] = r
		}
		old := r.entries
		if replace[root] {
			for _, e := range old {
				delete(st.observations, e.Key)
			}
			for k := range st.observations {
				if k.Root == root {
					delete(st.observations, k)
				}
			}
			old = nil
		}
		puts, dels := ss.puts[root], ss.dels[root]
		next := make([]integrity.Entry, 0, len(old)+len(puts))
		for _, e := range old {
			if _, ok := puts[e.Path]; ok || dels[e.Path] {
				continue
			}
			next = append(next, e)
		}
		for _, e := range puts {
			next = append(next, e)
		}
		slices.SortFunc(next, func(a, b integrity.Entry) int { return strings.Compare(a.Path, b.Path) })
		for p := range puts {
			delete(st.observations, integrity.Key{Root: root, Path: p})
		}
		for p := range dels {
			delete(st.observations, integrity.Key{Root: root, Path: p})
		}
		r.entries = next
	}
	for _, rc := range c.Roots {
		seal := rc.Seal
		st.roots[seal.Root].seal = &seal
	}
	maps.Copy(st.content, ss.blobs)
	delete(st.staged, c.Set)
	if c.EndDeployment != "" {
		st.ended = append(st.ended, integrity.EndedDeployment{Deployment: *st.deployment, DeploymentEnd: c.Ended})
		st.deployment = nil
	}
	// Drop content no entry refers to.
	used := map[integrity.Hash]bool{}
	for _, r := range st.roots {
		for _, e := range r.entries {
			if e.ContentKept {
				used[e.Hash] = true
			}
		}
	}
	for h := range st.content {
		if !used[h] {
			delete(st.content, h)
		}
	}
	s.appendEvents(c.Events)
	return nil
}

// Observations implements [integrity.Store].
func (s *Store) Observations(_ context.Context, root string) iter.Seq2[integrity.Observation, error] {
	return func(yield func(integrity.Observation, error) bool) {
		s.mu.Lock()
		var out []integrity.Observation
		for k, o := range s.integ().observations {
			if k.Root == root {
				out = append(out, o)
			}
		}
		s.mu.Unlock()
		slices.SortFunc(out, func(a, b integrity.Observation) int { return strings.Compare(a.Path, b.Path) })
		for _, o := range out {
			if !yield(o, nil) {
				return
			}
		}
	}
}

// SaveFindings implements [integrity.Store].
func (s *Store) SaveFindings(_ context.Context, f integrity.Findings) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.integ()
	ids := make([]int64, len(f.Alerts))
	added := make([]integrity.Alert, len(f.Alerts))
	for i, a := range f.Alerts {
		st.nextAlertID++
		a.ID = st.nextAlertID
		ids[i], added[i] = a.ID, a
		st.alerts[a.ID] = &a
	}
	for _, o := range f.Observations {
		if o.State.IsZero() {
			delete(st.observations, o.Key)
		} else {
			st.observations[o.Key] = o
		}
	}
	if f.Events != nil {
		s.appendEvents(f.Events(added))
	}
	return ids, nil
}

// Alert implements [integrity.Store].
func (s *Store) Alert(_ context.Context, id int64) (integrity.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.integ().alerts[id]
	if !ok {
		return integrity.Alert{}, notFound("alert")
	}
	return *a, nil
}

// ListAlerts implements [integrity.Store].
func (s *Store) ListAlerts(_ context.Context, q integrity.AlertQuery) ([]integrity.Alert, int, error) {
	s.mu.Lock()
	var out []integrity.Alert
	for _, a := range s.integ().alerts {
		if (q.Status == nil || a.Status == *q.Status) && (q.Severity == "" || a.Severity == q.Severity) {
			out = append(out, *a)
		}
	}
	s.mu.Unlock()
	newest := func(a, b integrity.Alert) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	}
	switch q.Sort {
	case integrity.SortCreatedAsc:
		slices.SortFunc(out, func(a, b integrity.Alert) int { return newest(b, a) })
	case integrity.SortSeverityDesc:
		slices.SortFunc(out, func(a, b integrity.Alert) int {
			if c := cmp.Compare(b.Severity.Rank(), a.Severity.Rank()); c != 0 {
				return c
			}
			return newest(a, b)
		})
	default:
		slices.SortFunc(out, newest)
	}
	total := len(out)
	lo := min(max(q.Offset, 0), total)
	hi := min(lo+max(q.Limit, 0), total)
	return out[lo:hi], total, nil
}

// lookupAlerts returns the alerts ids (sorted, deduplicated) and the ids
// that are unknown; s.mu must be held.
func (s *Store) lookupAlerts(ids []int64) ([]*integrity.Alert, []int64) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var found []*integrity.Alert
	var unknown []int64
	for _, id := range ids {
		if a, ok := s.integ().alerts[id]; ok {
			found = append(found, a)
		} else {
			unknown = append(unknown, id)
		}
	}
	return found, unknown
}

// SetAlertStatus implements [integrity.Store].
func (s *Store) SetAlertStatus(_ context.Context, ids []int64, status integrity.Status, at time.Time,
	events func([]integrity.Alert) []security.Event) (int, []int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found, unknown := s.lookupAlerts(ids)
	if len(unknown) > 0 {
		return 0, unknown, nil
	}
	before := make([]integrity.Alert, len(found))
	for i, a := range found {
		before[i] = *a
		a.Status, a.UpdatedAt = status, at
	}
	if events != nil {
		s.appendEvents(events(before))
	}
	return len(found), nil, nil
}

// DeleteAlerts implements [integrity.Store].
func (s *Store) DeleteAlerts(_ context.Context, ids []int64, events func([]integrity.Alert) []security.Event) (int, []int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found, unknown := s.lookupAlerts(ids)
	if len(unknown) > 0 {
		return 0, unknown, nil
	}
	deleted := make([]integrity.Alert, len(found))
	for i, a := range found {
		deleted[i] = *a
		delete(s.integ().alerts, a.ID)
	}
	if events != nil {
		s.appendEvents(events(deleted))
	}
	return len(found), nil, nil
}

// Deployment implements [integrity.Store].
func (s *Store) Deployment(context.Context) (integrity.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.integ().deployment; d != nil {
		return *d, nil
	}
	return integrity.Deployment{}, notFound("deployment")
}

// BeginDeployment implements [integrity.Store].
func (s *Store) BeginDeployment(_ context.Context, d integrity.Deployment, events []security.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.integ()
	if st.deployment != nil {
		return fmt.Errorf("deployment %s is open: %w", st.deployment.ID, security.ErrConflict)
	}
	st.deployment = &d
	s.appendEvents(events)
	return nil
}

// EndedDeployments implements [integrity.Store].
func (s *Store) EndedDeployments(_ context.Context, limit int) ([]integrity.EndedDeployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.integ().ended)
	slices.Reverse(out) // the last ended first among equal times
	slices.SortStableFunc(out, func(a, b integrity.EndedDeployment) int { return b.EndedAt.Compare(a.EndedAt) })
	return out[:min(max(limit, 0), len(out))], nil
}
