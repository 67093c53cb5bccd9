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

// migrate brings db's schema up to date, one transaction per migration.
// Each transaction re-reads the version under the write lock, so processes
// opening one file at the same time do not apply a migration twice.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := sqlrow.LoadMigrations(migrationFiles)
	if err != nil {
		return wrap("migrate", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, len(ms)); err != nil {
			return wrap("migrate", err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m sqlrow.Migration, latest int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no effect after Commit
	var have int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return err
	}
	switch {
	case have > latest:
		return fmt.Errorf("database schema version %d is newer than this program supports (%d)", have, latest)
	case have >= m.Version:
		return nil
	case have != m.Version-1:
		return fmt.Errorf("database schema version %d cannot take migration %s", have, m.Name)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	// PRAGMA takes no parameters; the version is an integer we formatted.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.Version)); err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	return tx.Commit()
}
