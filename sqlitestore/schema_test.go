package sqlitestore

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/sqlrow"
)

// SchemaVersion reads the version from the database: current after Open,
// what another process set it to later, and an error once closed.
func TestSchemaVersion(t *testing.T) {
	ctx := context.Background()
	ms, err := sqlrow.LoadMigrations(migrationFiles)
	require.NoError(t, err)
	st, _ := openTemp(t)

	cur, latest, err := st.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, len(ms), latest)
	require.Equal(t, latest, cur)

	// A newer program migrated the file since.
	_, err = st.w.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(ms)+1))
	require.NoError(t, err)
	cur, latest, err = st.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, len(ms)+1, cur)
	require.Equal(t, len(ms), latest)

	require.NoError(t, st.Close())
	_, _, err = st.SchemaVersion(ctx)
	require.Error(t, err, "a closed store cannot answer")
}
