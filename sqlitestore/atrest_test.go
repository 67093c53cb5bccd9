package sqlitestore

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/blake3"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/storetest"
)

// secretFile writes a 0600 config.env holding a distinctive password under
// a new root, and another file, and returns the root and the password.
func secretFile(t *testing.T) (root, password string) {
	root = t.TempDir()
	password = "hunter2-" + rand.Text()
	require.NoError(t, os.WriteFile(filepath.Join(root, "config.env"),
		[]byte("DB_HOST=db.internal\nDB_USER=app\nDB_PASSWORD="+password+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(root, "README"), []byte("nothing secret here\n"), 0o644))
	return root, password
}

// setPassword rewrites config.env with a new password.
func setPassword(t *testing.T, root, password string) {
	require.NoError(t, os.WriteFile(filepath.Join(root, "config.env"),
		[]byte("DB_HOST=db.internal\nDB_USER=app\nDB_PASSWORD="+password+"\n"), 0o600))
}

// requireNowhere fails if any of secrets is in the database at path, its
// -wal or its -shm (those that exist), byte for byte.
func requireNowhere(t *testing.T, path, when string, secrets ...string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		data, err := os.ReadFile(p)
		if os.IsNotExist(err) && p != path {
			continue
		}
		require.NoError(t, err)
		for _, s := range secrets {
			assert.False(t, bytes.Contains(data, []byte(s)), "%s: %s holds %q", when, filepath.Base(p), s)
		}
	}
}

// scanOne scans and returns the one alert it raised.
func scanOne(t *testing.T, mon *integrity.Monitor) integrity.Alert {
	t.Helper()
	c, err := mon.Scan(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 1, c.ViolationsFound)
	as, _, err := mon.Alerts(t.Context(), integrity.ListOptions{})
	require.NoError(t, err)
	for _, a := range as {
		if a.CheckID == c.ID {
			return a
		}
	}
	t.Fatalf("no alert of %s", c.ID)
	return integrity.Alert{}
}

// TestIntegrityContentEncryptedAtRest proves, on a real database file,
// that after a baseline, a scan, a diff, an accept and another scan and
// diff, none of the passwords a watched 0600 file held is anywhere in the
// database, its WAL or its shared memory file (while open and after
// closing), that the diffs show them, and that a copy moved under another
// content hash with SQL is refused. It fails with the integrity package
// storing copies in the clear (one password is found in the -wal).
func TestIntegrityContentEncryptedAtRest(t *testing.T) {
	root, first := secretFile(t)
	st, path := openTemp(t)
	mon := newIntegrityMonitor(t, st, root)
	_, err := mon.Init(t.Context())
	skipUnsupported(t, err)
	require.NoError(t, err)
	requireNowhere(t, path, "after the baseline", first)

	second := "swordfish-" + rand.Text()
	setPassword(t, root, second)
	a := scanOne(t, mon)
	d, err := mon.Diff(t.Context(), a.ID)
	require.NoError(t, err)
	assert.Contains(t, d.Text, "-DB_PASSWORD="+first+"\n+DB_PASSWORD="+second+"\n")
	requireNowhere(t, path, "after a scan", first, second)

	require.NoError(t, mon.AcceptAlert(t.Context(), integrity.Actor{UserID: 1}, a.ID))
	requireNowhere(t, path, "after an accept", first, second)

	third := "correct-horse-" + rand.Text()
	setPassword(t, root, third)
	a = scanOne(t, mon)
	d, err = mon.Diff(t.Context(), a.ID)
	require.NoError(t, err)
	assert.Contains(t, d.Text, "-DB_PASSWORD="+second+"\n+DB_PASSWORD="+third+"\n")
	requireNowhere(t, path, "after the second scan", first, second, third)

	// Someone with the file points config.env's hash at README's copy.
	sqlExec(t, st, `UPDATE integrity_content SET data_id = (SELECT min(data_id) FROM integrity_content)
		WHERE data_id = (SELECT max(data_id) FROM integrity_content)`)
	var copies int
	require.NoError(t, st.w.QueryRowContext(t.Context(), `SELECT count(DISTINCT data_id) FROM integrity_content`).Scan(&copies))
	require.Equal(t, 1, copies)
	d, err = mon.Diff(t.Context(), a.ID)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(d.Text, "not diffed: the stored known-good copy failed decryption"), d.Text)

	require.NoError(t, mon.Close())
	require.NoError(t, st.Close())
	requireNowhere(t, path, "after closing", first, second, third)
}

// TestIntegrityPlaintextCopiesPurged builds a database of the previous
// format (schema version 4, the copies in plaintext), checks that it
// discloses the password, then opens it: migration 0005 drops the copies
// so that the password is in none of the three files, the diff says the
// content is not stored, and the next accepted state is stored encrypted
// and diffed. It fails without the migration (the password is still in
// the database) and without its secure_delete (it is in a free page).
func TestIntegrityPlaintextCopiesPurged(t *testing.T) {
	root, password := secretFile(t)
	path := filepath.Join(t.TempDir(), "propsec.db")
	st, err := Open(t.Context(), path)
	require.NoError(t, err)
	mon, err := integrity.New(integrity.Config{Store: st, Key: integrityKey, Roots: []string{root}})
	require.NoError(t, err)
	_, err = mon.Init(t.Context())
	skipUnsupported(t, err)
	require.NoError(t, err)
	// What version 4 stored: each copy in the clear.
	for _, name := range []string{"config.env", "README"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		require.NoError(t, err)
		_, err = st.w.ExecContext(t.Context(), `UPDATE integrity_content_data SET data = ?
			WHERE id = (SELECT data_id FROM integrity_content WHERE hash = ?)`, data, hashOf(data))
		require.NoError(t, err)
	}
	// Back to schema version 4: the later migrations run again on Open.
	later, err := storetest.TablesAfter(migrationFiles, 4)
	require.NoError(t, err)
	for _, table := range later {
		sqlExec(t, st, "DROP TABLE "+table)
	}
	sqlExec(t, st, "PRAGMA user_version = 4")
	require.NoError(t, mon.Close())
	require.NoError(t, st.Close())
	old, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Contains(old, []byte(password)), "the fixture holds the password in the clear")

	st, err = Open(t.Context(), path)
	require.NoError(t, err)
	defer st.Close()
	var version int
	require.NoError(t, st.w.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&version))
	require.GreaterOrEqual(t, version, 5, "migration 0005 ran")
	requireNowhere(t, path, "after the migration", password)

	mon = newIntegrityMonitor(t, st, root)
	next := "swordfish-" + rand.Text()
	setPassword(t, root, next)
	a := scanOne(t, mon)
	d, err := mon.Diff(t.Context(), a.ID)
	require.NoError(t, err)
	assert.Equal(t, "not diffed: the known-good content is not stored", d.Text)
	require.NoError(t, mon.AcceptAlert(t.Context(), integrity.Actor{UserID: 1}, a.ID))

	setPassword(t, root, "again")
	a = scanOne(t, mon)
	d, err = mon.Diff(t.Context(), a.ID)
	require.NoError(t, err)
	assert.Contains(t, d.Text, fmt.Sprintf("-DB_PASSWORD=%s\n+DB_PASSWORD=again\n", next))
	requireNowhere(t, path, "after accepting", password, next)
}

// hashOf is the content hash integrity stores a copy under.
func hashOf(data []byte) []byte {
	h := blake3.Sum256(data)
	return h[:]
}
