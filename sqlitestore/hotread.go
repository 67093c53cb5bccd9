package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"

	"modernc.org/sqlite"

	"github.com/propops/propsec/internal/sqlrow"
)

// hotReader runs the point reads every authenticated request makes (a
// session and its user by token hash; see [hotQuery]) on connections of
// the SQLite driver used directly, through the standard database/sql/driver
// interfaces, rather than through database/sql. database/sql's pool, its
// per-query argument and result conversion and its Rows bookkeeping took
// about half of a lone point read (see Performance in the package
// documentation); statements prepared once per connection, kept in a
// small pool of its own, do not.
//
// The connections are read-only (the reader DSN), at most max of them are
// open, and one that fails is closed rather than reused.
type hotReader struct {
	open    func() (driver.Conn, error)
	queries []string // by hotQuery

	idle chan *hotConn // connections not in use
	slot chan struct{} // one token per connection open or opening
	mu   sync.Mutex    // guards closed, and sends to idle
	// closed is set by close; a connection put back after it is closed.
	closed bool
}

// hotConn is one driver connection and its prepared statements.
type hotConn struct {
	conn  driver.Conn
	stmts []driver.Stmt // by hotQuery
	// Reused by every query on this connection.
	args []driver.NamedValue
	vals [][]driver.Value // by hotQuery
}

// hotQuery numbers the queries of a hotReader.
type hotQuery int

// The Store's hot reads.
const (
	hotSessionByHash hotQuery = iota
	hotUserByID
	hotSessionUserByHash
)

var hotQueries = [...]string{
	hotSessionByHash: `SELECT ` + sqlrow.SessionCols + ` FROM sessions WHERE token_hash = ?`,
	hotUserByID:      `SELECT ` + sqlrow.UserCols + ` FROM users WHERE id = ?`,
	hotSessionUserByHash: `SELECT ` + sqlrow.Qualify("s", sqlrow.SessionCols) + `, ` + sqlrow.Qualify("u", sqlrow.UserCols) + `
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`,
}

// newHotReader returns a reader of at most max connections opened with dsn,
// each preparing queries (indexed by hotQuery) when it opens.
func newHotReader(dsn string, max int, queries ...string) *hotReader {
	return &hotReader{
		open:    func() (driver.Conn, error) { return (&sqlite.Driver{}).Open(dsn) },
		queries: queries,
		idle:    make(chan *hotConn, max),
		slot:    make(chan struct{}, max),
	}
}

// check opens one connection, preparing every query, and keeps it: Open
// fails early on a query that does not prepare.
func (h *hotReader) check(ctx context.Context) error {
	c, err := h.get(ctx)
	if err != nil {
		return wrap("prepare", err)
	}
	h.put(c, false)
	return nil
}

// errHotReaderClosed is returned by queries after close.
var errHotReaderClosed = errors.New("sqlitestore: store is closed")

// get returns an idle connection, opens one when fewer than max are open,
// or waits for one to be put back.
func (h *hotReader) get(ctx context.Context) (*hotConn, error) {
	select {
	case c := <-h.idle:
		return c, nil
	default:
	}
	select {
	case c := <-h.idle:
		return c, nil
	case h.slot <- struct{}{}:
		c, err := h.dial()
		if err != nil {
			<-h.slot
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *hotReader) dial() (*hotConn, error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, errHotReaderClosed
	}
	conn, err := h.open()
	if err != nil {
		return nil, err
	}
	c := &hotConn{conn: conn, vals: make([][]driver.Value, len(h.queries))}
	for _, q := range h.queries {
		stmt, err := conn.Prepare(q)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		c.stmts = append(c.stmts, stmt)
	}
	h.mu.Lock()
	closed = h.closed
	h.mu.Unlock()
	if closed {
		c.close()
		return nil, errHotReaderClosed
	}
	return c, nil
}

// put gives c back, or closes it when it failed or the reader is closed.
func (h *hotReader) put(c *hotConn, failed bool) {
	h.mu.Lock()
	if failed || h.closed {
		h.mu.Unlock()
		c.close()
		<-h.slot
		return
	}
	// Under the lock, so that close cannot drain idle between the check
	// and the send. Never blocks: at most cap(idle) connections exist.
	h.idle <- c
	h.mu.Unlock()
}

func (c *hotConn) close() {
	for _, st := range c.stmts {
		_ = st.Close()
	}
	_ = c.conn.Close()
}

// row runs query q with args and hands its first row to scan, which must
// not keep the scanner; no row is sql.ErrNoRows.
//
// ctx is honoured until the query starts (while it waits for a
// connection), not during it: a point read by a unique key is over in
// microseconds, and a context the driver can watch costs more than that
// (it installs a progress handler and starts a goroutine per query).
func (h *hotReader) row(ctx context.Context, q hotQuery, scan func(scanner) error, args ...any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := h.get(ctx)
	if err != nil {
		return err
	}
	err = c.query(q, scan, args)
	// A missing row or a bad value is the data's doing, not the
	// connection's: keep it.
	var dataErr *hotScanError
	h.put(c, err != nil && !errors.Is(err, sql.ErrNoRows) && !errors.As(err, &dataErr))
	return err
}

func (c *hotConn) query(q hotQuery, scan func(scanner) error, args []any) error {
	// The background context: see row.
	rows, err := c.stmts[q].(driver.StmtQueryContext).QueryContext(context.Background(), c.bind(args))
	if err != nil {
		return err
	}
	vals := c.vals[q]
	if vals == nil {
		vals = make([]driver.Value, len(rows.Columns()))
		c.vals[q] = vals
	}
	err = rows.Next(vals)
	cerr := rows.Close()
	switch {
	case err == io.EOF && cerr == nil:
		return sql.ErrNoRows
	case err != nil && err != io.EOF:
		return err
	case cerr != nil:
		return cerr
	}
	if err := scan(valueScanner(vals)); err != nil {
		return &hotScanError{err}
	}
	return nil
}

// exec runs statement q, which returns no rows, with args and reports how
// many rows it changed. ctx is honoured as in row.
func (h *hotReader) exec(ctx context.Context, q hotQuery, args ...any) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c, err := h.get(ctx)
	if err != nil {
		return 0, err
	}
	n, err := c.exec(q, args)
	h.put(c, err != nil)
	return n, err
}

func (c *hotConn) exec(q hotQuery, args []any) (int64, error) {
	res, err := c.stmts[q].(driver.StmtExecContext).ExecContext(context.Background(), c.bind(args))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// bind returns args as the driver's arguments, in c's reused slice.
func (c *hotConn) bind(args []any) []driver.NamedValue {
	c.args = c.args[:0]
	for i, a := range args {
		c.args = append(c.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return c.args
}

// close closes every idle connection and makes those in use close when
// they are put back.
func (h *hotReader) close() {
	h.mu.Lock()
	h.closed = true
	var idle []*hotConn
	for len(h.idle) > 0 {
		idle = append(idle, <-h.idle)
	}
	h.mu.Unlock()
	for _, c := range idle {
		c.close()
		<-h.slot
	}
}

// hotScanError is a row that did not convert.
type hotScanError struct{ err error }

func (e *hotScanError) Error() string { return e.err.Error() }
func (e *hotScanError) Unwrap() error { return e.err }

// valueScanner scans one row of driver values into the destination types
// the row codecs use: what database/sql's Scan would do for them, with the
// same errors for a NULL or a value of the wrong type.
type valueScanner []driver.Value

// Scan implements [sqlrow.Scanner].
func (v valueScanner) Scan(dest ...any) error {
	if len(dest) != len(v) {
		return fmt.Errorf("sql: expected %d destination arguments in Scan, not %d", len(v), len(dest))
	}
	for i, d := range dest {
		if err := convert(d, v[i]); err != nil {
			return fmt.Errorf("sql: Scan error on column index %d: %w", i, err)
		}
	}
	return nil
}

func convert(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case *string:
		switch s := v.(type) {
		case string:
			*d = s
			return nil
		case []byte:
			*d = string(s)
			return nil
		}
	case *[]byte:
		switch b := v.(type) {
		case []byte:
			*d = b // the driver's own copy
			return nil
		case string:
			*d = []byte(b)
			return nil
		}
	case *int64:
		if n, ok := v.(int64); ok {
			*d = n
			return nil
		}
	case *sql.NullInt64:
		switch n := v.(type) {
		case nil:
			*d = sql.NullInt64{}
			return nil
		case int64:
			*d = sql.NullInt64{Int64: n, Valid: true}
			return nil
		}
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return fmt.Errorf("converting %T to %T", v, dest)
}
