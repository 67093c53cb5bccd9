package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/propops/propsec/internal/sqlrow"
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
		details, err := sqlrow.EventDetails(e)
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
	evs, err := query(ctx, s, sqlrow.ScanEvent, `SELECT `+eventCols+` FROM events ORDER BY id`)
	if err != nil {
		return nil, wrap("events", err)
	}
	return evs, nil
}

// EventsHead implements [security.AuditLog]: the newest event's ID and
// hash, or the zero head when there are no events.
func (s *Store) EventsHead(ctx context.Context) (security.AuditHead, error) {
	h, err := sqlrow.ScanAuditHead(s.row(ctx, `SELECT id, hash FROM events ORDER BY id DESC LIMIT 1`))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return security.AuditHead{}, nil
	case err != nil:
		return security.AuditHead{}, wrap("events head", err)
	}
	return h, nil
}

// VerifyEvents implements [security.AuditLog] with
// [security.VerifyAuditLog]. It reads the events in ID order,
// [verifyPage] at a time (keyset pagination), so memory stays constant and
// appends go on meanwhile; events appended during the walk are checked
// too. A deleted tail is reported as truncated even without an anchor,
// since events_head remembers the highest ID assigned.
func (s *Store) VerifyEvents(ctx context.Context, anchors ...security.AuditHead) (security.AuditResult, error) {
	res, err := security.VerifyAuditLog(ctx, auditSource{s}, anchors...)
	if err != nil {
		return security.AuditResult{}, wrap("verify events", err)
	}
	return res, nil
}

// ChainedEvents yields the audit events with IDs above after, in ID
// order, with their chain hashes, a page at a time (keyset pagination):
// memory stays constant however long the log, and appends go on meanwhile.
// It is how an operator exports the log (cmd/propsec audit export).
func (s *Store) ChainedEvents(ctx context.Context, after int64) iter.Seq2[security.ChainedEvent, error] {
	return auditSource{s}.ChainedEvents(ctx, after)
}

// auditSource is the events table as [security.VerifyAuditLog] reads it.
type auditSource struct{ s *Store }

// ChainedEvents implements [security.AuditSource].
func (a auditSource) ChainedEvents(ctx context.Context, after int64) iter.Seq2[security.ChainedEvent, error] {
	return sqlrow.ChainedEvents(after, verifyPage, func(after int64, limit int) (sqlrow.Rows, error) {
		return a.s.pool.Query(ctx, `SELECT `+eventCols+`, prev_hash, hash FROM events
			WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	})
}

// Neighbours implements [security.AuditSource].
func (a auditSource) Neighbours(ctx context.Context, prev, hash [32]byte) (before, after int64, err error) {
	err = a.s.row(ctx, `SELECT
		COALESCE((SELECT id FROM events WHERE hash = $1 ORDER BY id LIMIT 1), 0),
		COALESCE((SELECT id FROM events WHERE prev_hash = $2 ORDER BY id LIMIT 1), 0)`,
		prev[:], hash[:]).Scan(&before, &after)
	return before, after, err
}

// Assigned implements [security.AuditSource]: events_head remembers the
// highest ID ever assigned.
func (a auditSource) Assigned(ctx context.Context) (assigned, last int64, err error) {
	err = a.s.row(ctx, `SELECT
		COALESCE((SELECT last_id FROM events_head WHERE one = 1), 0),
		COALESCE((SELECT max(id) FROM events), 0)`).Scan(&assigned, &last)
	return assigned, last, err
}
