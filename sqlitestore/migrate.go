package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strconv"

	"github.com/propops/propsec/internal/sqlrow"
)

// migrationFiles holds the schema, one file per version: NNNN_name.sql,
// numbered from 0001 without gaps. Migrations are only ever added, never
// edited once released.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate brings db's schema up to date, one transaction per migration,
// and returns how many it applied. Each transaction re-reads the version
// under the write lock, so processes opening one file at the same time do
// not apply a migration twice.
func migrate(ctx context.Context, db *sql.DB) (applied int, err error) {
	ms, err := sqlrow.LoadMigrations(migrationFiles)
	if err != nil {
		return 0, wrap("migrate", err)
	}
	for _, m := range ms {
		did, err := applyMigration(ctx, db, m, len(ms))
		if err != nil {
			return applied, wrap("migrate", err)
		}
		if did {
			applied++
		}
	}
	return applied, nil
}

func applyMigration(ctx context.Context, db *sql.DB, m sqlrow.Migration, latest int) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() // no effect after Commit
	var have int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return false, err
	}
	switch {
	case have > latest:
		return false, fmt.Errorf("database schema version %d is newer than this program supports (%d)", have, latest)
	case have >= m.Version:
		return false, nil
	case have != m.Version-1:
		return false, fmt.Errorf("database schema version %d cannot take migration %s", have, m.Name)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("%s: %w", m.Name, err)
	}
	// PRAGMA takes no parameters; the version is an integer we formatted.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.Version)); err != nil {
		return false, fmt.Errorf("%s: %w", m.Name, err)
	}
	return true, tx.Commit()
}

// latestVersion is the number of migrations this program has.
var latestVersion = sqlrow.LatestVersion(migrationFiles)

// SchemaVersion returns the database's schema version and the latest one
// this program knows, with one query on a reader connection: cheap enough
// for a readiness probe, and an error when the database cannot be read
// (closed, or its file gone bad). Open brings the schema up to date, so
// current < latest means another process rolled it back, and current >
// latest that a newer program migrated it since.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	if latest, err = latestVersion(); err != nil {
		return 0, 0, wrap("schema version", err)
	}
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return 0, latest, wrap("schema version", err)
	}
	return current, latest, nil
}
