package main

import (
	"context"
	"log/slog"
	"net/url"
	"strings"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/pgstore"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// backend is what the example server needs of its store; sqlitestore and
// pgstore both provide it.
type backend interface {
	session.Store
	session.UserDirectory
	session.SessionUserLoader
	security.NonceStore
	security.SecretStore
	security.AuditLog
	integrity.Store
	report.Store
	userStore
	schemaStore
	Close() error
}

// isPostgres reports whether -db names a PostgreSQL server rather than a
// SQLite file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// openStore opens the store -db names: a postgres:// or postgresql:// URL
// selects PostgreSQL (pgstore), for several instances sharing one
// database; anything else is a SQLite file. log receives the store's
// warnings.
func openStore(ctx context.Context, db string, log *slog.Logger) (backend, error) {
	if isPostgres(db) {
		return pgstore.Open(ctx, db)
	}
	return sqlitestore.OpenWith(ctx, db, sqlitestore.Options{Logger: log})
}

// redactDB returns db fit for a log line: a URL without its password.
func redactDB(db string) string {
	if !isPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://…"
	}
	u.RawQuery = "" // may hold password=…
	return u.Redacted()
}
