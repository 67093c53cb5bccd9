package sqlrow

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/propops/propsec/security"
)

// EventCols are the columns of an audit event, in the order [Event.Dest]
// scans them. The chain's columns, prev_hash and hash, follow them where a
// store reads the chain ([ChainedEvents]).
const EventCols = `id, time, type, actor_user_id, actor_session_id, subject_user_id, subject, ip, details`

// EventDetails is the details column of e: a JSON object, or nil (NULL)
// when e has no details.
func EventDetails(e security.Event) (any, error) {
	if len(e.Details) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		return nil, fmt.Errorf("event details: %w", err)
	}
	return string(b), nil
}

// Event receives the columns of [EventCols].
type Event struct {
	e       security.Event
	at      int64
	typ     string
	details sql.NullString
}

// Dest lists where Scan puts [EventCols].
func (r *Event) Dest() []any {
	return []any{&r.e.ID, &r.at, &r.typ, &r.e.ActorUserID, &r.e.ActorSessionID,
		&r.e.SubjectUserID, &r.e.Subject, &r.e.IP, &r.details}
}

// Event converts the scanned columns. It fails when the details are not a
// JSON object of strings.
func (r *Event) Event() (security.Event, error) {
	e := r.e
	e.Time, e.Type = FromNanos(r.at), security.EventType(r.typ)
	if r.details.Valid {
		if err := json.Unmarshal([]byte(r.details.String), &e.Details); err != nil {
			return security.Event{}, fmt.Errorf("event %d details: %w", e.ID, err)
		}
	}
	return e, nil
}

// ScanEvent reads [EventCols].
func ScanEvent(sc Scanner) (security.Event, error) {
	var r Event
	if err := sc.Scan(r.Dest()...); err != nil {
		return security.Event{}, err
	}
	return r.Event()
}

// ChainedEvents implements [security.AuditSource.ChainedEvents] with
// keyset pagination: query returns the rows, [EventCols] then prev_hash and
// hash, of at most limit events with IDs above after, in ID order, and is
// called again after each full page. Each page is its own read, so appends
// go on meanwhile. A row whose columns scan but do not convert is yielded
// with a [*security.UnreadableEventError].
func ChainedEvents(after int64, limit int, query func(after int64, limit int) (Rows, error)) iter.Seq2[security.ChainedEvent, error] {
	return func(yield func(security.ChainedEvent, error) bool) {
		for {
			rows, err := query(after, limit)
			if err != nil {
				yield(security.ChainedEvent{}, err)
				return
			}
			n, more := chainedPage(rows, &after, yield)
			if !more || n < limit {
				return
			}
		}
	}
}

// chainedPage yields the events of rows, one page, and closes rows. It
// sets *after to the last ID yielded and returns how many rows it read and
// whether to go on.
func chainedPage(rows Rows, after *int64, yield func(security.ChainedEvent, error) bool) (n int, more bool) {
	defer closeRows(rows)
	for rows.Next() {
		var r Event
		var prev, hash []byte
		if err := rows.Scan(append(r.Dest(), &prev, &hash)...); err != nil {
			yield(security.ChainedEvent{}, err)
			return n, false
		}
		n++
		e, err := r.Event()
		if err != nil {
			yield(security.ChainedEvent{}, &security.UnreadableEventError{ID: r.e.ID, Err: err})
			return n, false
		}
		ce := security.ChainedEvent{Event: e}
		copy(ce.PrevHash[:], prev)
		copy(ce.Hash[:], hash)
		if !yield(ce, nil) {
			return n, false
		}
		*after = e.ID
	}
	if err := rows.Err(); err != nil {
		yield(security.ChainedEvent{}, err)
		return n, false
	}
	return n, true
}

// ScanAuditHead reads an event's id and hash: the head of the chain
// ([security.AuditHead]) when the event is the newest.
func ScanAuditHead(sc Scanner) (security.AuditHead, error) {
	var h security.AuditHead
	var hash []byte
	if err := sc.Scan(&h.ID, &hash); err != nil {
		return security.AuditHead{}, err
	}
	copy(h.Hash[:], hash)
	return h, nil
}
