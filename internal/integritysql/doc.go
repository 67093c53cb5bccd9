// Package integritysql holds what the SQL implementations of
// integrity.Store, sqlitestore and pgstore, share apart from their SQL: the
// packed record of a baseline entry, keyset pagination of a root's rows,
// the orders of the alert list, and the ids of bulk alert updates.
//
// # Records
//
// A baseline entry is kept as its key (host, root, path) and one record
// holding every other field ([Append], [Parse]), because reading a column
// costs more than decoding a field: SQLite through database/sql takes about
// 0.25 µs per column, which made a 14-column layout the largest cost of a
// scan that finds nothing changed.
package integritysql
