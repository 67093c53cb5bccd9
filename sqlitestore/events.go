package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/propops/propsec/security"
)

const insertEventSQL = `INSERT INTO events (time, type, actor_user_id, actor_session_id,
	subject_user_id, subject, ip, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// insertEvents writes events inside tx.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []security.Event) error {
	if len(events) == 0 {
		return nil
	}
	st := tx.StmtContext(ctx, s.insertEvent)
	defer st.Close()
	for _, e := range events {
		var details any
		if len(e.Details) > 0 {
			b, err := json.Marshal(e.Details)
			if err != nil {
				return fmt.Errorf("event details: %w", err)
			}
			details = string(b)
		}
		if _, err := st.ExecContext(ctx, nanos(e.Time), string(e.Type), e.ActorUserID, e.ActorSessionID,
			e.SubjectUserID, e.Subject, e.IP, details); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
	}
	return nil
}

// RecordEvents implements [security.EventRecorder]: the events of one call
// are written in one transaction.
func (s *Store) RecordEvents(ctx context.Context, events ...security.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.write(ctx, "record events", func(tx *sql.Tx) error {
		return s.insertEvents(ctx, tx, events)
	})
}

// Events returns every recorded event, oldest first.
func (s *Store) Events(ctx context.Context) ([]security.Event, error) {
	evs, err := collect(scanEvent)(s.r.QueryContext(ctx, `SELECT id, time, type, actor_user_id, actor_session_id,
		subject_user_id, subject, ip, details FROM events ORDER BY id`))
	if err != nil {
		return nil, wrap("events", err)
	}
	return evs, nil
}

func scanEvent(sc scanner) (security.Event, error) {
	var e security.Event
	var at int64
	var typ string
	var details sql.NullString
	if err := sc.Scan(&e.ID, &at, &typ, &e.ActorUserID, &e.ActorSessionID,
		&e.SubjectUserID, &e.Subject, &e.IP, &details); err != nil {
		return security.Event{}, err
	}
	e.Time, e.Type = fromNanos(at), security.EventType(typ)
	if details.Valid {
		if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
			return security.Event{}, fmt.Errorf("event %d details: %w", e.ID, err)
		}
	}
	return e, nil
}
