package sqlrow_test

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/sqlrow"
)

func TestLoadMigrationsChecksNames(t *testing.T) {
	ok := &fstest.MapFile{Data: []byte("CREATE TABLE t (x INTEGER);")}
	for _, tc := range []struct {
		name    string
		files   fstest.MapFS
		wantErr string
	}{
		{"sequential", fstest.MapFS{"migrations/0001_a.sql": ok, "migrations/0002_b.sql": ok}, ""},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": ok, "migrations/0003_c.sql": ok}, "want version 2"},
		{"starts at 2", fstest.MapFS{"migrations/0002_a.sql": ok}, "want version 1"},
		{"no number", fstest.MapFS{"migrations/init.sql": ok}, "NNNN_name.sql"},
		{"short number", fstest.MapFS{"migrations/1_init.sql": ok}, "NNNN_name.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := sqlrow.LoadMigrations(tc.files)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			for i, m := range ms {
				assert.Equal(t, i+1, m.Version)
			}
		})
	}
}
