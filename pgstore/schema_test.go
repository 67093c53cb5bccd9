package pgstore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/sqlrow"
)

// SchemaVersion reads the version from the database: current after Open,
// what a newer instance made it later, and an error once the pool is
// closed.
func TestSchemaVersion(t *testing.T) {
	ctx := t.Context()
	ms, err := sqlrow.LoadMigrations(migrationFiles)
	require.NoError(t, err)
	st := openTest(t)

	cur, latest, err := st.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, len(ms), latest)
	require.Equal(t, latest, cur)

	_, err = st.pool.Exec(ctx, `INSERT INTO propsec_schema (version, name) VALUES ($1, 'from a newer program')`, len(ms)+1)
	require.NoError(t, err)
	cur, latest, err = st.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, len(ms)+1, cur)
	require.Equal(t, len(ms), latest)

	require.NoError(t, st.Close())
	_, _, err = st.SchemaVersion(ctx)
	require.Error(t, err, "a closed store cannot answer")
}
