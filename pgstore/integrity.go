package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/integritysql"
	"github.com/propops/propsec/security"
)

// hostStore is the [integrity.Store] of one host: see
// [Store.IntegrityStore].
type hostStore struct {
	s    *Store
	host string
}

var (
	_ integrity.HostStores   = (*Store)(nil)
	_ integrity.Store        = (*Store)(nil)
	_ integrity.ScanLocker   = (*Store)(nil)
	_ integrity.ScanLocker   = (*hostStore)(nil)
	_ integrity.ScanLease    = (*scanLease)(nil)
	_ security.EventRecorder = (*hostStore)(nil)
)

// IntegrityStore implements [integrity.HostStores]: it returns the
// [integrity.Store] of the machine host, which also implements
// [integrity.ScanLocker] with a lock of its own. [integrity.New] calls it
// with [integrity.Config.Host]. See the package documentation.
func (s *Store) IntegrityStore(host string) integrity.Store { return &hostStore{s: s, host: host} }

// thisHost is the host name a Store acts for when it is used directly as
// an [integrity.Store]: os.Hostname, or "localhost" if it fails.
var thisHost = sync.OnceValue(func() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
})

// own is the Store of this machine.
func (s *Store) own() *hostStore { return &hostStore{s: s, host: thisHost()} }

// A Store used directly as an [integrity.Store] or [integrity.ScanLocker]
// is the Store of this machine, IntegrityStore(os.Hostname()).

// Seals implements [integrity.Store] for this machine.
func (s *Store) Seals(ctx context.Context) ([]integrity.Seal, error) { return s.own().Seals(ctx) }

// Entries implements [integrity.Store] for this machine.
func (s *Store) Entries(ctx context.Context, root string) iter.Seq2[integrity.Entry, error] {
	return s.own().Entries(ctx, root)
}

// Entry implements [integrity.Store] for this machine.
func (s *Store) Entry(ctx context.Context, k integrity.Key) (integrity.Entry, error) {
	return s.own().Entry(ctx, k)
}

// Content implements [integrity.Store]: content is shared by every host.
func (s *Store) Content(ctx context.Context, h integrity.Hash) ([]byte, error) {
	return s.own().Content(ctx, h)
}

// Stage implements [integrity.Store] for this machine.
func (s *Store) Stage(ctx context.Context, set string, b integrity.Batch) error {
	return s.own().Stage(ctx, set, b)
}

// DiscardStaged implements [integrity.Store] for this machine.
func (s *Store) DiscardStaged(ctx context.Context, set string) error {
	return s.own().DiscardStaged(ctx, set)
}

// Commit implements [integrity.Store] for this machine.
func (s *Store) Commit(ctx context.Context, c integrity.Commit) error { return s.own().Commit(ctx, c) }

// Observations implements [integrity.Store] for this machine.
func (s *Store) Observations(ctx context.Context, root string) iter.Seq2[integrity.Observation, error] {
	return s.own().Observations(ctx, root)
}

// SaveFindings implements [integrity.Store] for this machine.
func (s *Store) SaveFindings(ctx context.Context, f integrity.Findings) ([]int64, error) {
	return s.own().SaveFindings(ctx, f)
}

// Alert implements [integrity.Store]: alerts are shared by every host.
func (s *Store) Alert(ctx context.Context, id int64) (integrity.Alert, error) {
	return s.own().Alert(ctx, id)
}

// ListAlerts implements [integrity.Store]: alerts are shared by every host.
func (s *Store) ListAlerts(ctx context.Context, q integrity.AlertQuery) ([]integrity.Alert, int, error) {
	return s.own().ListAlerts(ctx, q)
}

// SetAlertStatus implements [integrity.Store]: alerts are shared by every
// host.
func (s *Store) SetAlertStatus(ctx context.Context, ids []int64, status integrity.Status, at time.Time,
	events func(before []integrity.Alert) []security.Event) (int, []int64, error) {
	return s.own().SetAlertStatus(ctx, ids, status, at, events)
}

// DeleteAlerts implements [integrity.Store]: alerts are shared by every
// host.
func (s *Store) DeleteAlerts(ctx context.Context, ids []int64, events func(deleted []integrity.Alert) []security.Event) (int, []int64, error) {
	return s.own().DeleteAlerts(ctx, ids, events)
}

// Deployment implements [integrity.Store] for this machine.
func (s *Store) Deployment(ctx context.Context) (integrity.Deployment, error) {
	return s.own().Deployment(ctx)
}

// BeginDeployment implements [integrity.Store] for this machine.
func (s *Store) BeginDeployment(ctx context.Context, d integrity.Deployment, events []security.Event) error {
	return s.own().BeginDeployment(ctx, d, events)
}

// EndedDeployments implements [integrity.Store] for this machine.
func (s *Store) EndedDeployments(ctx context.Context, limit int) ([]integrity.EndedDeployment, error) {
	return s.own().EndedDeployments(ctx, limit)
}

// bytea is s as a bytea parameter: never nil, since a nil []byte is NULL.
func bytea(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

// hash returns b, a 32-byte column, as a Hash.
func hash(b []byte) (integrity.Hash, error) {
	var h integrity.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("hash column of %d bytes", len(b))
	}
	copy(h[:], b)
	return h, nil
}

// RecordEvents implements [security.EventRecorder]: the audit log is
// shared by every host.
func (h *hostStore) RecordEvents(ctx context.Context, events ...security.Event) error {
	return h.s.RecordEvents(ctx, events...)
}

// keyset yields the rows of one root of h's host in path order
// ([integritysql.Keyset]): first selects the first page (parameters: host,
// root, limit), next the page after a path (host, root, path, limit). Each
// page is read again after a transient error or a lost connection.
func keyset[T any](ctx context.Context, h *hostStore, op, first, next, root string,
	scan func(scanner) (T, error), path func(*T) string) iter.Seq2[T, error] {
	return integritysql.Keyset(integritysql.PageSize, func(dst []T, after []byte) ([]T, error) {
		if after == nil {
			return query(ctx, h.s, scan, first, h.host, bytea(root), integritysql.PageSize)
		}
		return query(ctx, h.s, scan, next, h.host, bytea(root), after, integritysql.PageSize)
	}, path, func(err error) error { return wrap(op, err) })
}

// Seals implements [integrity.Store], in root order.
func (h *hostStore) Seals(ctx context.Context) ([]integrity.Seal, error) {
	seals, err := query(ctx, h.s, func(sc scanner) (integrity.Seal, error) {
		var seal integrity.Seal
		var root, sum []byte
		var at int64
		if err := sc.Scan(&root, &sum, &seal.Entries, &at); err != nil {
			return seal, err
		}
		seal.Root, seal.UpdatedAt = string(root), fromNanos(at)
		var err error
		seal.Sum, err = hash(sum)
		return seal, err
	}, `SELECT root, sum, entries, updated_at FROM integrity_seals WHERE host = $1 ORDER BY root`, h.host)
	if err != nil {
		return nil, wrap("integrity seals", err)
	}
	return seals, nil
}

// scanBaselineEntry returns a function that reads the path and record columns of
// an entry of root.
func scanBaselineEntry(root string) func(scanner) (integrity.Entry, error) {
	return func(sc scanner) (integrity.Entry, error) {
		e := integrity.Entry{Key: integrity.Key{Root: root}}
		var path, rec []byte
		if err := sc.Scan(&path, &rec); err != nil {
			return integrity.Entry{}, err
		}
		e.Path = string(path)
		if err := integritysql.Parse(rec, &e); err != nil {
			return integrity.Entry{}, err
		}
		return e, nil
	}
}

// Entries implements [integrity.Store]. It reads integrityPage entries at a
// time, each page in a query of its own: it never yields an entry twice or
// out of order, and an iteration that runs across a Commit may see some
// pages from before it and the rest from after it.
func (h *hostStore) Entries(ctx context.Context, root string) iter.Seq2[integrity.Entry, error] {
	const q = `SELECT path, record FROM integrity_entries WHERE host = $1 AND root = $2 `
	return keyset(ctx, h, "integrity entries", q+`ORDER BY path LIMIT $3`, q+`AND path > $3 ORDER BY path LIMIT $4`,
		root, scanBaselineEntry(root), func(e *integrity.Entry) string { return e.Path })
}

// Entry implements [integrity.Store].
func (h *hostStore) Entry(ctx context.Context, k integrity.Key) (integrity.Entry, error) {
	e, err := scanBaselineEntry(k.Root)(h.s.row(ctx, `SELECT path, record FROM integrity_entries
		WHERE host = $1 AND root = $2 AND path = $3`, h.host, bytea(k.Root), bytea(k.Path)))
	if err != nil {
		return integrity.Entry{}, rowErr("integrity entry", "baseline entry", err)
	}
	return e, nil
}

// Content implements [integrity.Store].
func (h *hostStore) Content(ctx context.Context, sum integrity.Hash) ([]byte, error) {
	var data []byte
	if err := h.s.row(ctx, `SELECT data FROM integrity_content WHERE hash = $1`, sum[:]).Scan(&data); err != nil {
		return nil, rowErr("integrity content", "content", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// stagedRows is a batch of staged changes as the columns of
// integrity_staged, one key once (the last change of a key wins; a batch's
// deletes come after its puts).
type stagedRows struct {
	roots, paths, records, contents [][]byte
	put                             []bool
	at                              map[integrity.Key]int
}

func (r *stagedRows) add(k integrity.Key, put bool, record, content []byte) {
	if i, ok := r.at[k]; ok {
		r.put[i], r.records[i], r.contents[i] = put, record, content
		return
	}
	r.at[k] = len(r.roots)
	r.roots, r.paths = append(r.roots, bytea(k.Root)), append(r.paths, bytea(k.Path))
	r.put, r.records, r.contents = append(r.put, put), append(r.records, record), append(r.contents, content)
}

// Stage implements [integrity.Store], in one transaction of two
// statements, whatever the size of the batch.
func (h *hostStore) Stage(ctx context.Context, set string, b integrity.Batch) error {
	rows := stagedRows{at: make(map[integrity.Key]int, len(b.Put)+len(b.Delete))}
	for i := range b.Put {
		e := &b.Put[i]
		rows.add(e.Key, true, integritysql.Append(nil, e), integritysql.Content(e))
	}
	for _, k := range b.Delete {
		rows.add(k, false, nil, nil)
	}
	var hashes, data [][]byte
	seen := make(map[integrity.Hash]bool, len(b.Blobs))
	for _, bl := range b.Blobs {
		if !seen[bl.Hash] {
			seen[bl.Hash] = true
			d := bl.Data
			if d == nil {
				d = []byte{} // NULL otherwise
			}
			hashes, data = append(hashes, bl.Hash[:]), append(data, d)
		}
	}
	return h.s.write(ctx, "stage integrity changes", func(tx pgx.Tx) error {
		if len(rows.roots) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO integrity_staged (host, set_id, root, path, put, record, content)
				SELECT $1, $2, r, p, u, rec, c
				FROM unnest($3::bytea[], $4::bytea[], $5::boolean[], $6::bytea[], $7::bytea[]) AS x(r, p, u, rec, c)
				ON CONFLICT (host, set_id, root, path)
				DO UPDATE SET put = EXCLUDED.put, record = EXCLUDED.record, content = EXCLUDED.content`,
				h.host, set, rows.roots, rows.paths, rows.put, rows.records, rows.contents); err != nil {
				return fmt.Errorf("stage entries: %w", err)
			}
		}
		if len(hashes) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO integrity_staged_blobs (host, set_id, hash, data)
				SELECT $1, $2, hs, d FROM unnest($3::bytea[], $4::bytea[]) AS x(hs, d)
				ON CONFLICT DO NOTHING`, h.host, set, hashes, data); err != nil {
				return fmt.Errorf("stage content: %w", err)
			}
		}
		return nil
	})
}

// DiscardStaged implements [integrity.Store]: "" drops every set of this
// host, and only of this host.
func (h *hostStore) DiscardStaged(ctx context.Context, set string) error {
	return h.s.write(ctx, "discard staged integrity changes", func(tx pgx.Tx) error {
		for _, table := range []string{"integrity_staged", "integrity_staged_blobs"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE host = $1 AND ($2 = '' OR set_id = $2)`,
				h.host, set); err != nil {
				return err
			}
		}
		return nil
	})
}

// commitLock is the key of the transaction-level advisory lock every
// Commit takes, per schema: commits of every host run one at a time, so a
// commit that drops content no entry refers to any more never races with
// one that refers to it again, and a seal is never checked and then
// overwritten by two commits at once.
const commitLock = `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/integrity-commit', 0))`

// Commit implements [integrity.Store]: one transaction, holding the commit
// lock, checks the seals and the deployment, applies the staged set with
// statements that read the staging tables, and writes the seals and the
// events. When it removes or replaces entries that had kept content, it
// then drops the content no entry of any host refers to any more.
func (h *hostStore) Commit(ctx context.Context, c integrity.Commit) error {
	var replace [][]byte
	for _, rc := range c.Roots {
		if rc.Replace {
			replace = append(replace, bytea(rc.Seal.Root))
		}
	}
	return h.s.write(ctx, "commit integrity changes", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, commitLock); err != nil {
			return err
		}
		for _, rc := range c.Roots {
			var have []byte
			err := tx.QueryRow(ctx, `SELECT sum FROM integrity_seals WHERE host = $1 AND root = $2`,
				h.host, bytea(rc.Seal.Root)).Scan(&have)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				have = make([]byte, len(rc.Previous))
			case err != nil:
				return err
			}
			if string(have) != string(rc.Previous[:]) {
				return fmt.Errorf("baseline of %s changed meanwhile: %w", rc.Seal.Root, security.ErrConflict)
			}
		}
		if c.EndDeployment != "" {
			tag, err := tx.Exec(ctx, `WITH ended AS (DELETE FROM integrity_deployments WHERE host = $1 AND id = $2
				RETURNING host, id, description, started_at, actor_user_id, mac)
				INSERT INTO integrity_deployments_ended (host, id, description, started_at, actor_user_id, mac,
					ended_at, ended_by, accepted)
				SELECT host, id, description, started_at, actor_user_id, mac, $3, $4, $5 FROM ended`,
				h.host, c.EndDeployment, nanos(c.Ended.EndedAt), c.Ended.EndedByUserID, c.Ended.Accepted)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("deployment %s is not open: %w", c.EndDeployment, security.ErrConflict)
			}
		}
		// Does the commit drop a reference to content?
		var orphans bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM integrity_staged s
			JOIN integrity_entries e ON e.host = s.host AND e.root = s.root AND e.path = s.path
			WHERE s.host = $1 AND s.set_id = $2 AND e.content IS NOT NULL)
			OR EXISTS (SELECT 1 FROM integrity_entries
			WHERE host = $1 AND root = ANY($3::bytea[]) AND content IS NOT NULL)`,
			h.host, c.Set, replace).Scan(&orphans); err != nil {
			return err
		}
		type step struct {
			query string
			args  []any
		}
		set := []any{h.host, c.Set}
		steps := []step{
			{`DELETE FROM integrity_entries WHERE host = $1 AND root = ANY($2::bytea[])`, []any{h.host, replace}},
			{`DELETE FROM integrity_observations WHERE host = $1 AND root = ANY($2::bytea[])`, []any{h.host, replace}},
			{`DELETE FROM integrity_entries e USING integrity_staged s
				WHERE s.host = $1 AND s.set_id = $2 AND NOT s.put
				AND e.host = s.host AND e.root = s.root AND e.path = s.path`, set},
			{`INSERT INTO integrity_entries (host, root, path, record, content)
				SELECT host, root, path, record, content FROM integrity_staged
				WHERE host = $1 AND set_id = $2 AND put
				ON CONFLICT (host, root, path) DO UPDATE SET record = EXCLUDED.record, content = EXCLUDED.content`, set},
			{`DELETE FROM integrity_observations o USING integrity_staged s
				WHERE s.host = $1 AND s.set_id = $2
				AND o.host = s.host AND o.root = s.root AND o.path = s.path`, set},
			// Content that no entry of the set refers to, against the
			// contract of Batch.Blobs, is stored too, and dropped by the
			// next sweep.
			{`INSERT INTO integrity_content (hash, data)
				SELECT hash, data FROM integrity_staged_blobs WHERE host = $1 AND set_id = $2
				ON CONFLICT (hash) DO NOTHING`, set},
			{`DELETE FROM integrity_staged WHERE host = $1 AND set_id = $2`, set},
			{`DELETE FROM integrity_staged_blobs WHERE host = $1 AND set_id = $2`, set},
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, st.query, st.args...); err != nil {
				return err
			}
		}
		if orphans {
			if _, err := tx.Exec(ctx, `DELETE FROM integrity_content c
				WHERE NOT EXISTS (SELECT 1 FROM integrity_entries e WHERE e.content = c.hash)`); err != nil {
				return err
			}
		}
		for _, rc := range c.Roots {
			if _, err := tx.Exec(ctx, `INSERT INTO integrity_seals (host, root, sum, entries, updated_at)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT (host, root)
				DO UPDATE SET sum = EXCLUDED.sum, entries = EXCLUDED.entries, updated_at = EXCLUDED.updated_at`,
				h.host, bytea(rc.Seal.Root), rc.Seal.Sum[:], rc.Seal.Entries, nanos(rc.Seal.UpdatedAt)); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, c.Events)
	})
}

func scanObservation(sc scanner) (integrity.Observation, error) {
	var o integrity.Observation
	var root, path, state, mac []byte
	if err := sc.Scan(&root, &path, &state, &mac); err != nil {
		return o, err
	}
	o.Root, o.Path = string(root), string(path)
	var err1, err2 error
	o.State, err1 = hash(state)
	o.MAC, err2 = hash(mac)
	if err1 != nil || err2 != nil {
		return integrity.Observation{}, fmt.Errorf("observation %q: %w", o.Path, cmpOr(err1, err2))
	}
	return o, nil
}

func cmpOr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Observations implements [integrity.Store], a page at a time like
// Entries.
func (h *hostStore) Observations(ctx context.Context, root string) iter.Seq2[integrity.Observation, error] {
	const q = `SELECT root, path, state, mac FROM integrity_observations WHERE host = $1 AND root = $2 `
	return keyset(ctx, h, "integrity observations", q+`ORDER BY path LIMIT $3`,
		q+`AND path > $3 ORDER BY path LIMIT $4`, root, scanObservation,
		func(o *integrity.Observation) string { return o.Path })
}

// SaveFindings implements [integrity.Store], in one transaction: the
// alerts' inserts are sent in one batch, and the observations are set and
// forgotten with one statement each.
func (h *hostStore) SaveFindings(ctx context.Context, f integrity.Findings) ([]int64, error) {
	// The last observation of a key wins.
	at := map[integrity.Key]int{}
	var keep []integrity.Observation
	for _, o := range f.Observations {
		if i, ok := at[o.Key]; ok {
			keep[i] = o
			continue
		}
		at[o.Key] = len(keep)
		keep = append(keep, o)
	}
	var setRoots, setPaths, states, macs, forgetRoots, forgetPaths [][]byte
	for _, o := range keep {
		if o.State.IsZero() {
			forgetRoots, forgetPaths = append(forgetRoots, bytea(o.Root)), append(forgetPaths, bytea(o.Path))
			continue
		}
		setRoots, setPaths = append(setRoots, bytea(o.Root)), append(setPaths, bytea(o.Path))
		states, macs = append(states, o.State[:]), append(macs, o.MAC[:])
	}
	var ids []int64
	err := h.s.write(ctx, "save integrity findings", func(tx pgx.Tx) error {
		added := slices.Clone(f.Alerts)
		ids = make([]int64, 0, len(added))
		if len(added) > 0 {
			var b pgx.Batch
			for i := range added {
				a := &added[i]
				b.Queue(`INSERT INTO integrity_alerts (host, root, path, file_path, type, change, severity, status,
					details, state, check_id, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
					a.Host, bytea(a.Root), bytea(a.Path), bytea(a.FilePath), string(a.Type), string(a.Change),
					string(a.Severity), int16(a.Status), a.Details, a.State[:], a.CheckID, nanos(a.CreatedAt),
					nanos(a.UpdatedAt)).QueryRow(func(row pgx.Row) error {
					if err := row.Scan(&a.ID); err != nil {
						return fmt.Errorf("insert alert: %w", err)
					}
					ids = append(ids, a.ID)
					return nil
				})
			}
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return err
			}
		}
		if len(setRoots) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO integrity_observations (host, root, path, state, mac)
				SELECT $1, r, p, s, m FROM unnest($2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[]) AS x(r, p, s, m)
				ON CONFLICT (host, root, path) DO UPDATE SET state = EXCLUDED.state, mac = EXCLUDED.mac`,
				h.host, setRoots, setPaths, states, macs); err != nil {
				return fmt.Errorf("save observations: %w", err)
			}
		}
		if len(forgetRoots) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM integrity_observations o
				USING unnest($2::bytea[], $3::bytea[]) AS x(r, p)
				WHERE o.host = $1 AND o.root = x.r AND o.path = x.p`, h.host, forgetRoots, forgetPaths); err != nil {
				return fmt.Errorf("forget observations: %w", err)
			}
		}
		if f.Events == nil {
			return nil
		}
		return insertEvents(ctx, tx, f.Events(added))
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

const alertCols = `id, host, root, path, file_path, type, change, severity, status, details, state, check_id,
	created_at, updated_at`

func scanAlert(sc scanner) (integrity.Alert, error) {
	var a integrity.Alert
	var root, path, filePath, state []byte
	var typ, change, sev string
	var status int16
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.Host, &root, &path, &filePath, &typ, &change, &sev, &status, &a.Details,
		&state, &a.CheckID, &created, &updated); err != nil {
		return integrity.Alert{}, err
	}
	a.Root, a.Path, a.FilePath = string(root), string(path), string(filePath)
	a.Type, a.Change, a.Severity = integrity.AlertType(typ), integrity.Change(change), integrity.Severity(sev)
	a.Status, a.CreatedAt, a.UpdatedAt = integrity.Status(status), fromNanos(created), fromNanos(updated)
	var err error
	if a.State, err = hash(state); err != nil {
		return integrity.Alert{}, fmt.Errorf("alert %d: %w", a.ID, err)
	}
	return a, nil
}

// Alert implements [integrity.Store].
func (h *hostStore) Alert(ctx context.Context, id int64) (integrity.Alert, error) {
	a, err := scanAlert(h.s.row(ctx, `SELECT `+alertCols+` FROM integrity_alerts WHERE id = $1`, id))
	if err != nil {
		return integrity.Alert{}, rowErr("integrity alert", "alert", err)
	}
	return a, nil
}

// ListAlerts implements [integrity.Store]. The count and the page are read
// in one read-only REPEATABLE READ transaction, one snapshot, so they
// agree; it is run again after a transient error or a lost connection. An
// unknown order lists newest first.
func (h *hostStore) ListAlerts(ctx context.Context, q integrity.AlertQuery) ([]integrity.Alert, int, error) {
	where, args := "true", []any{}
	if q.Status != nil {
		args = append(args, int16(*q.Status))
		where += fmt.Sprintf(" AND status = $%d", len(args))
	}
	if q.Severity != "" {
		// The rank lets the indexes on severity_rank serve the filter.
		args = append(args, int16(q.Severity.Rank()), string(q.Severity))
		where += fmt.Sprintf(" AND severity_rank = $%d AND severity = $%d", len(args)-1, len(args))
	}
	order := integritysql.AlertOrder(q.Sort)
	list := fmt.Sprintf(`SELECT `+alertCols+` FROM integrity_alerts WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d`,
		where, order, len(args)+1, len(args)+2)
	var page []integrity.Alert
	var total int
	err := h.s.retryIf(ctx, readTransient, func() error {
		return pgx.BeginTxFunc(ctx, h.s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
			func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM integrity_alerts WHERE `+where, args...).Scan(&total); err != nil {
					return err
				}
				var err error
				page, err = collect(scanAlert)(tx.Query(ctx, list, append(args, max(q.Limit, 0), max(q.Offset, 0))...))
				return err
			})
	})
	if err != nil {
		return nil, 0, wrap("list integrity alerts", err)
	}
	return page, total, nil
}

// changeAlerts runs query, whose parameter $1 is the alerts ids and whose
// other parameters are args, in one transaction with the events that
// events (if not nil) makes of the alerts as they were, in id order;
// unless some ids are unknown: then it changes nothing and returns them,
// sorted. It locks the alerts first (SELECT … FOR UPDATE, in id order), so
// none of them changes or goes between the check and the change.
func (h *hostStore) changeAlerts(ctx context.Context, op string, ids []int64,
	events func([]integrity.Alert) []security.Event, query string, args ...any) (int, []int64, error) {
	ids = integritysql.BulkIDs(ids)
	var unknown []int64
	err := h.s.write(ctx, op, func(tx pgx.Tx) error {
		found, err := collect(scanAlert)(tx.Query(ctx, `SELECT `+alertCols+` FROM integrity_alerts
			WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids))
		if err != nil {
			return err
		}
		foundIDs := make([]int64, len(found))
		for i, a := range found {
			foundIDs[i] = a.ID
		}
		if unknown = integritysql.Unknown(ids, foundIDs); len(unknown) > 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, query, append([]any{ids}, args...)...); err != nil {
			return err
		}
		if events == nil {
			return nil
		}
		return insertEvents(ctx, tx, events(found))
	})
	return integritysql.BulkResult(ids, unknown, err)
}

// SetAlertStatus implements [integrity.Store].
func (h *hostStore) SetAlertStatus(ctx context.Context, ids []int64, status integrity.Status, at time.Time,
	events func(before []integrity.Alert) []security.Event) (int, []int64, error) {
	return h.changeAlerts(ctx, "set integrity alert status", ids, events,
		`UPDATE integrity_alerts SET status = $2, updated_at = $3 WHERE id = ANY($1)`, int16(status), nanos(at))
}

// DeleteAlerts implements [integrity.Store].
func (h *hostStore) DeleteAlerts(ctx context.Context, ids []int64, events func(deleted []integrity.Alert) []security.Event) (int, []int64, error) {
	return h.changeAlerts(ctx, "delete integrity alerts", ids, events, `DELETE FROM integrity_alerts WHERE id = ANY($1)`)
}

// Deployment implements [integrity.Store]: the open deployment of this
// host.
func (h *hostStore) Deployment(ctx context.Context) (integrity.Deployment, error) {
	var d integrity.Deployment
	var started int64
	var mac []byte
	err := h.s.row(ctx, `SELECT id, description, started_at, actor_user_id, mac FROM integrity_deployments
		WHERE host = $1`, h.host).Scan(&d.ID, &d.Description, &started, &d.ActorUserID, &mac)
	if err != nil {
		return integrity.Deployment{}, rowErr("integrity deployment", "deployment", err)
	}
	d.StartedAt = fromNanos(started)
	if d.MAC, err = hash(mac); err != nil {
		return integrity.Deployment{}, wrap("integrity deployment", err)
	}
	return d, nil
}

// EndedDeployments implements [integrity.Store]: the ended deployments of
// this host.
func (h *hostStore) EndedDeployments(ctx context.Context, limit int) ([]integrity.EndedDeployment, error) {
	list, err := query(ctx, h.s, scanEndedDeployment, `SELECT id, description, started_at, actor_user_id, mac,
		ended_at, ended_by, accepted FROM integrity_deployments_ended WHERE host = $1
		ORDER BY ended_at DESC, seq DESC LIMIT $2`, h.host, max(limit, 0))
	if err != nil {
		return nil, wrap("ended integrity deployments", err)
	}
	return list, nil
}

func scanEndedDeployment(sc scanner) (integrity.EndedDeployment, error) {
	var d integrity.EndedDeployment
	var started, ended int64
	var mac []byte
	if err := sc.Scan(&d.ID, &d.Description, &started, &d.ActorUserID, &mac, &ended, &d.EndedByUserID, &d.Accepted); err != nil {
		return d, err
	}
	d.StartedAt, d.EndedAt = fromNanos(started), fromNanos(ended)
	var err error
	d.MAC, err = hash(mac)
	return d, err
}

// BeginDeployment implements [integrity.Store]: one INSERT … ON CONFLICT
// DO NOTHING, so of two concurrent calls for a host exactly one opens its
// deployment.
func (h *hostStore) BeginDeployment(ctx context.Context, d integrity.Deployment, events []security.Event) error {
	return h.s.write(ctx, "begin integrity deployment", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO integrity_deployments (host, id, description, started_at, actor_user_id, mac)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (host) DO NOTHING`,
			h.host, d.ID, d.Description, nanos(d.StartedAt), d.ActorUserID, d.MAC[:])
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("a deployment is open: %w", security.ErrConflict)
		}
		return insertEvents(ctx, tx, events)
	})
}
