package pgstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/internal/storetest"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// openTest opens a store on a fresh schema, closed when t ends.
func openTest(t *testing.T) *Store {
	t.Helper()
	st, err := Open(t.Context(), pgtest.Schema(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}

// TestMigrateConcurrently opens one schema from several stores at once:
// exactly one applies each migration.
func TestMigrateConcurrently(t *testing.T) {
	dsn := pgtest.Schema(t)
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
	ms, err := sqlrow.LoadMigrations(migrationFiles)
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

// TestTwoInstances runs two stores, two pools, on one schema, as two
// instances of a host would: a nonce replayed concurrently on both is fresh
// exactly once, a session revoked on one is revoked on the other, and
// appends from both keep one intact chain.
func TestTwoInstances(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, err := Open(t.Context(), dsn)
	require.NoError(t, err)
	defer a.Close()
	b, err := Open(t.Context(), dsn)
	require.NoError(t, err)
	defer b.Close()
	stores := []*Store{a, b}

	var nonce [32]byte
	rand.Read(nonce[:])
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			ok, err := stores[i%2].ConsumeNonce(context.Background(), nonce, time.Now().Add(time.Hour))
			if assert.NoError(t, err) && ok {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, fresh.Load())

	now := time.Now()
	sess := session.Session{ID: security.NewID(session.IDPrefix), TokenHash: security.HashToken(security.NewToken()),
		UserID: 42, Kind: session.KindWeb, CreatedAt: now, LastActive: now, IdleTimeout: time.Hour,
		ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, a.CreateSession(t.Context(), sess, nil))
	require.NoError(t, a.RevokeSession(t.Context(), sess.ID, now, nil))
	got, err := b.SessionByTokenHash(t.Context(), sess.TokenHash)
	require.NoError(t, err)
	require.False(t, got.Live(now.Add(time.Second)))
	require.ErrorIs(t, b.RevokeSession(t.Context(), sess.ID, now, nil), security.ErrNotFound)

	for i := range 40 {
		wg.Go(func() {
			e := security.Event{Time: time.Now(), Type: security.EventLogout, Subject: fmt.Sprint(i)}
			assert.NoError(t, stores[i%2].RecordEvents(context.Background(), e, e))
		})
	}
	wg.Wait()
	res, err := b.VerifyEvents(t.Context())
	require.NoError(t, err)
	require.True(t, res.OK(), "%+v", res)
	require.EqualValues(t, 80, res.Head.ID)
}
