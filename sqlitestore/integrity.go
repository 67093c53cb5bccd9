package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/integritysql"
	"github.com/propops/propsec/security"
)

// integrityPage is how many rows one query of [Store.Entries] or
// [Store.Observations] reads, each page a query of its own on the reader
// pool: no connection and no read transaction stays open while the caller
// consumes the rows, so the writer and WAL checkpoints never wait for a
// slow scan.
const integrityPage = integritysql.PageSize

// blob is s as a BLOB parameter: never nil, since a nil []byte is NULL.
func blob(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

// nonNil is b as a BLOB parameter: never nil.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// scanBaselineEntry returns a function that reads the path and record
// columns of an entry of root.
func scanBaselineEntry(root string) func(scanner) (integrity.Entry, error) {
	return func(sc scanner) (integrity.Entry, error) {
		e := integrity.Entry{Key: integrity.Key{Root: root}}
		if err := sc.Scan(&e.Path, recordCol{&e}); err != nil {
			return integrity.Entry{}, err
		}
		return e, nil
	}
}

const observationCols = `root, path, state, mac`

func scanObservation(sc scanner) (integrity.Observation, error) {
	var o integrity.Observation
	if err := sc.Scan(&o.Root, &o.Path, hashCol{&o.State}, hashCol{&o.MAC}); err != nil {
		return integrity.Observation{}, err
	}
	return o, nil
}

const alertCols = `id, host, root, path, file_path, type, change, severity, status, details, state, check_id,
	created_at, updated_at`

func scanAlert(sc scanner) (integrity.Alert, error) {
	var a integrity.Alert
	var typ, change, sev string
	if err := sc.Scan(&a.ID, &a.Host, &a.Root, &a.Path, &a.FilePath, &typ, &change, &sev, &a.Status, &a.Details,
		hashCol{&a.State}, &a.CheckID, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}); err != nil {
		return integrity.Alert{}, err
	}
	a.Type, a.Change, a.Severity = integrity.AlertType(typ), integrity.Change(change), integrity.Severity(sev)
	return a, nil
}

// recordCol scans a record column (see [integritysql]) into an entry.
type recordCol struct{ e *integrity.Entry }

func (c recordCol) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("%w: got %T", integritysql.ErrMalformed, src)
	}
	return integritysql.Parse(b, c.e)
}

// hashCol scans a 32-byte BLOB into a Hash.
type hashCol struct{ h *integrity.Hash }

func (c hashCol) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok || len(b) != len(c.h) {
		return fmt.Errorf("hash column: got %T of %d bytes", src, len(b))
	}
	copy(c.h[:], b)
	return nil
}

// timeCol scans unix nanoseconds (see nanos).
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("time column: got %T", src)
	}
	*c.t = fromNanos(n)
	return nil
}

// keyset yields the rows of one root in path order, pageSize rows per
// query ([integritysql.Keyset]): first selects the first page (parameters:
// root, limit), next the page after a path (root, path, limit).
func keyset[T any](ctx context.Context, db *sql.DB, op, first, next, root string, pageSize int,
	scan func(scanner) (T, error), path func(*T) string) iter.Seq2[T, error] {
	return integritysql.Keyset(pageSize, func(dst []T, after []byte) ([]T, error) {
		var rows *sql.Rows
		var err error
		if after == nil {
			rows, err = db.QueryContext(ctx, first, blob(root), pageSize)
		} else {
			rows, err = db.QueryContext(ctx, next, blob(root), after, pageSize)
		}
		if err != nil {
			return dst, err
		}
		return readRows(rows, dst, scan)
	}, path, func(err error) error { return wrap(op, err) })
}

// Seals implements [integrity.Store], in root order.
func (s *Store) Seals(ctx context.Context) ([]integrity.Seal, error) {
	seals, err := collect(func(sc scanner) (integrity.Seal, error) {
		var seal integrity.Seal
		err := sc.Scan(&seal.Root, hashCol{&seal.Sum}, &seal.Entries, timeCol{&seal.UpdatedAt})
		return seal, err
	})(s.r.QueryContext(ctx, `SELECT root, sum, entries, updated_at FROM integrity_seals ORDER BY root`))
	if err != nil {
		return nil, wrap("integrity seals", err)
	}
	return seals, nil
}

// Entries implements [integrity.Store]. It reads integrityPage entries at a
// time, each page in a query of its own: it never yields an entry twice or
// out of order, and an iteration that runs across a [Store.Commit] may see
// some pages from before it and the rest from after it.
func (s *Store) Entries(ctx context.Context, root string) iter.Seq2[integrity.Entry, error] {
	return s.entries(ctx, root, integrityPage)
}

func (s *Store) entries(ctx context.Context, root string, pageSize int) iter.Seq2[integrity.Entry, error] {
	const q = `SELECT path, record FROM integrity_entries WHERE root = ?1 `
	return keyset(ctx, s.r, "integrity entries", q+`ORDER BY path LIMIT ?2`, q+`AND path > ?2 ORDER BY path LIMIT ?3`,
		root, pageSize, scanBaselineEntry(root), func(e *integrity.Entry) string { return e.Path })
}

// Entry implements [integrity.Store].
func (s *Store) Entry(ctx context.Context, k integrity.Key) (integrity.Entry, error) {
	e := integrity.Entry{Key: k}
	err := s.r.QueryRowContext(ctx, `SELECT record FROM integrity_entries WHERE root = ? AND path = ?`,
		blob(k.Root), blob(k.Path)).Scan(recordCol{&e})
	if err != nil {
		return integrity.Entry{}, rowErr("integrity entry", "baseline entry", err)
	}
	return e, nil
}

// Content implements [integrity.Store].
func (s *Store) Content(ctx context.Context, h integrity.Hash) ([]byte, error) {
	var data []byte
	err := s.r.QueryRowContext(ctx, `SELECT d.data FROM integrity_content c
		JOIN integrity_content_data d ON d.id = c.data_id WHERE c.hash = ?`, h[:]).Scan(&data)
	if err != nil {
		return nil, rowErr("integrity content", "content", err)
	}
	return nonNil(data), nil
}

// Stage implements [integrity.Store], in one transaction that only
// appends to the staging tables and the content data (see
// migrations/0002_integrity.sql).
func (s *Store) Stage(ctx context.Context, set string, b integrity.Batch) error {
	return s.write(ctx, "stage integrity changes", func(tx *sql.Tx) error {
		if err := insertRows(ctx, tx, `INSERT OR REPLACE INTO integrity_staged (set_id, root, path, put, record, content)
			VALUES`, 6, b.Put, func(dst []any, e *integrity.Entry) []any {
			return append(dst, set, blob(e.Root), blob(e.Path), 1, integritysql.Append(nil, e), integritysql.Content(e))
		}); err != nil {
			return fmt.Errorf("stage put: %w", err)
		}
		if err := insertRows(ctx, tx, `INSERT OR REPLACE INTO integrity_staged (set_id, root, path, put) VALUES`, 4,
			b.Delete, func(dst []any, k *integrity.Key) []any {
				return append(dst, set, blob(k.Root), blob(k.Path), 0)
			}); err != nil {
			return fmt.Errorf("stage delete: %w", err)
		}
		if len(b.Blobs) == 0 {
			return nil
		}
		// The data gets ids from here on (this transaction is the only
		// writer), so that both inserts can write many rows a statement.
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM integrity_content_data`).Scan(&next); err != nil {
			return err
		}
		id := next
		if err := insertRows(ctx, tx, `INSERT INTO integrity_content_data (id, data) VALUES`, 2, b.Blobs,
			func(dst []any, bl *integrity.Blob) []any {
				id++
				return append(dst, id-1, nonNil(bl.Data))
			}); err != nil {
			return fmt.Errorf("stage content: %w", err)
		}
		id = next
		if err := insertRows(ctx, tx, `INSERT INTO integrity_staged_blobs (set_id, hash, data_id) VALUES`, 3, b.Blobs,
			func(dst []any, bl *integrity.Blob) []any {
				id++
				return append(dst, set, bl.Hash[:], id-1)
			}); err != nil {
			return fmt.Errorf("stage content: %w", err)
		}
		return nil
	})
}

// rowsPerInsert is how many rows one statement of insertRows writes: a
// statement per row costs database/sql and the driver several µs of their
// own, more than SQLite takes to insert a small row.
const rowsPerInsert = 64

// insertRows runs head, an INSERT up to VALUES, for all of vs inside tx,
// up to rowsPerInsert rows a statement; args appends the cols parameters of
// one row to dst. The rows are inserted in order.
func insertRows[T any](ctx context.Context, tx *sql.Tx, head string, cols int, vs []T,
	args func(dst []any, v *T) []any) error {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	var st *sql.Stmt
	prepared := 0 // rows of st
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	params := make([]any, 0, min(len(vs), rowsPerInsert)*cols)
	for len(vs) > 0 {
		n := min(len(vs), rowsPerInsert)
		if n != prepared {
			if st != nil {
				st.Close()
			}
			var err error
			if st, err = tx.PrepareContext(ctx, head+" "+row+strings.Repeat(", "+row, n-1)); err != nil {
				st = nil
				return err
			}
			prepared = n
		}
		params = params[:0]
		for i := range n {
			params = args(params, &vs[i])
		}
		if _, err := st.ExecContext(ctx, params...); err != nil {
			return err
		}
		vs = vs[n:]
	}
	return nil
}

// execEach runs query inside tx once for each of vs, with args(v) as
// parameters, through one prepared statement, and passes each result to
// done (if not nil).
func execEach[T any](ctx context.Context, tx *sql.Tx, query string, vs []T, args func(*T) []any,
	done func(*T, sql.Result) error) error {
	if len(vs) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range vs {
		res, err := st.ExecContext(ctx, args(&vs[i])...)
		if err == nil && done != nil {
			err = done(&vs[i], res)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DiscardStaged implements [integrity.Store].
func (s *Store) DiscardStaged(ctx context.Context, set string) error {
	return s.write(ctx, "discard staged integrity changes", func(tx *sql.Tx) error {
		// Staged data belongs to its set alone until a commit takes it.
		if set == "" {
			return execAll(ctx, tx, step{`DELETE FROM integrity_staged`, nil},
				step{`DELETE FROM integrity_content_data WHERE id IN (SELECT data_id FROM integrity_staged_blobs)`, nil},
				step{`DELETE FROM integrity_staged_blobs`, nil})
		}
		arg := []any{set}
		return execAll(ctx, tx, step{`DELETE FROM integrity_staged WHERE set_id = ?`, arg},
			step{`DELETE FROM integrity_content_data
				WHERE id IN (SELECT data_id FROM integrity_staged_blobs WHERE set_id = ?)`, arg},
			step{`DELETE FROM integrity_staged_blobs WHERE set_id = ?`, arg})
	})
}

// step is one statement of a transaction.
type step struct {
	query string
	args  []any
}

// execAll runs steps in order inside tx.
func execAll(ctx context.Context, tx *sql.Tx, steps ...step) error {
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// Commit implements [integrity.Store]: one BEGIN IMMEDIATE transaction
// checks the seals and the deployment, applies the staged set with
// INSERT … SELECT from the staging tables, and writes the seals and the
// events. When it removes or replaces entries that had kept content, it
// then drops the content no entry refers to any more, in one sweep of the
// baseline.
func (s *Store) Commit(ctx context.Context, c integrity.Commit) error {
	return s.write(ctx, "commit integrity changes", func(tx *sql.Tx) error {
		if err := checkCommit(ctx, tx, c); err != nil {
			return err
		}
		set := []any{c.Set}
		// Does the commit drop a reference to content?
		var orphans bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM integrity_staged s
			JOIN integrity_entries e ON e.root = s.root AND e.path = s.path
			WHERE s.set_id = ? AND e.content IS NOT NULL)`, c.Set).Scan(&orphans); err != nil {
			return err
		}
		var steps []step
		for _, rc := range c.Roots {
			if !rc.Replace {
				continue
			}
			root := []any{blob(rc.Seal.Root)}
			if !orphans {
				if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM integrity_entries
					WHERE root = ? AND content IS NOT NULL)`, root...).Scan(&orphans); err != nil {
					return err
				}
			}
			steps = append(steps, step{`DELETE FROM integrity_entries WHERE root = ?`, root},
				step{`DELETE FROM integrity_observations WHERE root = ?`, root})
		}
		steps = append(steps,
			step{`DELETE FROM integrity_entries WHERE (root, path) IN
				(SELECT root, path FROM integrity_staged WHERE set_id = ? AND put = 0)`, set},
			step{`INSERT OR REPLACE INTO integrity_entries (root, path, record, content)
				SELECT root, path, record, content FROM integrity_staged WHERE set_id = ? AND put = 1`, set},
			step{`DELETE FROM integrity_observations WHERE (root, path) IN
				(SELECT root, path FROM integrity_staged WHERE set_id = ?)`, set},
			// The set's content, sorted by hash so that it fills the index
			// in order (3 times faster than in staging order for 200,000
			// hashes); then the staged data whose hash was known. Content
			// that no entry of the set refers to, against the contract of
			// Batch.Blobs, is stored too (checking costs as much as the
			// insert), and dropped by the next sweep.
			step{`INSERT OR IGNORE INTO integrity_content (hash, data_id)
				SELECT hash, data_id FROM integrity_staged_blobs WHERE set_id = ? ORDER BY hash`, set},
			step{`DELETE FROM integrity_content_data WHERE id IN (SELECT b.data_id FROM integrity_staged_blobs b
				WHERE b.set_id = ? AND NOT EXISTS (SELECT 1 FROM integrity_content c
					WHERE c.hash = b.hash AND c.data_id = b.data_id))`, set},
			step{`DELETE FROM integrity_staged WHERE set_id = ?`, set},
			step{`DELETE FROM integrity_staged_blobs WHERE set_id = ?`, set})
		if orphans {
			const used = `(SELECT content FROM integrity_entries WHERE content IS NOT NULL)`
			steps = append(steps,
				step{`DELETE FROM integrity_content_data WHERE id IN
					(SELECT data_id FROM integrity_content WHERE hash NOT IN ` + used + `)`, nil},
				step{`DELETE FROM integrity_content WHERE hash NOT IN ` + used, nil})
		}
		for _, rc := range c.Roots {
			steps = append(steps, step{`INSERT OR REPLACE INTO integrity_seals (root, sum, entries, updated_at)
				VALUES (?, ?, ?, ?)`, []any{blob(rc.Seal.Root), rc.Seal.Sum[:], rc.Seal.Entries, nanos(rc.Seal.UpdatedAt)}})
		}
		if c.EndDeployment != "" {
			steps = append(steps, step{`INSERT INTO integrity_deployments_ended (id, description, started_at,
				actor_user_id, mac, ended_at, ended_by, accepted)
				SELECT id, description, started_at, actor_user_id, mac, ?, ?, ? FROM integrity_deployment`,
				[]any{nanos(c.Ended.EndedAt), c.Ended.EndedByUserID, c.Ended.Accepted}},
				step{`DELETE FROM integrity_deployment`, nil})
		}
		if err := execAll(ctx, tx, steps...); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, c.Events)
	})
}

// checkCommit fails with [security.ErrConflict] if a root's seal is not the
// one c was computed against, or c ends a deployment that is not open.
func checkCommit(ctx context.Context, tx *sql.Tx, c integrity.Commit) error {
	for _, rc := range c.Roots {
		var have integrity.Hash
		err := tx.QueryRowContext(ctx, `SELECT sum FROM integrity_seals WHERE root = ?`, blob(rc.Seal.Root)).
			Scan(hashCol{&have})
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if have != rc.Previous {
			return fmt.Errorf("baseline of %s changed meanwhile: %w", rc.Seal.Root, security.ErrConflict)
		}
	}
	if c.EndDeployment != "" {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM integrity_deployment`).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if id != c.EndDeployment {
			return fmt.Errorf("deployment %s is not open: %w", c.EndDeployment, security.ErrConflict)
		}
	}
	return nil
}

// Observations implements [integrity.Store], a page at a time like
// [Store.Entries].
func (s *Store) Observations(ctx context.Context, root string) iter.Seq2[integrity.Observation, error] {
	const q = `SELECT ` + observationCols + ` FROM integrity_observations WHERE root = ?1 `
	return keyset(ctx, s.r, "integrity observations", q+`ORDER BY path LIMIT ?2`,
		q+`AND path > ?2 ORDER BY path LIMIT ?3`, root, integrityPage, scanObservation,
		func(o *integrity.Observation) string { return o.Path })
}

// SaveFindings implements [integrity.Store], in one transaction.
func (s *Store) SaveFindings(ctx context.Context, f integrity.Findings) ([]int64, error) {
	var ids []int64
	err := s.write(ctx, "save integrity findings", func(tx *sql.Tx) error {
		ids = make([]int64, 0, len(f.Alerts))
		added := slices.Clone(f.Alerts)
		if err := execEach(ctx, tx, `INSERT INTO integrity_alerts (host, root, path, file_path, type, change, severity,
			status, details, state, check_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			added, func(a *integrity.Alert) []any {
				return []any{a.Host, blob(a.Root), blob(a.Path), blob(a.FilePath), string(a.Type), string(a.Change),
					string(a.Severity), int64(a.Status), a.Details, a.State[:], a.CheckID, nanos(a.CreatedAt),
					nanos(a.UpdatedAt)}
			}, func(a *integrity.Alert, res sql.Result) error {
				id, err := res.LastInsertId()
				a.ID = id
				ids = append(ids, id)
				return err
			}); err != nil {
			return fmt.Errorf("insert alert: %w", err)
		}
		var set, forget []integrity.Observation
		for _, o := range f.Observations {
			if o.State.IsZero() {
				forget = append(forget, o)
			} else {
				set = append(set, o)
			}
		}
		if err := errors.Join(
			insertRows(ctx, tx, `INSERT OR REPLACE INTO integrity_observations (`+observationCols+`) VALUES`, 4,
				set, func(dst []any, o *integrity.Observation) []any {
					return append(dst, blob(o.Root), blob(o.Path), o.State[:], o.MAC[:])
				}),
			execEach(ctx, tx, `DELETE FROM integrity_observations WHERE root = ? AND path = ?`,
				forget, func(o *integrity.Observation) []any { return []any{blob(o.Root), blob(o.Path)} }, nil),
		); err != nil {
			return fmt.Errorf("save observations: %w", err)
		}
		if f.Events == nil {
			return nil
		}
		return s.insertEvents(ctx, tx, f.Events(added))
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// Alert implements [integrity.Store].
func (s *Store) Alert(ctx context.Context, id int64) (integrity.Alert, error) {
	a, err := scanAlert(s.r.QueryRowContext(ctx, `SELECT `+alertCols+` FROM integrity_alerts WHERE id = ?`, id))
	if err != nil {
		return integrity.Alert{}, rowErr("integrity alert", "alert", err)
	}
	return a, nil
}

// ListAlerts implements [integrity.Store]. The count and the page are read
// in one read transaction, so they agree. An unknown order lists newest
// first.
func (s *Store) ListAlerts(ctx context.Context, q integrity.AlertQuery) ([]integrity.Alert, int, error) {
	count, list, args := alertListSQL(q)
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, wrap("list integrity alerts", err)
	}
	defer tx.Rollback() // read only
	var total int
	if err := tx.QueryRowContext(ctx, count, args...).Scan(&total); err != nil {
		return nil, 0, wrap("list integrity alerts", err)
	}
	page, err := collect(scanAlert)(tx.QueryContext(ctx, list, append(args, max(q.Limit, 0), max(q.Offset, 0))...))
	if err != nil {
		return nil, 0, wrap("list integrity alerts", err)
	}
	return page, total, nil
}

// alertListSQL returns the queries that count and list the alerts q
// selects, and their common parameters; list takes two more, LIMIT and
// OFFSET.
func alertListSQL(q integrity.AlertQuery) (count, list string, args []any) {
	where := "1"
	if q.Status != nil {
		where += " AND status = ?"
		args = append(args, int64(*q.Status))
	}
	if q.Severity != "" {
		// The rank lets the indexes on severity_rank serve the filter.
		where += " AND severity_rank = ? AND severity = ?"
		args = append(args, q.Severity.Rank(), string(q.Severity))
	}
	order := integritysql.AlertOrder(q.Sort)
	return `SELECT count(*) FROM integrity_alerts WHERE ` + where,
		`SELECT ` + alertCols + ` FROM integrity_alerts WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ? OFFSET ?`,
		args
}

// changeAlerts runs query, whose last parameter is the JSON array of the
// alerts ids (deduplicated), in one transaction with the events that events
// (if not nil) makes of the alerts as they were, in id order; unless some
// ids are unknown: then it changes nothing and returns them, sorted.
func (s *Store) changeAlerts(ctx context.Context, op string, ids []int64, events func([]integrity.Alert) []security.Event,
	query string, args ...any) (int, []int64, error) {
	ids = integritysql.BulkIDs(ids)
	b, err := json.Marshal(ids)
	if err != nil {
		return 0, nil, wrap(op, err)
	}
	list := string(b)
	const selected = ` FROM integrity_alerts WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`
	var unknown []int64
	err = s.write(ctx, op, func(tx *sql.Tx) error {
		var found []integrity.Alert
		var foundIDs []int64
		var err error
		if events != nil {
			found, err = collect(scanAlert)(tx.QueryContext(ctx, `SELECT `+alertCols+selected, list))
			for _, a := range found {
				foundIDs = append(foundIDs, a.ID)
			}
		} else {
			foundIDs, err = collect(func(sc scanner) (id int64, err error) {
				return id, sc.Scan(&id)
			})(tx.QueryContext(ctx, `SELECT id`+selected, list))
		}
		if err != nil {
			return err
		}
		if unknown = integritysql.Unknown(ids, foundIDs); len(unknown) > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, query, append(args, list)...); err != nil {
			return err
		}
		if events == nil {
			return nil
		}
		return s.insertEvents(ctx, tx, events(found))
	})
	return integritysql.BulkResult(ids, unknown, err)
}

// SetAlertStatus implements [integrity.Store].
func (s *Store) SetAlertStatus(ctx context.Context, ids []int64, status integrity.Status, at time.Time,
	events func(before []integrity.Alert) []security.Event) (int, []int64, error) {
	return s.changeAlerts(ctx, "set integrity alert status", ids, events, `UPDATE integrity_alerts
		SET status = ?, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))`, int64(status), nanos(at))
}

// DeleteAlerts implements [integrity.Store].
func (s *Store) DeleteAlerts(ctx context.Context, ids []int64, events func(deleted []integrity.Alert) []security.Event) (int, []int64, error) {
	return s.changeAlerts(ctx, "delete integrity alerts", ids, events,
		`DELETE FROM integrity_alerts WHERE id IN (SELECT value FROM json_each(?))`)
}

// Deployment implements [integrity.Store].
func (s *Store) Deployment(ctx context.Context) (integrity.Deployment, error) {
	var d integrity.Deployment
	err := s.r.QueryRowContext(ctx, `SELECT id, description, started_at, actor_user_id, mac FROM integrity_deployment`).
		Scan(&d.ID, &d.Description, timeCol{&d.StartedAt}, &d.ActorUserID, hashCol{&d.MAC})
	if err != nil {
		return integrity.Deployment{}, rowErr("integrity deployment", "deployment", err)
	}
	return d, nil
}

// EndedDeployments implements [integrity.Store].
func (s *Store) EndedDeployments(ctx context.Context, limit int) ([]integrity.EndedDeployment, error) {
	list, err := collect(scanEndedDeployment)(s.r.QueryContext(ctx, `SELECT id, description, started_at,
		actor_user_id, mac, ended_at, ended_by, accepted FROM integrity_deployments_ended
		ORDER BY ended_at DESC, seq DESC LIMIT ?`, max(limit, 0)))
	if err != nil {
		return nil, wrap("ended integrity deployments", err)
	}
	return list, nil
}

func scanEndedDeployment(sc scanner) (integrity.EndedDeployment, error) {
	var d integrity.EndedDeployment
	err := sc.Scan(&d.ID, &d.Description, timeCol{&d.StartedAt}, &d.ActorUserID, hashCol{&d.MAC},
		timeCol{&d.EndedAt}, &d.EndedByUserID, &d.Accepted)
	return d, err
}

// BeginDeployment implements [integrity.Store].
func (s *Store) BeginDeployment(ctx context.Context, d integrity.Deployment, events []security.Event) error {
	return s.write(ctx, "begin integrity deployment", func(tx *sql.Tx) error {
		n, err := execN(ctx, tx, `INSERT INTO integrity_deployment (one, id, description, started_at, actor_user_id, mac)
			VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, d.ID, d.Description, nanos(d.StartedAt), d.ActorUserID, d.MAC[:])
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("a deployment is open: %w", security.ErrConflict)
		}
		return s.insertEvents(ctx, tx, events)
	})
}
