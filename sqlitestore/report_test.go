package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestCountEventsByDayUsesIndex checks the plan: every count is a search of
// the covering index events_type_time, never a scan of the table. What the
// counts are is checked on every store by package report's tests.
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
