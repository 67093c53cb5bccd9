package pgstore

import (
	"context"
	"time"

	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

var _ report.Store = (*Store)(nil)

const nanosPerDay = int64(24 * time.Hour)

// countEventsByDaySQL counts the events of the asked types ($1) with
// $2 <= time < $3, per UTC day ($4 nanoseconds; the floor division also
// holds before 1970) and type. It is an index-only range scan of
// events_type_time (type, time) for each type, aggregated in the server:
// no event leaves PostgreSQL.
const countEventsByDaySQL = `SELECT CASE WHEN time >= 0 THEN time / $4 ELSE (time + 1) / $4 - 1 END AS day,
	type, count(*)
FROM events WHERE type = ANY($1) AND time >= $2 AND time < $3
GROUP BY day, type`

// CountEventsByDay implements [report.Store]: one query, counting on the
// events_type_time index, read again after a transient error or a lost
// connection.
func (s *Store) CountEventsByDay(ctx context.Context, from, to time.Time, types []security.EventType) ([]report.DayCount, error) {
	lo, hi := nanos(from), nanos(to)
	if lo >= hi || len(types) == 0 {
		return nil, nil
	}
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	counts, err := query(ctx, s, func(sc scanner) (report.DayCount, error) {
		var day int64
		var typ string
		var dc report.DayCount
		err := sc.Scan(&day, &typ, &dc.Count)
		dc.Day, dc.Type = time.Unix(0, day*nanosPerDay).UTC(), security.EventType(typ)
		return dc, err
	}, countEventsByDaySQL, names, lo, hi, nanosPerDay)
	if err != nil {
		return nil, wrap("count events by day", err)
	}
	return counts, nil
}
