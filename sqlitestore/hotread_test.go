package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// hotFixture is a store holding one user and one live session.
func hotFixture(t *testing.T) (*Store, session.Session) {
	t.Helper()
	st, _ := openTemp(t)
	u := session.User{Principal: security.Principal{UserID: 7, Name: "Hot Reader", Email: "hot@example.com",
		AccountType: security.AccountStaff, Permissions: []security.Permission{security.PermSessionsManage}}}
	require.NoError(t, st.UpsertUser(t.Context(), u))
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := session.Session{ID: security.NewID(session.IDPrefix), TokenHash: security.HashToken(security.NewToken()),
		UserID: u.UserID, Kind: session.KindWeb, IP: "203.0.113.10", UserAgent: "test", CreatedAt: now,
		LastActive: now, IdleTimeout: time.Hour, ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, st.CreateSession(t.Context(), s, nil))
	return st, s
}

// The hot reads see every committed write at once: a revocation made
// through the writer is visible to the very next read on every hot
// connection (no read transaction is left open between queries).
func TestHotReadSeesCommittedWrites(t *testing.T) {
	st, s := hotFixture(t)
	// Open several hot connections, each having read the live session.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, u, err := st.SessionUserByTokenHash(t.Context(), s.TokenHash)
			assert.NoError(t, err)
			assert.True(t, got.RevokedAt.IsZero())
			assert.Equal(t, "Hot Reader", u.Name)
		})
	}
	wg.Wait()
	at := time.Now().UTC().Truncate(time.Microsecond)
	require.NoError(t, st.RevokeSession(t.Context(), s.ID, at, nil))
	for range 2 * cap(st.hot.idle) {
		got, _, err := st.SessionUserByTokenHash(t.Context(), s.TokenHash)
		require.NoError(t, err)
		require.True(t, at.Equal(got.RevokedAt), "revoked_at = %v", got.RevokedAt)
		got, err = st.SessionByTokenHash(t.Context(), s.TokenHash)
		require.NoError(t, err)
		require.True(t, at.Equal(got.RevokedAt))
	}
	u, err := st.UserByID(t.Context(), 7)
	require.NoError(t, err)
	assert.Equal(t, []security.Permission{security.PermSessionsManage}, u.Permissions)

	_, _, err = st.SessionUserByTokenHash(t.Context(), security.HashToken(security.NewToken()))
	assert.ErrorIs(t, err, security.ErrNotFound, "an unknown token is not found")
	_, err = st.UserByID(t.Context(), 8)
	assert.ErrorIs(t, err, security.ErrNotFound)
}

// Many concurrent reads never open more connections than the pool allows,
// and all of them are back in the pool afterwards.
func TestHotReadPoolBound(t *testing.T) {
	st, s := hotFixture(t)
	h := st.hot
	var (
		mu   sync.Mutex
		most int
		wg   sync.WaitGroup
	)
	for range 64 {
		wg.Go(func() {
			for range 20 {
				_, _, err := st.SessionUserByTokenHash(t.Context(), s.TokenHash)
				assert.NoError(t, err)
				n := len(h.slot) // connections open or opening
				mu.Lock()
				most = max(most, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, most, cap(h.idle))
	assert.Positive(t, len(h.slot))
	assert.Equal(t, len(h.slot), len(h.idle), "every open connection is idle again")
}

// A done context fails before the query; waiting for a connection ends
// with the context; after Close, reads fail and no connection stays open.
func TestHotReadContextAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hot.db")
	st, err := Open(t.Context(), path)
	require.NoError(t, err)
	h := st.hot

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = st.SessionByTokenHash(ctx, security.TokenHash{})
	require.ErrorIs(t, err, context.Canceled)

	// Take every connection, then wait for one in vain.
	var held []*hotConn
	for range cap(h.idle) {
		c, err := h.get(t.Context())
		require.NoError(t, err)
		held = append(held, c)
	}
	short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = st.UserByID(short, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, st.Close())
	for _, c := range held {
		h.put(c, false) // in use during Close: closed when given back
	}
	assert.Empty(t, h.slot, "no connection left open")
	assert.Empty(t, h.idle)
	_, err = st.UserByID(t.Context(), 1)
	require.ErrorIs(t, err, errHotReaderClosed)
}

// valueScanner converts what the row codecs scan into as database/sql
// would, and refuses what database/sql would refuse.
func TestValueScanner(t *testing.T) {
	var (
		s   string
		b   []byte
		n   int64
		nn  sql.NullInt64
		bad int
	)
	require.NoError(t, valueScanner{"text", []byte("blob"), int64(42), nil}.Scan(&s, &b, &n, &nn))
	assert.Equal(t, "text", s)
	assert.Equal(t, []byte("blob"), b)
	assert.Equal(t, int64(42), n)
	assert.False(t, nn.Valid)
	require.NoError(t, valueScanner{[]byte("t"), "b", int64(-1)}.Scan(&s, &b, &nn))
	assert.Equal(t, "t", s)
	assert.Equal(t, []byte("b"), b)
	assert.Equal(t, sql.NullInt64{Int64: -1, Valid: true}, nn)

	for name, c := range map[string]struct {
		v    driver.Value
		dest any
	}{
		"NULL into a string":    {nil, &s},
		"NULL into an int64":    {nil, &n},
		"text into an int64":    {"42", &n},
		"float into an int64":   {1.5, &n},
		"int64 into a string":   {int64(1), &s},
		"int64 into bytes":      {int64(1), &b},
		"unsupported dest":      {int64(1), &bad},
		"text into a NullInt64": {"x", &nn},
	} {
		assert.Error(t, valueScanner{c.v}.Scan(c.dest), name)
	}
	assert.Error(t, valueScanner{int64(1), int64(2)}.Scan(&n), "column count mismatch")
}

// A row whose value does not convert is an error for that read only: the
// connection is kept and the next read works.
func TestHotReadBadRowKeepsConnection(t *testing.T) {
	st, s := hotFixture(t)
	_, err := st.w.ExecContext(t.Context(), `UPDATE users SET permissions = 'not json' WHERE id = 7`)
	require.NoError(t, err)
	_, _, err = st.SessionUserByTokenHash(t.Context(), s.TokenHash)
	require.Error(t, err)
	require.Equal(t, 1, len(st.hot.slot), "the connection survived a bad row")
	_, err = st.w.ExecContext(t.Context(), `UPDATE users SET permissions = '[]' WHERE id = 7`)
	require.NoError(t, err)
	_, u, err := st.SessionUserByTokenHash(t.Context(), s.TokenHash)
	require.NoError(t, err)
	assert.Empty(t, u.Permissions)
}
