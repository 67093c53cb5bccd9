package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

var _ report.Store = (*Store)(nil)

const nanosPerDay = int64(24 * time.Hour)

// countEventsByDaySQL counts, for every UTC day of the period and every
// asked type, the events in the part of that day inside [from, to). Each
// count is a range count on the events_type_time index (type, time): it
// reads index entries only, never a row, and no event leaves SQLite.
const countEventsByDaySQL = `
WITH RECURSIVE days(d) AS (
	SELECT :first UNION ALL SELECT d + 1 FROM days WHERE d < :last
), kinds(t) AS (
	SELECT value FROM json_each(:types)
)
SELECT d, t, (SELECT count(*) FROM events
	WHERE type = t AND time >= max(d * :day, :from) AND time < min((d + 1) * :day, :to)) AS n
FROM days, kinds`

// CountEventsByDay implements [report.Store]: one query on the reader pool,
// counting on the events_type_time index.
func (s *Store) CountEventsByDay(ctx context.Context, from, to time.Time, types []security.EventType) ([]report.DayCount, error) {
	lo, hi := nanos(from), nanos(to)
	if lo >= hi || len(types) == 0 {
		return nil, nil
	}
	kinds, err := json.Marshal(types)
	if err != nil {
		return nil, wrap("count events by day", err)
	}
	rows, err := s.r.QueryContext(ctx, countEventsByDaySQL,
		sql.Named("first", floorDiv(lo, nanosPerDay)), sql.Named("last", floorDiv(hi-1, nanosPerDay)),
		sql.Named("types", string(kinds)), sql.Named("day", nanosPerDay),
		sql.Named("from", lo), sql.Named("to", hi))
	if err != nil {
		return nil, wrap("count events by day", err)
	}
	defer rows.Close()
	var out []report.DayCount
	for rows.Next() {
		var day, n int64
		var typ string
		if err := rows.Scan(&day, &typ, &n); err != nil {
			return nil, wrap("count events by day", err)
		}
		if n > 0 {
			out = append(out, report.DayCount{Day: time.Unix(0, day*nanosPerDay).UTC(),
				Type: security.EventType(typ), Count: n})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("count events by day", err)
	}
	return out, nil
}

// floorDiv is a / b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
