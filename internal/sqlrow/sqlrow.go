// Package sqlrow holds what the SQL stores, sqlitestore and pgstore, share
// apart from their SQL: the columns of users, sessions and audit events and
// how their rows are scanned and converted, how times are stored, how the
// rows of a query are collected, and how the embedded migration files are
// named and read.
//
// The statements stay with each store, since the dialects differ ($1
// against ?, @name against :name, COALESCE against IFNULL, …), and so do
// the transactions and retries around them.
//
// # Drivers
//
// The helpers take the part of *sql.Rows (database/sql, which sqlitestore
// uses) and pgx.Rows (pgstore) that they need, [Rows], and scan nullable
// columns into database/sql's Null types, which both drivers fill.
package sqlrow

import "strings"

// Scanner is a *sql.Row, *sql.Rows, pgx.Row or pgx.Rows: one row to scan.
type Scanner interface{ Scan(dest ...any) error }

// Rows is what *sql.Rows and pgx.Rows have in common besides Close, which
// differs (see closeRows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// closeRows closes rows: *sql.Rows' Close returns an error, pgx.Rows'
// nothing. Either is only called to end a read early or after a failure,
// where the error that matters has already been seen.
func closeRows(rows Rows) {
	switch r := rows.(type) {
	case interface{ Close() error }:
		_ = r.Close()
	case interface{ Close() }:
		r.Close()
	}
}

// Collect returns a function that reads every row of a query's result with
// scan and closes the rows: Collect(ScanUser)(db.QueryContext(…)). It
// returns nil with the query's or the first row's error.
func Collect[T any](scan func(Scanner) (T, error)) func(Rows, error) ([]T, error) {
	return func(rows Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		out, err := AppendRows(nil, rows, scan)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// AppendRows appends every row of rows, read with scan, to dst and closes
// rows. After a failure it returns what it appended so far with the error.
func AppendRows[T any](dst []T, rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer closeRows(rows)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return dst, err
		}
		dst = append(dst, v)
	}
	return dst, rows.Err()
}

// Qualify prefixes each column of a comma-separated list with table+".",
// for a join: Qualify("s", SessionCols).
func Qualify(table, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
