package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/propops/propsec/security"
)

// The events table is a hash chain ([security.AuditLog]): each row stores
// prev_hash, the hash of the row before it, and hash =
// BLAKE3(prev_hash || canonical encoding of the event, ID included).
//
// Appends lock the one row of events_head (SELECT … FOR UPDATE) inside the
// caller's transaction, so they are serialized across every instance; the
// store assigns IDs from the head, without gaps, and moves the head in the
// same transaction. The head remembers the highest ID ever assigned, so a
// deleted tail is reported by VerifyEvents even without an anchor.

const eventCols = `id, time, type, actor_user_id, actor_session_id, subject_user_id, subject, ip, details`

// verifyPage is how many events VerifyEvents reads per query.
const verifyPage = 1000

// insertEvents cleans ([security.CleanEvent]), numbers, chains and writes
// events inside tx.
func insertEvents(ctx context.Context, tx pgx.Tx, events []security.Event) error {
	if len(events) == 0 {
		return nil
	}
	var last int64
	var head []byte
	if err := tx.QueryRow(ctx, `SELECT last_id, hash FROM events_head WHERE one = 1 FOR UPDATE`).
		Scan(&last, &head); err != nil {
		return fmt.Errorf("audit chain head: %w", err)
	}
	var prev [32]byte
	copy(prev[:], head)
	for _, e := range events {
		e = security.CleanEvent(e)
		last++
		e.ID = last
		details, err := eventDetails(e)
		if err != nil {
			return err
		}
		h := security.EventHash(prev, e)
		if _, err := tx.Exec(ctx, `INSERT INTO events (`+eventCols+`, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.ID, security.EventNanos(e.Time), string(e.Type), e.ActorUserID, e.ActorSessionID,
			e.SubjectUserID, e.Subject, e.IP, details, prev[:], h[:]); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		prev = h
	}
	if _, err := tx.Exec(ctx, `UPDATE events_head SET last_id = $1, hash = $2 WHERE one = 1`, last, prev[:]); err != nil {
		return fmt.Errorf("audit chain head: %w", err)
	}
	return nil
}

// eventDetails is e.Details as stored: a JSON object, or NULL when empty.
func eventDetails(e security.Event) (*string, error) {
	if len(e.Details) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		return nil, fmt.Errorf("event details: %w", err)
	}
	s := string(b)
	return &s, nil
}

// RecordEvents implements [security.EventRecorder]: the events of one call
// are written in one transaction. Client-supplied text is stored cleaned
// ([security.CleanEvent]).
func (s *Store) RecordEvents(ctx context.Context, events ...security.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.write(ctx, "record events", func(tx pgx.Tx) error {
		return insertEvents(ctx, tx, events)
	})
}

// Events returns every recorded event, oldest first.
func (s *Store) Events(ctx context.Context) ([]security.Event, error) {
	evs, err := query(ctx, s, scanEvent, `SELECT `+eventCols+` FROM events ORDER BY id`)
	if err != nil {
		return nil, wrap("events", err)
	}
	return evs, nil
}

// EventsHead implements [security.AuditLog]: the newest event's ID and
// hash, or the zero head when there are no events.
func (s *Store) EventsHead(ctx context.Context) (security.AuditHead, error) {
	var h security.AuditHead
	var hash []byte
	err := s.row(ctx, `SELECT id, hash FROM events ORDER BY id DESC LIMIT 1`).Scan(&h.ID, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return security.AuditHead{}, nil
	}
	if err != nil {
		return security.AuditHead{}, wrap("events head", err)
	}
	copy(h.Hash[:], hash)
	return h, nil
}

// VerifyEvents implements [security.AuditLog]. It reads the events in ID
// order, [verifyPage] at a time (keyset pagination), so memory stays
// constant and appends go on meanwhile; events appended during the walk
// are checked too. A deleted tail is reported as truncated even without an
// anchor, since events_head remembers the highest ID assigned.
func (s *Store) VerifyEvents(ctx context.Context, anchors ...security.AuditHead) (security.AuditResult, error) {
	fail := func(err error) (security.AuditResult, error) {
		return security.AuditResult{}, wrap("verify events", err)
	}
	v := security.NewAuditVerifier(anchors...)
	v.Neighbours = func(prev, hash [32]byte) (before, after int64, err error) {
		err = s.row(ctx, `SELECT
			COALESCE((SELECT id FROM events WHERE hash = $1 ORDER BY id LIMIT 1), 0),
			COALESCE((SELECT id FROM events WHERE prev_hash = $2 ORDER BY id LIMIT 1), 0)`,
			prev[:], hash[:]).Scan(&before, &after)
		return before, after, err
	}
	for {
		n, more, err := s.verifyPage(ctx, v)
		if err != nil {
			return fail(err)
		}
		if !more {
			break // the chain is broken
		}
		if n == verifyPage {
			continue
		}
		// The last page was short. In one statement (one snapshot), see
		// whether events were appended meanwhile, and what IDs were
		// assigned.
		var assigned, last int64
		if err := s.row(ctx, `SELECT
			COALESCE((SELECT last_id FROM events_head WHERE one = 1), 0),
			COALESCE((SELECT max(id) FROM events), 0)`).Scan(&assigned, &last); err != nil {
			return fail(err)
		}
		if last > v.Last() {
			continue
		}
		res, err := v.Finish(max(assigned, last))
		if err != nil {
			return fail(err)
		}
		return res, nil
	}
	res, err := v.Finish(0)
	if err != nil {
		return fail(err)
	}
	return res, nil
}

// verifyPage feeds the events after v.Last() to v, up to verifyPage of
// them. more is false once v found a break.
func (s *Store) verifyPage(ctx context.Context, v *security.AuditVerifier) (n int, more bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+`, prev_hash, hash FROM events
		WHERE id > $1 ORDER BY id LIMIT $2`, v.Last(), verifyPage)
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var ce security.ChainedEvent
		var prev, hash []byte
		var scanned bool
		var id int64
		e, err := scanEvent(scanFunc(func(dest ...any) error {
			err := rows.Scan(append(dest, &prev, &hash)...)
			scanned, id = err == nil, *dest[0].(*int64)
			return err
		}))
		if err != nil {
			if scanned { // read, but not decoded: tampered with
				v.Unreadable(id, err)
				return n + 1, false, nil
			}
			return n, false, err
		}
		ce.Event = e
		copy(ce.PrevHash[:], prev)
		copy(ce.Hash[:], hash)
		n++
		if !v.Next(ce) {
			return n, false, nil
		}
	}
	return n, true, rows.Err()
}

// scanFunc adapts a function to [scanner].
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

func scanEvent(sc scanner) (security.Event, error) {
	var e security.Event
	var at int64
	var typ string
	var details *string
	if err := sc.Scan(&e.ID, &at, &typ, &e.ActorUserID, &e.ActorSessionID,
		&e.SubjectUserID, &e.Subject, &e.IP, &details); err != nil {
		return security.Event{}, err
	}
	e.Time, e.Type = fromNanos(at), security.EventType(typ)
	if details != nil {
		if err := json.Unmarshal([]byte(*details), &e.Details); err != nil {
			return security.Event{}, fmt.Errorf("event %d details: %w", e.ID, err)
		}
	}
	return e, nil
}
