//go:build unix

package sqlitestore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
)

// withUmask runs the rest of the test under umask mask. The umask is the
// process's: tests that use it are not parallel.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// requireModes checks that the database at path, its -wal and its -shm all
// exist and have mode want.
func requireModes(t *testing.T, path string, want fs.FileMode, when string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		require.NoError(t, err, "%s: %s", when, p)
		assert.Equal(t, want, fi.Mode().Perm(), "%s: mode of %s", when, filepath.Base(p))
	}
}

// writeSomething commits a write through the store, so that the WAL is
// used.
func writeSomething(t *testing.T, st *Store, i int) {
	t.Helper()
	require.NoError(t, st.RecordEvents(t.Context(), security.Event{Type: "test.write",
		Time: time.Unix(int64(1_700_000_000+i), 0), Subject: "x"}))
}

// TestOpenCreatesPrivateFiles proves that under the usual umask 022, a
// looser 002, a strict 077 and one that takes the owner's write bit (277),
// the database and the -wal and -shm files SQLite creates later are 0600:
// when created, after a checkpoint that truncates the WAL and a write that
// grows it again, and after closing (which removes the side files) and
// reopening. Without createPrivate they are 0644 (0664); without its
// chmod, 0400 under umask 277.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	for _, mask := range []int{0o022, 0o002, 0o077, 0o277} {
		t.Run(fmt.Sprintf("umask=%03o", mask), func(t *testing.T) {
			withUmask(t, mask)
			path := filepath.Join(t.TempDir(), "propsec.db")
			st, err := Open(t.Context(), path)
			require.NoError(t, err)
			writeSomething(t, st, 1)
			requireModes(t, path, 0o600, "after open")

			_, err = st.w.ExecContext(t.Context(), "PRAGMA wal_checkpoint(TRUNCATE)")
			require.NoError(t, err)
			writeSomething(t, st, 2)
			requireModes(t, path, 0o600, "after a checkpoint")

			require.NoError(t, st.Close())
			st, err = Open(t.Context(), path)
			require.NoError(t, err)
			defer st.Close()
			writeSomething(t, st, 3)
			requireModes(t, path, 0o600, "after reopening")
		})
	}
}

// TestOpenWarnsAboutReadableDatabase proves that opening an existing
// database that group or others can read logs one warning naming the
// files and the chmod that fixes them, and that a private one logs
// nothing.
func TestOpenWarnsAboutReadableDatabase(t *testing.T) {
	withUmask(t, 0o022)
	for _, c := range []struct {
		name string
		mode fs.FileMode
		warn bool
	}{
		{"private", 0o600, false},
		{"group readable", 0o640, true},
		{"world readable", 0o644, true},
		{"group writable", 0o620, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "it's here")
			require.NoError(t, os.Mkdir(dir, 0o700))
			path := filepath.Join(dir, "propsec.db")
			st, err := Open(t.Context(), path)
			require.NoError(t, err)
			require.NoError(t, st.Close())
			require.NoError(t, os.Chmod(path, c.mode))

			warnings := openLogged(t, path)
			if !c.warn {
				assert.Empty(t, warnings)
				return
			}
			require.Len(t, warnings, 1)
			assert.Equal(t, "WARN", warnings[0]["level"])
			assert.Equal(t, path, warnings[0]["files"])
			assert.Equal(t, "chmod 600 '"+strings.ReplaceAll(path, "'", `'\''`)+"'", warnings[0]["fix"])
		})
	}
}

// openLogged opens and closes the database at path and returns what it
// logged.
func openLogged(t *testing.T, path string) []map[string]any {
	t.Helper()
	var logs bytes.Buffer
	st, err := OpenWith(context.Background(), path, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	var out []map[string]any
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		out = append(out, rec)
	}
	return out
}

// TestOpenWarnsAboutReadableSideFiles proves that a -wal left readable (by
// an earlier version, or a crash) is named in the warning with the
// database, which is private.
func TestOpenWarnsAboutReadableSideFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "propsec.db")
	st, err := Open(t.Context(), path)
	require.NoError(t, err)
	writeSomething(t, st, 1)
	require.NoError(t, os.Chmod(path+"-wal", 0o644))

	warnings := openLogged(t, path)
	require.NoError(t, st.Close())
	require.Len(t, warnings, 1)
	assert.Equal(t, path+"-wal", warnings[0]["files"])
	assert.Equal(t, "chmod 600 "+path+"-wal", warnings[0]["fix"])
}
