package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
)

// The events table is a hash chain ([security.AuditLog]): each row stores
// prev_hash, the hash of the row before it, and hash =
// BLAKE3(prev_hash || canonical encoding of the event, ID included).
// Appends run on the single writer inside the caller's BEGIN IMMEDIATE
// transaction, which reads the chain's head first, so they are serialized.
// IDs come from AUTOINCREMENT, which never reuses one (sqlite_sequence
// remembers the highest): an event appended after the tail was deleted
// leaves a gap that VerifyEvents reports.

// insertEventSQL lets SQLite assign the ID, which is cheaper than giving it
// (the row goes at the end of the table without a search).
const insertEventSQL = `INSERT INTO events (time, type, actor_user_id, actor_session_id,
	subject_user_id, subject, ip, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// lastEventSQL reads the chain's head.
const lastEventSQL = `SELECT id, hash FROM events ORDER BY id DESC LIMIT 1`

// assignedSQL reads, in one statement (one snapshot), the highest ID ever
// assigned and the highest ID present.
const assignedSQL = `SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
	IFNULL((SELECT max(id) FROM events), 0)`

// unsealedSQL is true when there are events and none of them is hashed:
// they were recorded before migration 0003.
const unsealedSQL = `SELECT EXISTS (SELECT 1 FROM events) AND NOT EXISTS (SELECT 1 FROM events WHERE hash IS NOT NULL)`

// verifyPage is how many events VerifyEvents reads per query.
const verifyPage = 1000

// chainHead returns the ID the next event should get and the hash it links
// to, inside tx. It seals events recorded before the chain existed first.
// The ID is a prediction (the newest event's plus one) that insertEvents
// checks against the one SQLite assigns.
func (s *Store) chainHead(ctx context.Context, tx *sql.Tx) (next int64, prev [32]byte, err error) {
	// A read by the primary key's end, over in microseconds: a context that
	// can be cancelled would cost more than the query (see hotReader.row).
	point := context.WithoutCancel(ctx)
	// Prepared once on the writer's only connection, which tx holds.
	head := tx.StmtContext(point, s.lastEvent)
	defer head.Close()
	for sealed := false; ; sealed = true {
		var last int64
		var hash []byte
		err := head.QueryRowContext(point).Scan(&last, &hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, prev, fmt.Errorf("audit chain head: %w", err)
		}
		if last > 0 && hash == nil && !sealed {
			var unsealed bool
			if err := tx.QueryRowContext(ctx, unsealedSQL).Scan(&unsealed); err != nil {
				return 0, prev, fmt.Errorf("audit chain head: %w", err)
			}
			if unsealed {
				if err := sealEvents(ctx, tx); err != nil {
					return 0, prev, err
				}
				continue
			}
		}
		// A NULL hash on a sealed chain is tampering, which VerifyEvents
		// reports; the chain goes on from 32 zero bytes.
		copy(prev[:], hash)
		return last + 1, prev, nil
	}
}

// sealEvents chains every event recorded before migration 0003, in ID
// order, a page at a time, inside tx.
func sealEvents(ctx context.Context, tx *sql.Tx) error {
	prev, after := security.GenesisHash, int64(0)
	for {
		page, err := collect(sqlrow.ScanEvent)(tx.QueryContext(ctx,
			`SELECT `+sqlrow.EventCols+` FROM events WHERE id > ? ORDER BY id LIMIT ?`, after, verifyPage))
		if err != nil {
			return fmt.Errorf("seal events: %w", err)
		}
		for _, e := range page {
			h := security.EventHash(prev, e)
			if _, err := tx.ExecContext(ctx, `UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?`,
				prev[:], h[:], e.ID); err != nil {
				return fmt.Errorf("seal events: %w", err)
			}
			prev, after = h, e.ID
		}
		if len(page) < verifyPage {
			return nil
		}
	}
}

// sealIfNeeded seals events recorded before migration 0003 when there are
// some; check is a cheap query that is true when there may be.
func (s *Store) sealIfNeeded(ctx context.Context, check string, args ...any) error {
	var maybe sql.NullBool
	err := s.r.QueryRowContext(ctx, check, args...).Scan(&maybe)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !maybe.Bool) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.write(ctx, "seal events", func(tx *sql.Tx) error {
		var unsealed bool
		if err := tx.QueryRowContext(ctx, unsealedSQL).Scan(&unsealed); err != nil || !unsealed {
			return err
		}
		return sealEvents(ctx, tx)
	})
}

// unchainedForBench, when set, makes insertEvents write events as it did
// before the chain, with this statement (unchainedInsertSQL, prepared on the
// writer): no head read, no hash, no cleaning. It lets benchmarks measure
// what the chain costs; only they set it, and it makes VerifyEvents fail.
var unchainedForBench *sql.Stmt

const unchainedInsertSQL = `INSERT INTO events (time, type, actor_user_id, actor_session_id,
	subject_user_id, subject, ip, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// insertEvents cleans ([security.CleanEvent]), numbers, chains and writes
// events inside tx.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []security.Event) error {
	if len(events) == 0 {
		return nil
	}
	if unchainedForBench != nil {
		return insertUnchained(ctx, tx.StmtContext(ctx, unchainedForBench), events)
	}
	next, prev, err := s.chainHead(ctx, tx)
	if err != nil {
		return err
	}
	st := tx.StmtContext(ctx, s.insertEvent)
	defer st.Close()
	for _, e := range events {
		e = security.CleanEvent(e)
		e.ID = next
		details, err := sqlrow.EventDetails(e)
		if err != nil {
			return err
		}
		h := security.EventHash(prev, e)
		res, err := st.ExecContext(ctx, security.EventNanos(e.Time), string(e.Type), e.ActorUserID,
			e.ActorSessionID, e.SubjectUserID, e.Subject, e.IP, details, prev[:], h[:])
		if err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if id != e.ID {
			// Events after the newest were deleted and sqlite_sequence
			// remembers their IDs: hash with the ID the event got.
			// VerifyEvents reports the gap.
			e.ID = id
			h = security.EventHash(prev, e)
			if _, err := tx.ExecContext(ctx, `UPDATE events SET hash = ? WHERE id = ?`, h[:], id); err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
		}
		prev, next = h, e.ID+1
	}
	return nil
}

// insertUnchained is insertEvents without the chain: see unchainedForBench.
func insertUnchained(ctx context.Context, st *sql.Stmt, events []security.Event) error {
	defer st.Close()
	for _, e := range events {
		details, err := sqlrow.EventDetails(e)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, nanos(e.Time), string(e.Type), e.ActorUserID, e.ActorSessionID,
			e.SubjectUserID, e.Subject, e.IP, details); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
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
	return s.write(ctx, "record events", func(tx *sql.Tx) error {
		return s.insertEvents(ctx, tx, events)
	})
}

// Events returns every recorded event, oldest first.
func (s *Store) Events(ctx context.Context) ([]security.Event, error) {
	evs, err := collect(sqlrow.ScanEvent)(s.r.QueryContext(ctx, `SELECT `+sqlrow.EventCols+` FROM events ORDER BY id`))
	if err != nil {
		return nil, wrap("events", err)
	}
	return evs, nil
}

// EventsHead implements [security.AuditLog]: the newest event's ID and
// hash, or the zero head when there are no events.
func (s *Store) EventsHead(ctx context.Context) (security.AuditHead, error) {
	const newest = `SELECT id, hash FROM events ORDER BY id DESC LIMIT 1`
	if err := s.sealIfNeeded(ctx, `SELECT hash IS NULL FROM events ORDER BY id DESC LIMIT 1`); err != nil {
		return security.AuditHead{}, wrap("events head", err)
	}
	h, err := sqlrow.ScanAuditHead(s.r.QueryRowContext(ctx, newest))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return security.AuditHead{}, nil
	case err != nil:
		return security.AuditHead{}, wrap("events head", err)
	}
	return h, nil
}

// VerifyEvents implements [security.AuditLog] with
// [security.VerifyAuditLog]. It reads the events in ID order, [verifyPage]
// at a time (keyset pagination, one short read transaction per page), so
// memory stays constant and appends go on meanwhile; events appended
// during the walk are checked too. A tail deleted without resetting
// sqlite_sequence is reported as truncated even without an anchor.
func (s *Store) VerifyEvents(ctx context.Context, anchors ...security.AuditHead) (security.AuditResult, error) {
	if err := s.sealIfNeeded(ctx, `SELECT hash IS NULL FROM events ORDER BY id LIMIT 1`); err != nil {
		return security.AuditResult{}, wrap("verify events", err)
	}
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
		return a.s.r.QueryContext(ctx, `SELECT `+sqlrow.EventCols+`, prev_hash, hash FROM events
			WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	})
}

// Neighbours implements [security.AuditSource].
func (a auditSource) Neighbours(ctx context.Context, prev, hash [32]byte) (before, after int64, err error) {
	err = a.s.r.QueryRowContext(ctx, `SELECT
		IFNULL((SELECT id FROM events WHERE hash = ? ORDER BY id LIMIT 1), 0),
		IFNULL((SELECT id FROM events WHERE prev_hash = ? ORDER BY id LIMIT 1), 0)`,
		prev[:], hash[:]).Scan(&before, &after)
	return before, after, err
}

// Assigned implements [security.AuditSource]: sqlite_sequence remembers
// the highest ID AUTOINCREMENT ever assigned.
func (a auditSource) Assigned(ctx context.Context) (assigned, last int64, err error) {
	err = a.s.r.QueryRowContext(ctx, assignedSQL).Scan(&assigned, &last)
	return assigned, last, err
}

var _ security.AuditLog = (*Store)(nil)
