package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/storetest"
)

// testDSN returns the DSN of the test server, or skips t when
// PROPSEC_TEST_POSTGRES is unset.
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("PROPSEC_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PROPSEC_TEST_POSTGRES not set: set it to a PostgreSQL DSN (postgres://user@127.0.0.1:port/db) to run the pgstore tests")
	}
	return dsn
}

// withSearchPath returns dsn with its search_path set to schema.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// freshSchema creates an empty schema, dropped when t ends, and returns the
// DSN that selects it.
func freshSchema(t *testing.T) string {
	t.Helper()
	dsn := testDSN(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "propsec_test_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, dsn, schema)
}

// openTest opens a store on a fresh schema, closed when t ends.
func openTest(t *testing.T) *Store {
	t.Helper()
	st, err := Open(t.Context(), freshSchema(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}

// TestMigrateConcurrently opens one schema from several stores at once:
// exactly one applies each migration.
func TestMigrateConcurrently(t *testing.T) {
	dsn := freshSchema(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*Store, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		defer stores[i].Close()
	}
	ms, err := loadMigrations(migrationFiles)
	require.NoError(t, err)
	var rows, max int
	require.NoError(t, stores[0].pool.QueryRow(t.Context(),
		`SELECT count(*), max(version) FROM propsec_schema`).Scan(&rows, &max))
	require.Equal(t, len(ms), rows)
	require.Equal(t, len(ms), max)
	// Opening again applies nothing.
	st, err := Open(t.Context(), dsn)
	require.NoError(t, err)
	st.Close()
}
