package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Store is every propsec store in one SQLite database. Create it with
// [Open] and release it with [Store.Close].
type Store struct {
	w *sql.DB // the single writer connection; transactions BEGIN IMMEDIATE
	// nonces records CSRF nonces on a second writing connection of its
	// own, with synchronous=NORMAL (see Durability in the package
	// documentation): one connection, statements from nonceQueries.
	nonces *hotReader
	// turn is held by whichever of w and nonces is writing, so that in
	// one process they queue here rather than in SQLite's busy handler,
	// which polls with sleeps of a millisecond and more.
	turn chan struct{}
	r    *sql.DB // read-only connections

	// hot runs the point reads of every authenticated request (hotQueries)
	// on read-only connections of its own, without database/sql.
	hot *hotReader
	// Prepared on the writer, used inside its transactions.
	insertEvent *sql.Stmt
	// lastEvent reads the audit chain's head inside a write transaction.
	lastEvent *sql.Stmt
}

// Connection settings shared by the writer and the readers. busy_timeout
// makes a connection wait, rather than fail, while another process holds the
// write lock.
const commonPragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"

// writerDSN and readerDSN return the data source names for path. The path
// goes through a file: URI so that characters such as '?' in it cannot be
// mistaken for parameters.
func writerDSN(path string) string {
	return fileURI(path) + "?" + commonPragmas +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
}

// nonceDSN is writerDSN with synchronous=NORMAL. In WAL mode a commit on
// this connection is written to the WAL but not synced; the next commit
// of the writer (synchronous=FULL) or the next checkpoint syncs it, with
// everything written before it.
func nonceDSN(path string) string {
	return fileURI(path) + "?" + commonPragmas + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
}

// The statements of the nonce connection, by hotQuery.
const (
	nonceInsert hotQuery = iota
	nonceSynchronous
	nonceJournalMode
)

var nonceQueries = [...]string{
	nonceInsert:      `INSERT INTO nonces (hash, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
	nonceSynchronous: `PRAGMA synchronous`,
	nonceJournalMode: `PRAGMA journal_mode`,
}

func readerDSN(path string) string {
	return fileURI(path) + "?" + commonPragmas + "&_pragma=query_only(1)"
}

func fileURI(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath()
}

// Options are the settings of [OpenWith].
type Options struct {
	// Logger receives the warning that other local users can read the
	// database's files. Nil means [slog.Default].
	Logger *slog.Logger
}

// Open opens the database at path with the default [Options]; see
// [OpenWith].
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith opens the database at path, creating the file if it is missing,
// and brings its schema up to date. The caller must call [Store.Close].
//
// A new database, and the -wal and -shm files beside it, are created mode
// 0600 whatever the umask: they hold password hashes and secrets. Opening
// an existing one that group or others can read logs a warning with the
// chmod command that fixes it.
func OpenWith(ctx context.Context, path string, o Options) (*Store, error) {
	if path == "" || path == ":memory:" {
		return nil, errors.New("sqlitestore: a database file path is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Store{turn: make(chan struct{}, 1)}
	fail := func(err error) (*Store, error) {
		_ = s.Close()
		return nil, err
	}
	created, err := createPrivate(path)
	if err != nil {
		return nil, wrap("open", err)
	}
	if !created {
		warnExposed(o.Logger, path)
	}
	if s.w, err = sql.Open("sqlite", writerDSN(path)); err != nil {
		return fail(wrap("open", err))
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := checkDurability("writer", syncFull, func(q hotQuery, dst any) error {
		return s.w.QueryRowContext(ctx, nonceQueries[q]).Scan(dst)
	}); err != nil {
		return fail(err)
	}
	applied, err := migrate(ctx, s.w)
	if err != nil {
		return fail(err)
	}
	if applied > 0 {
		// Leave no page a migration deleted (0005: plaintext content) in
		// the WAL. Best effort: a reader of another process may hold
		// frames back; they go at a later checkpoint.
		if _, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return fail(wrap("checkpoint", err))
		}
	}

	if s.r, err = sql.Open("sqlite", readerDSN(path)); err != nil {
		return fail(wrap("open", err))
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n) // keep connections, and their prepared statements
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)

	prep := func(db *sql.DB, dst **sql.Stmt, query string) error {
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return wrap("prepare", err)
		}
		*dst = st
		return nil
	}
	s.hot = newHotReader(readerDSN(path), n, hotQueries[:]...)
	s.nonces = newHotReader(nonceDSN(path), 1, nonceQueries[:]...)
	if err := checkDurability("nonce connection", syncNormal, func(q hotQuery, dst any) error {
		return s.nonces.row(ctx, q, func(sc scanner) error { return sc.Scan(dst) })
	}); err != nil {
		return fail(err)
	}
	if err := errors.Join(
		s.hot.check(ctx),
		prep(s.w, &s.insertEvent, insertEventSQL),
		prep(s.w, &s.lastEvent, lastEventSQL),
	); err != nil {
		return fail(err)
	}
	return s, nil
}

// Values of PRAGMA synchronous.
const (
	syncNormal = 1
	syncFull   = 2
)

// checkDurability makes sure the settings durability depends on took
// effect on the connection called conn: WAL mode and synchronous=want.
// query runs nonceJournalMode or nonceSynchronous there, scanning the
// one value into dst.
func checkDurability(conn string, want int64, query func(q hotQuery, dst any) error) error {
	var mode string
	var sync int64
	if err := query(nonceJournalMode, &mode); err != nil {
		return wrap("open", err)
	}
	if err := query(nonceSynchronous, &sync); err != nil {
		return wrap("open", err)
	}
	if mode != "wal" || sync != want {
		return fmt.Errorf("sqlitestore: open: %s has journal_mode=%s synchronous=%d, want wal and %d",
			conn, mode, sync, want)
	}
	return nil
}

// Close releases the database. Calls made after Close fail.
func (s *Store) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.insertEvent, s.lastEvent} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, h := range []*hotReader{s.hot, s.nonces} {
		if h != nil {
			h.close()
		}
	}
	// Readers first: the writer, closing last, checkpoints the WAL.
	for _, db := range []*sql.DB{s.r, s.w} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return wrap("close", err)
	}
	return nil
}

// write runs fn in one BEGIN IMMEDIATE transaction on the writer and
// commits it, or rolls it back when fn fails.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	if err := s.takeTurn(ctx); err != nil {
		return wrap(op, err)
	}
	defer s.endTurn()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// exec runs one statement on the writer, outside any explicit transaction,
// and returns how many rows it changed.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	if err := s.takeTurn(ctx); err != nil {
		return 0, wrap(op, err)
	}
	defer s.endTurn()
	n, err := execN(ctx, s.w, query, args...)
	if err != nil {
		return 0, wrap(op, err)
	}
	return n, nil
}

// takeTurn waits until no other write of s is running, or ctx is done.
// The caller must call endTurn after its write.
func (s *Store) takeTurn(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) endTurn() { <-s.turn }

// execer is a *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// execN runs one statement and returns how many rows it changed.
func execN(ctx context.Context, ex execer, query string, args ...any) (int64, error) {
	res, err := ex.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func wrap(op string, err error) error { return fmt.Errorf("sqlitestore: %s: %w", op, err) }

func notFound(what string) error { return fmt.Errorf("%s: %w", what, security.ErrNotFound) }

// rowErr turns sql.ErrNoRows into a not-found error and wraps anything else.
func rowErr(op, what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return wrap(op, notFound(what))
	}
	return wrap(op, err)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner = sqlrow.Scanner

// collect returns a function that reads every row of a query's result
// with scan: collect(scanX)(db.QueryContext(…)). It is [sqlrow.Collect].
func collect[T any](scan func(scanner) (T, error)) func(sqlrow.Rows, error) ([]T, error) {
	return sqlrow.Collect(scan)
}

// readRows appends every row of rows, read with scan, to dst, and closes
// rows. It is [sqlrow.AppendRows].
func readRows[T any](rows *sql.Rows, dst []T, scan func(scanner) (T, error)) ([]T, error) {
	return sqlrow.AppendRows(dst, rows, scan)
}

// nanos is t as stored ([sqlrow.Nanos]), fromNanos its reverse.
func nanos(t time.Time) int64 { return sqlrow.Nanos(t) }

func fromNanos(n int64) time.Time { return sqlrow.FromNanos(n) }

var (
	_ session.Store             = (*Store)(nil)
	_ session.UserDirectory     = (*Store)(nil)
	_ session.PasswordUpdater   = (*Store)(nil)
	_ session.PasswordChanger   = (*Store)(nil)
	_ session.SessionUserLoader = (*Store)(nil)
	_ security.NonceStore       = (*Store)(nil)
	_ security.SecretStore      = (*Store)(nil)
	_ integrity.Store           = (*Store)(nil)
)
