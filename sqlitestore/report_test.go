package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

// TestCountEventsByDayUsesIndex checks the plan: every count is a search of
// the covering index events_type_time, never a scan of the table.
func TestCountEventsByDayUsesIndex(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "propsec.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+countEventsByDaySQL,
		sql.Named("first", 1), sql.Named("last", 2), sql.Named("types", `["login_failed"]`),
		sql.Named("day", nanosPerDay), sql.Named("from", 0), sql.Named("to", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "SEARCH events USING COVERING INDEX events_type_time (type=? AND time>? AND time<?)") ||
		strings.Contains(text, "SCAN events") {
		t.Errorf("plan:\n%s", text)
	}
}

// TestCountEventsByDayMatchesMemstore compares both stores on events around
// day boundaries and period bounds that cut days.
func TestCountEventsByDayMatchesMemstore(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "propsec.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mem := memstore.New()
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	types := []security.EventType{security.EventLoginFailed, security.EventLoginSucceeded, security.EventLogout}
	var evs []security.Event
	for i := range 200 {
		at := base.Add(time.Duration(i)*7*time.Hour + time.Duration(i%3-1)) // ±1ns around hours
		evs = append(evs, security.Event{Time: at, Type: types[i%len(types)]})
	}
	for _, st := range []security.EventRecorder{s, mem} {
		if err := st.RecordEvents(ctx, evs...); err != nil {
			t.Fatal(err)
		}
	}
	norm := func(dc []report.DayCount) []report.DayCount {
		slices.SortFunc(dc, func(a, b report.DayCount) int {
			if c := a.Day.Compare(b.Day); c != 0 {
				return c
			}
			return strings.Compare(string(a.Type), string(b.Type))
		})
		return dc
	}
	asked := types[:2]
	for _, span := range [][2]time.Time{
		{base, base.AddDate(0, 0, 60)},
		{base.Add(7 * time.Hour), base.Add(7*24*time.Hour + 1)},
		{base.Add(-time.Hour), base.Add(time.Hour)},
		{base.Add(5*time.Hour + 30*time.Minute), base.Add(5*time.Hour + 31*time.Minute)},
	} {
		got, err := s.CountEventsByDay(ctx, span[0], span[1], asked)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := mem.CountEventsByDay(ctx, span[0], span[1], asked)
		var total int64
		for _, e := range evs {
			if !e.Time.Before(span[0]) && e.Time.Before(span[1]) && slices.Contains(asked, e.Type) {
				total++
			}
		}
		var sum int64
		for _, d := range got {
			sum += d.Count
		}
		if !slices.Equal(norm(got), norm(want)) || sum != total {
			t.Errorf("%v: sqlite %v\nmemstore %v\n(total %d, want %d)", span, got, want, sum, total)
		}
	}
}
