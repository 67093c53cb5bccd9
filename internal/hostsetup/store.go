// Package hostsetup is what the example server and the operator CLI
// (cmd/propsec) share to open one propsec database: the store a -db value
// names (a SQLite file or a PostgreSQL URL), the integrity baseline's MAC
// key kept outside that database, and the users file format.
//
// # Store
//
// [Open] returns a [Backend]: every store interface both programs use,
// implemented by sqlitestore and pgstore alike. [IsPostgres] tells the two
// kinds of -db apart and [RedactDB] makes a -db fit for a log line.
//
// # Integrity key
//
// [IntegrityKey] finds the key from a flag, then $PROPSEC_INTEGRITY_KEY,
// then a 0600 key file beside a SQLite database (made on first use).
//
// # Users file
//
// [ReadUsers] reads and checks the JSON array of users the server's -users
// flag and the CLI's "users import" take; [LoadUsers] is the server's
// start-up step.
package hostsetup

import (
	"context"
	"iter"
	"log/slog"
	"net/url"
	"strings"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/pgstore"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// Backend is what the example server and the CLI need of their store;
// sqlitestore and pgstore both provide it.
type Backend interface {
	session.Store
	session.UserDirectory
	session.SessionUserLoader
	session.PasswordChanger
	security.NonceStore
	security.SecretStore
	security.AuditLog
	integrity.Store
	report.Store
	passkey.Store
	UserStore
	// SchemaVersion reports the database's schema version and the newest
	// this program knows.
	SchemaVersion(ctx context.Context) (current, latest int, err error)
	// Users lists every user, by id.
	Users(ctx context.Context) ([]session.User, error)
	// ChainedEvents yields the audit events with IDs above after, in ID
	// order, a page at a time.
	ChainedEvents(ctx context.Context, after int64) iter.Seq2[security.ChainedEvent, error]
	Close() error
}

// IsPostgres reports whether db names a PostgreSQL server (a postgres:// or
// postgresql:// URL) rather than a SQLite file.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Open opens the store db names: a postgres:// or postgresql:// URL selects
// PostgreSQL (pgstore), for several instances sharing one database;
// anything else is a SQLite file. log receives the store's warnings.
func Open(ctx context.Context, db string, log *slog.Logger) (Backend, error) {
	if IsPostgres(db) {
		return pgstore.Open(ctx, db)
	}
	return sqlitestore.OpenWith(ctx, db, sqlitestore.Options{Logger: log})
}

// RedactDB returns db fit for a log line: a URL without its password.
func RedactDB(db string) string {
	if !IsPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://…"
	}
	u.RawQuery = "" // may hold password=…
	return u.Redacted()
}
