package pgstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

// The scan lock of a host ([integrity.ScanLocker]) is a session-level
// advisory lock, held on a connection taken from the pool for as long as
// the lease lasts: when the process holding it crashes or loses that
// connection, PostgreSQL ends the session and frees the lock. Its key is a
// 64-bit hash of the schema and the host, so that every schema (such as
// the tests' throwaway ones) has locks of its own.
//
// A row of integrity_scan_holders says which check the holder runs. Every
// attempt to take the lock, in one transaction, first locks that row
// (SELECT … FOR UPDATE) and then tries the advisory lock without waiting;
// the attempt that gets it sets the row before committing. An attempt
// that finds the lock held has therefore waited for the holder's
// transaction, and the row it read names the holder's check: never an
// earlier one. Waiting for the lock happens outside any transaction (see
// LockScan), so no row lock is held while waiting.

// lockKey is the SQL expression of the key of the scan lock of the host
// that the SQL expression host names.
func lockKey(host string) string {
	return `hashtextextended(current_schema() || '/integrity-scan/' || ` + host + `, 0)`
}

// lockCloseTimeout bounds closing a lock's connection.
const lockCloseTimeout = 5 * time.Second

// interrupted is the error of a check whose process stopped running it,
// and interruptedAt sets its finished_at to when it was last recorded: its
// start and the duration recorded then.
const (
	interrupted   = "interrupted: the process running it stopped"
	interruptedAt = `finished_at = CASE WHEN started_at > 0 THEN started_at + duration ELSE finished_at END`
)

// LockScan implements [integrity.ScanLocker] for this machine.
func (s *Store) LockScan(ctx context.Context, c integrity.Check, wait bool) (integrity.ScanLease, error) {
	return s.own().LockScan(ctx, c, wait)
}

// RecordedCheck implements [integrity.ScanLocker]: it reports the checks
// of every host.
func (s *Store) RecordedCheck(ctx context.Context, id string) (integrity.Check, error) {
	return s.own().RecordedCheck(ctx, id)
}

// LockScan implements [integrity.ScanLocker]: see the package
// documentation.
func (h *hostStore) LockScan(ctx context.Context, c integrity.Check, wait bool) (integrity.ScanLease, error) {
	const op = "lock integrity scans"
	var conn *pgxpool.Conn
	if err := h.s.retry(ctx, func() (err error) {
		conn, err = h.s.pool.Acquire(ctx)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	for {
		got, holder, err := h.tryLock(ctx, conn, c)
		if err != nil {
			// The lock may be held: only closing the session frees it for
			// sure.
			closeConn(conn)
			return nil, wrap(op, err)
		}
		if got {
			return &scanLease{h: h, conn: conn}, nil
		}
		if !wait {
			conn.Release()
			return nil, &integrity.BusyError{CheckID: holder, Host: h.host}
		}
		// Wait until the holder releases the lock, then free it and try
		// again, so that taking it always goes through tryLock.
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey("$1")+`)`, h.host); err != nil {
			closeConn(conn)
			return nil, wrap(op, err)
		}
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
			closeConn(conn)
			return nil, wrap(op, err)
		}
	}
}

// tryLock tries to take the lock on conn without waiting, for check c (if
// c.ID is not empty), and otherwise returns the check its holder runs.
func (h *hostStore) tryLock(ctx context.Context, conn *pgxpool.Conn, c integrity.Check) (got bool, holder string, err error) {
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO integrity_scan_holders (host, check_id) VALUES ($1, '')
			ON CONFLICT (host) DO NOTHING`, h.host); err != nil {
			return err
		}
		// Waits for an attempt that is taking the lock to commit.
		if err := tx.QueryRow(ctx, `SELECT check_id FROM integrity_scan_holders WHERE host = $1 FOR UPDATE`,
			h.host).Scan(&holder); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKey("$1")+`)`, h.host).Scan(&got); err != nil || !got {
			return err
		}
		// Ours. Checks still recorded as running were interrupted: no one
		// else can run one now.
		if _, err := tx.Exec(ctx, `UPDATE integrity_scan_holders SET check_id = $2 WHERE host = $1`, h.host, c.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE integrity_checks SET status = $2, error = $3, `+interruptedAt+`
			WHERE lock_host = $1 AND status = $4`, h.host, string(integrity.CheckFailed), interrupted,
			string(integrity.CheckRunning)); err != nil {
			return err
		}
		if c.ID == "" {
			return nil
		}
		return recordCheck(ctx, tx, h.host, c)
	})
	return got, holder, err
}

// recordCheck stores c, run under the lock of lockHost by this session.
// Its error is stored as [security.CleanText] makes it (a text column
// takes neither NUL nor invalid UTF-8, which an error naming a file may
// hold).
func recordCheck(ctx context.Context, tx pgx.Tx, lockHost string, c integrity.Check) error {
	_, err := tx.Exec(ctx, `INSERT INTO integrity_checks (id, host, kind, status, files_total, files_scanned,
			violations_found, accepted, started_at, finished_at, duration, error, lock_host, pid)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, pg_backend_pid())
		ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, kind = EXCLUDED.kind, status = EXCLUDED.status,
			files_total = EXCLUDED.files_total, files_scanned = EXCLUDED.files_scanned,
			violations_found = EXCLUDED.violations_found, accepted = EXCLUDED.accepted,
			started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, duration = EXCLUDED.duration,
			error = EXCLUDED.error, lock_host = EXCLUDED.lock_host, pid = EXCLUDED.pid`,
		c.ID, c.Host, string(c.Kind), string(c.Status), c.FilesTotal, c.FilesScanned, c.ViolationsFound, c.Accepted,
		nanos(c.StartedAt), nanos(c.FinishedAt), int64(c.Duration), security.CleanText(c.Error, maxCheckError), lockHost)
	return err
}

// closeConn closes conn, which may hold a lock, and drops it from the pool.
func closeConn(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), lockCloseTimeout)
	defer cancel()
	conn.Hijack().Close(ctx)
}

// keptChecks is how many finished checks of each host are kept, and
// maxCheckError bounds the error stored with one, in bytes.
const (
	keptChecks    = 100
	maxCheckError = 2000
)

// scanLease is a held scan lock: its connection, taken from the pool.
type scanLease struct {
	h    *hostStore
	mu   sync.Mutex
	conn *pgxpool.Conn // nil once released
}

var errReleased = errors.New("the integrity scan lock was released")

// Record implements [integrity.ScanLease], on the lock's connection: a
// failure there says the lock may be lost. It is not retried.
func (l *scanLease) Record(ctx context.Context, c integrity.Check) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return wrap("record integrity check", errReleased)
	}
	err := pgx.BeginFunc(ctx, l.conn, func(tx pgx.Tx) error {
		if err := recordCheck(ctx, tx, l.h.host, c); err != nil {
			return err
		}
		if c.Status == integrity.CheckRunning {
			_, err := tx.Exec(ctx, `UPDATE integrity_scan_holders SET check_id = $2 WHERE host = $1`, l.h.host, c.ID)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE integrity_scan_holders SET check_id = '' WHERE host = $1 AND check_id = $2`,
			l.h.host, c.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM integrity_checks WHERE lock_host = $1 AND status <> $2
			AND id NOT IN (SELECT id FROM integrity_checks WHERE lock_host = $1
				ORDER BY started_at DESC, id DESC LIMIT $3)`, l.h.host, string(integrity.CheckRunning), keptChecks)
		return err
	})
	if err != nil {
		return wrap("record integrity check", err)
	}
	return nil
}

// Release implements [integrity.ScanLease]. If the lock cannot be freed
// on its connection, the connection is closed, which frees it.
func (l *scanLease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	conn := l.conn
	l.conn = nil
	var unlocked bool
	err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock(`+lockKey("$1")+`)`, l.h.host).Scan(&unlocked)
	if err == nil && unlocked {
		// No lock of this session may go back to the pool with it.
		_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	}
	if err != nil || !unlocked {
		closeConn(conn)
		if err == nil {
			err = errors.New("the lock was not held")
		}
		return wrap("release integrity scan lock", err)
	}
	conn.Release()
	return nil
}

// RecordedCheck implements [integrity.ScanLocker]. A check recorded as
// running whose session no longer holds its host's lock is reported
// failed: its process stopped.
func (h *hostStore) RecordedCheck(ctx context.Context, id string) (integrity.Check, error) {
	var c integrity.Check
	var kind, status string
	var started, finished, duration int64
	var orphan bool
	err := h.s.row(ctx, `SELECT c.id, c.host, c.kind, c.status, c.files_total, c.files_scanned,
			c.violations_found, c.accepted, c.started_at, c.finished_at, c.duration, c.error,
			c.status = $2 AND NOT EXISTS (SELECT 1 FROM pg_locks l
				WHERE l.locktype = 'advisory' AND l.granted AND l.pid = c.pid AND l.objsubid = 1
				AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				AND l.classid = ((k.key >> 32) & 4294967295)::oid AND l.objid = (k.key & 4294967295)::oid)
		FROM integrity_checks c, LATERAL (SELECT `+lockKey("c.lock_host")+` AS key) AS k
		WHERE c.id = $1`, id, string(integrity.CheckRunning)).Scan(&c.ID, &c.Host, &kind, &status,
		&c.FilesTotal, &c.FilesScanned, &c.ViolationsFound, &c.Accepted, &started, &finished, &duration, &c.Error, &orphan)
	if err != nil {
		return integrity.Check{}, rowErr("integrity check", "check", err)
	}
	c.Kind, c.Status = integrity.CheckKind(kind), integrity.CheckStatus(status)
	c.StartedAt, c.FinishedAt, c.Duration = fromNanos(started), fromNanos(finished), time.Duration(duration)
	if orphan {
		c.Status, c.Error = integrity.CheckFailed, interrupted
		if !c.StartedAt.IsZero() {
			c.FinishedAt = c.StartedAt.Add(c.Duration)
		}
	}
	return c, nil
}
