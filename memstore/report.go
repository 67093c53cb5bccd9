package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

var _ report.Store = (*Store)(nil)

// CountEventsByDay implements [report.Store]. It walks the in-memory event
// list under the read lock, copying no event.
func (s *Store) CountEventsByDay(_ context.Context, from, to time.Time, types []security.EventType) ([]report.DayCount, error) {
	type key struct {
		day int64
		typ security.EventType
	}
	counts := map[key]int64{}
	s.mu.RLock()
	for i := range s.events {
		e := &s.events[i]
		if e.Time.Before(from) || !e.Time.Before(to) || !slices.Contains(types, e.Type) {
			continue
		}
		counts[key{dayOf(e.Time), e.Type}]++
	}
	s.mu.RUnlock()
	out := make([]report.DayCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, report.DayCount{Day: time.Unix(k.day*86400, 0).UTC(), Type: k.typ, Count: n})
	}
	return out, nil
}

// dayOf is the number of the UTC day holding t, counted from 1970-01-01.
func dayOf(t time.Time) int64 {
	d := t.Unix() / 86400
	if t.Unix() < 0 && t.Unix()%86400 != 0 {
		d--
	}
	return d
}
