package pgstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Store is the propsec session, CSRF and audit stores in one PostgreSQL
// database, shared by every instance of the host. Create it with [Open] and
// release it with [Store.Close].
type Store struct {
	pool *pgxpool.Pool
}

// Pool defaults, used unless the DSN sets the matching pool_* parameter.
const (
	// DefaultMaxConnIdleTime closes connections idle this long.
	DefaultMaxConnIdleTime = 5 * time.Minute
	// DefaultMaxConnLifetime replaces connections this old, so that a
	// fail-over or a changed DNS name is picked up.
	DefaultMaxConnLifetime = time.Hour
	// DefaultHealthCheckPeriod is how often idle connections are checked.
	DefaultHealthCheckPeriod = 30 * time.Second
	// DefaultConnectTimeout bounds each new connection when the DSN sets
	// no connect_timeout.
	DefaultConnectTimeout = 10 * time.Second
)

// maxConns is the pool size used when the DSN does not set one. Each
// request holds a connection for about one round trip, so a pool of a few
// per core keeps requests from queueing for one (4 on 2 cores served 27–36%
// fewer requests/s than 8 under wrk -c32, bench/postgres.sh), while a few
// instances together stay well under PostgreSQL's default max_connections
// of 100. An integrity scan holds one more for as long as it runs.
func maxConns() int32 { return int32(max(8, 2*runtime.GOMAXPROCS(0))) }

// Open connects to the PostgreSQL database dsn names (a URL,
// postgres://user:pass@host:port/db?…, or keyword/value pairs, as
// [pgxpool.ParseConfig] reads them), brings its schema up to date and
// returns the store. The caller must call [Store.Close].
//
// The pool's settings are the pool_* parameters of dsn where it sets them,
// and otherwise: max(8, 2×GOMAXPROCS) connections, idle connections closed
// after [DefaultMaxConnIdleTime], connections replaced after
// [DefaultMaxConnLifetime], health checks every [DefaultHealthCheckPeriod],
// and [DefaultConnectTimeout] to connect. A connection taken from the
// pool is pinged first when idle for a second or when its socket shows
// that the server closed it (see the package documentation, "Transient
// errors and outages"). Tables live in the first schema of the
// connection's search_path (search_path=… in the DSN selects it).
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, wrap("open", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = maxConns()
	}
	if !strings.Contains(dsn, "pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = DefaultMaxConnIdleTime
	}
	if !strings.Contains(dsn, "pool_max_conn_lifetime") {
		cfg.MaxConnLifetime = DefaultMaxConnLifetime
	}
	if !strings.Contains(dsn, "pool_health_check_period") {
		cfg.HealthCheckPeriod = DefaultHealthCheckPeriod
	}
	cfg.ShouldPing = shouldPing
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap("open", err)
	}
	s := &Store{pool: pool}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the pool's connections. Calls made after Close fail.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// write runs fn in one read-committed transaction and commits it, or rolls
// it back when fn fails. A transaction that failed with a transient error
// (see transient) is run again from the start, so fn must only set
// variables it assigns afresh on every run.
func (s *Store) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	err := s.retryIf(ctx, writeTransient, func() error {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return &beginError{err}
		}
		defer tx.Rollback(ctx) // no effect after Commit
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// exec runs one statement outside any explicit transaction and returns how
// many rows it changed. It is retried only when it certainly did nothing
// (see transient): the result of a statement such as ConsumeNonce's would
// differ on a second run.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	return s.execIf(ctx, transient, op, query, args...)
}

// execIdem is exec for a statement that leaves the same state and changes
// the same rows whether it runs once or twice, such as an UPDATE that sets
// columns to given values: it is also retried after a lost connection.
func (s *Store) execIdem(ctx context.Context, op, query string, args ...any) (int64, error) {
	return s.execIf(ctx, readTransient, op, query, args...)
}

func (s *Store) execIf(ctx context.Context, again func(error) bool, op, query string, args ...any) (int64, error) {
	var tag pgconn.CommandTag
	err := s.retryIf(ctx, again, func() (err error) {
		tag, err = s.pool.Exec(ctx, query, args...)
		return err
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	return tag.RowsAffected(), nil
}

// query runs a read returning rows, scans each with scan and retries the
// whole read after a transient error or a lost connection.
func query[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), sql string, args ...any) ([]T, error) {
	var out []T
	err := s.retryIf(ctx, readTransient, func() (err error) {
		out, err = collect(scan)(s.pool.Query(ctx, sql, args...))
		return err
	})
	return out, err
}

// wrap names the operation in err. An error that says the database could
// not be reached or could not do the work now (see unavailable) also
// matches security.ErrUnavailable, so that callers answer "try again" (503)
// rather than take an outage for a missing row or a bad credential.
func wrap(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("pgstore: %s: %w: %w", op, security.ErrUnavailable, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

func notFound(what string) error { return fmt.Errorf("%s: %w", what, security.ErrNotFound) }

// row returns a one-row read whose Scan runs the query, again after a
// transient error (see transient): reads are always safe to repeat.
func (s *Store) row(ctx context.Context, query string, args ...any) scanner {
	return retryRow{ctx: ctx, s: s, query: query, args: args}
}

type retryRow struct {
	ctx   context.Context
	s     *Store
	query string
	args  []any
}

func (r retryRow) Scan(dest ...any) error {
	return r.s.retryIf(r.ctx, readTransient, func() error { return r.s.pool.QueryRow(r.ctx, r.query, r.args...).Scan(dest...) })
}

// rowErr turns pgx.ErrNoRows into a not-found error and wraps anything else.
func rowErr(op, what string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return wrap(op, notFound(what))
	}
	return wrap(op, err)
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// scanner is a pgx.Row or pgx.Rows.
type scanner = sqlrow.Scanner

// collect reads every row of rows with scan and closes rows: it is
// [sqlrow.Collect].
func collect[T any](scan func(scanner) (T, error)) func(sqlrow.Rows, error) ([]T, error) {
	return sqlrow.Collect(scan)
}

// The columns, times and emails as sqlitestore stores them too
// (internal/sqlrow), by the names this package's SQL uses.
const (
	sessionCols = sqlrow.SessionCols
	userCols    = sqlrow.UserCols
	eventCols   = sqlrow.EventCols
)

// nanos, fromNanos, nullNanos and emailKey are sqlrow's.
func nanos(t time.Time) int64      { return sqlrow.Nanos(t) }
func fromNanos(n int64) time.Time  { return sqlrow.FromNanos(n) }
func nullNanos(t time.Time) any    { return sqlrow.NullNanos(t) }
func emailKey(email string) string { return sqlrow.EmailKey(email) }

var (
	_ session.Store             = (*Store)(nil)
	_ session.UserDirectory     = (*Store)(nil)
	_ session.PasswordUpdater   = (*Store)(nil)
	_ session.PasswordChanger   = (*Store)(nil)
	_ session.SessionUserLoader = (*Store)(nil)
	_ security.NonceStore       = (*Store)(nil)
	_ security.SecretStore      = (*Store)(nil)
	_ security.AuditLog         = (*Store)(nil)
)
