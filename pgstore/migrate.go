package pgstore

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/propops/propsec/internal/sqlrow"
)

// migrationFiles holds the schema, one file per version: NNNN_name.sql,
// numbered from 0001 without gaps. Migrations are only ever added, never
// edited once released.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the key of the transaction-level advisory lock that
// migrations run under: "propsec" in ASCII.
const migrationLock int64 = 0x70726f7073656300

// migrate brings the schema up to date in one transaction that first takes
// an advisory lock: instances starting at the same time wait for each
// other, and the later ones find the schema current, so each migration is
// applied exactly once. PostgreSQL's DDL is transactional, so a failed
// migration leaves nothing behind.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := sqlrow.LoadMigrations(migrationFiles)
	if err != nil {
		return wrap("migrate", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS propsec_schema (
			version    integer PRIMARY KEY,
			name       text    NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM propsec_schema`).Scan(&have); err != nil {
			return err
		}
		if have > len(ms) {
			return fmt.Errorf("database schema version %d is newer than this program supports (%d)", have, len(ms))
		}
		for _, m := range ms[have:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO propsec_schema (version, name) VALUES ($1, $2)`,
				m.Version, m.Name); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return wrap("migrate", err)
	}
	return nil
}

// latestVersion is the number of migrations this program has.
var latestVersion = sqlrow.LatestVersion(migrationFiles)

// SchemaVersion returns the database's schema version and the latest one
// this program knows, with one query: cheap enough for a readiness probe,
// and an error when the server cannot be reached within ctx. Open brings
// the schema up to date, so current > latest means that a newer program,
// another instance on the same database, migrated it since.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	if latest, err = latestVersion(); err != nil {
		return 0, 0, wrap("schema version", err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM propsec_schema`).Scan(&current); err != nil {
		return 0, latest, wrap("schema version", err)
	}
	return current, latest, nil
}
