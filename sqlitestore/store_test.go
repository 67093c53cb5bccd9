package sqlitestore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/internal/storetest"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// openTemp opens a store on a new file in t's temporary directory.
func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "propsec.db")
	st, err := Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	return st, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		st, _ := openTemp(t)
		return st
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir with space?and#marks", "propsec.db")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	ctx := t.Context()
	st, err := Open(ctx, path)
	require.NoError(t, err)
	s := session.Session{ID: "sess_keep", TokenHash: security.HashToken("keep"), UserID: 1, Kind: session.KindWeb,
		CreatedAt: time.Unix(1, 2), LastActive: time.Unix(1, 2), IdleTimeout: time.Hour, ExpiresAt: time.Unix(1e9, 0)}
	require.NoError(t, st.CreateSession(ctx, s, []security.Event{{Time: time.Unix(1, 2), Type: security.EventLogout}}))
	require.NoError(t, st.Close())
	_, err = os.Stat(path)
	require.NoError(t, err, "the file is where the path says, special characters and all")

	for range 2 { // opening an up-to-date database migrates nothing
		st, err = Open(ctx, path)
		require.NoError(t, err)
		got, err := st.SessionByTokenHash(ctx, s.TokenHash)
		require.NoError(t, err)
		assert.Equal(t, s.ID, got.ID)
		evs, err := st.Events(ctx)
		require.NoError(t, err)
		assert.Len(t, evs, 1)
		var version int
		require.NoError(t, st.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
		ms, err := sqlrow.LoadMigrations(migrationFiles)
		require.NoError(t, err)
		assert.Equal(t, len(ms), version)
		require.NoError(t, st.Close())
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	st, path := openTemp(t)
	_, err := st.w.ExecContext(t.Context(), "PRAGMA user_version = 9999")
	require.NoError(t, err)
	_, err = Open(t.Context(), path)
	assert.ErrorContains(t, err, "newer")
}

func TestOpenRefusesNoPath(t *testing.T) {
	for _, p := range []string{"", ":memory:"} {
		_, err := Open(t.Context(), p)
		assert.Error(t, err, "path %q", p)
	}
}

func TestConnectionSettings(t *testing.T) {
	st, _ := openTemp(t)
	ctx := t.Context()
	pragma := func(db *sql.DB, name string) string {
		var v string
		require.NoError(t, db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v))
		return v
	}
	for _, tc := range []struct {
		db         *sql.DB
		name, want string
	}{
		{st.w, "journal_mode", "wal"},
		{st.w, "synchronous", "2"}, // FULL
		{st.w, "foreign_keys", "1"},
		{st.w, "busy_timeout", "10000"},
		{st.w, "query_only", "0"},
		{st.r, "journal_mode", "wal"},
		{st.r, "foreign_keys", "1"},
		{st.r, "busy_timeout", "10000"},
		{st.r, "query_only", "1"},
	} {
		assert.Equal(t, tc.want, pragma(tc.db, tc.name), tc.name)
	}
	_, err := st.r.ExecContext(ctx, `DELETE FROM sessions`)
	assert.Error(t, err, "readers cannot write")
}

// The nonce connection alone commits with synchronous=NORMAL: a nonce
// consumed on it leaves the writer's setting, and so every other write's
// durability, at FULL.
func TestNonceConnectionSettings(t *testing.T) {
	st, path := openTemp(t)
	ctx := t.Context()
	fresh, err := st.ConsumeNonce(ctx, [32]byte{7}, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.True(t, fresh)

	// The DSN the nonce connection is opened with.
	db, err := sql.Open("sqlite", nonceDSN(path))
	require.NoError(t, err)
	defer db.Close()
	nonceDB := func(name string) string {
		var v string
		require.NoError(t, db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v))
		return v
	}
	// The connections themselves.
	nonceConn := func(q hotQuery) func(string) string {
		return func(string) string {
			var v string
			require.NoError(t, st.nonces.row(ctx, q, func(sc scanner) error {
				if q == nonceSynchronous {
					var n int64
					err := sc.Scan(&n)
					v = strconv.FormatInt(n, 10)
					return err
				}
				return sc.Scan(&v)
			}))
			return v
		}
	}
	writer := func(name string) string {
		var v string
		require.NoError(t, st.w.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v))
		return v
	}
	for _, tc := range []struct {
		conn, name, want string
		get              func(string) string
	}{
		{"nonce DSN", "journal_mode", "wal", nonceDB},
		{"nonce DSN", "synchronous", "1", nonceDB}, // NORMAL
		{"nonce DSN", "foreign_keys", "1", nonceDB},
		{"nonce DSN", "busy_timeout", "10000", nonceDB},
		{"nonce connection", "journal_mode", "wal", nonceConn(nonceJournalMode)},
		{"nonce connection", "synchronous", "1", nonceConn(nonceSynchronous)},
		{"writer", "synchronous", "2", writer}, // FULL
	} {
		assert.Equal(t, tc.want, tc.get(tc.name), "%s: %s", tc.conn, tc.name)
	}
}

// A consumed nonce is in the file: it stays used after the store is
// closed and opened again, and one consumed elsewhere stays fresh.
func TestNonceStaysUsedAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "propsec.db")
	exp := time.Now().Add(time.Hour)
	used := [][32]byte{{1}, {2}, {3}}
	st, err := Open(t.Context(), path)
	require.NoError(t, err)
	for _, n := range used {
		fresh, err := st.ConsumeNonce(t.Context(), n, exp)
		require.NoError(t, err)
		require.True(t, fresh)
	}
	require.NoError(t, st.Close())

	st, err = Open(t.Context(), path)
	require.NoError(t, err)
	defer st.Close()
	for _, tc := range []struct {
		name  string
		nonce [32]byte
		fresh bool
	}{
		{"first used before", used[0], false},
		{"last used before", used[2], false},
		{"never used", [32]byte{4}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh, err := st.ConsumeNonce(t.Context(), tc.nonce, exp)
			require.NoError(t, err)
			assert.Equal(t, tc.fresh, fresh)
		})
	}
}

func TestErrorsAfterCloseAreNotNotFound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "propsec.db")
	st, err := Open(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"SessionByTokenHash": func() error { _, err := st.SessionByTokenHash(ctx, security.TokenHash{}); return err },
		"SessionByID":        func() error { _, err := st.SessionByID(ctx, "sess_x"); return err },
		"UserByID":           func() error { _, err := st.UserByID(ctx, 1); return err },
		"UserByEmail":        func() error { _, err := st.UserByEmail(ctx, "a@example.com"); return err },
		"RevokeSession":      func() error { return st.RevokeSession(ctx, "sess_x", time.Now(), nil) },
		"RemoveBlacklist":    func() error { return st.RemoveBlacklist(ctx, 1, nil) },
		"SetPasswordHash":    func() error { return st.SetPasswordHash(ctx, 1, "x") },
	} {
		err := call()
		assert.Error(t, err, name)
		assert.NotErrorIs(t, err, security.ErrNotFound, name)
	}
}

// Two stores on one file behave like two processes sharing it.
func TestTwoStoresShareOneFile(t *testing.T) {
	a, path := openTemp(t)
	b, err := Open(t.Context(), path)
	require.NoError(t, err)
	defer b.Close()
	ctx := t.Context()

	s := session.Session{ID: "sess_shared", TokenHash: security.HashToken("shared"), UserID: 1,
		LastActive: time.Now(), IdleTimeout: time.Hour, ExpiresAt: time.Now().Add(time.Hour)}
	require.NoError(t, a.CreateSession(ctx, s, nil))
	require.NoError(t, b.RevokeSession(ctx, s.ID, time.Now(), nil))
	got, err := a.SessionByTokenHash(ctx, s.TokenHash)
	require.NoError(t, err)
	assert.False(t, got.RevokedAt.IsZero(), "a revocation through one store is seen at once through the other")

	nonce := [32]byte{1}
	fresh := make(chan bool, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			st := a
			if i%2 == 1 {
				st = b
			}
			ok, err := st.ConsumeNonce(ctx, nonce, time.Now().Add(time.Hour))
			assert.NoError(t, err)
			fresh <- ok
		})
	}
	wg.Wait()
	close(fresh)
	n := 0
	for ok := range fresh {
		if ok {
			n++
		}
	}
	assert.Equal(t, 1, n)

	ka, err := a.Secret(ctx, "k", 32)
	require.NoError(t, err)
	kb, err := b.Secret(ctx, "k", 32)
	require.NoError(t, err)
	assert.Equal(t, ka, kb)
}

// insertSessions stores ss in one transaction, which is far quicker than
// one CreateSession each.
func insertSessions(t testing.TB, st *Store, ss []session.Session) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, st.write(ctx, "insert sessions", func(tx *sql.Tx) error {
		for _, s := range ss {
			if _, err := insertSession(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	}))
}
