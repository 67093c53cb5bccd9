package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// TestDroppedConnections ends every server connection of the store's pool
// (as a restarted or failed-over server would) and checks that the next
// reads and writes succeed on new connections rather than failing. Only
// this store's connections are ended (they carry an application_name of
// their own): other packages' tests may be using the same server.
func TestDroppedConnections(t *testing.T) {
	dsn := pgtest.Schema(t)
	b := make([]byte, 8)
	rand.Read(b)
	app := "propsec_reconnect_" + hex.EncodeToString(b)
	sep := "&" // pgtest.Schema's URL has a query (search_path)
	if !strings.Contains(dsn, "://") {
		sep = " "
	}
	st, err := Open(t.Context(), dsn+sep+"application_name="+app)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	for range 3 {
		ok, err := st.IsBlacklisted(t.Context(), 1)
		require.NoError(t, err)
		require.False(t, ok)
	}
	kill := func() {
		conn, err := pgx.Connect(t.Context(), dsn)
		require.NoError(t, err)
		defer conn.Close(t.Context())
		var n int
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND application_name = $1`, app).Scan(&n))
		require.Positive(t, n, "the store's connections were found")
		t.Logf("terminated %d connections", n)
	}
	kill()
	_, err = st.IsBlacklisted(t.Context(), 1)
	require.NoError(t, err, "read after dropped connections")
	kill()
	require.NoError(t, st.RecordEvents(t.Context(), security.Event{Time: time.Now(), Type: security.EventLogout}),
		"write after dropped connections")
	kill()
	require.NoError(t, st.TouchSession(t.Context(), "sess_none", time.Now()), "idempotent statement after dropped connections")
	kill()
	_, err = st.Blacklist(t.Context())
	require.NoError(t, err, "list after dropped connections")
	kill()
	_, _, err = st.ListSessions(t.Context(), session.ListQuery{Now: time.Now(), Limit: 10})
	require.NoError(t, err, "ListSessions after dropped connections")
}

// restartOps are operations of every kind the store runs: reads of one row
// and of many, read transactions, write transactions, and single
// statements that are and are not safe to run twice. Each returns nil
// where the store answered as it should while the server is up.
var restartOps = []struct {
	name string
	op   func(context.Context, *Store) error
}{
	{"row read", func(ctx context.Context, st *Store) error { _, err := st.IsBlacklisted(ctx, 1); return err }},
	{"row read, none found", func(ctx context.Context, st *Store) error {
		_, _, err := st.SessionUserByTokenHash(ctx, security.TokenHash{})
		if errors.Is(err, security.ErrNotFound) {
			return nil
		}
		return err
	}},
	{"rows read", func(ctx context.Context, st *Store) error { _, err := st.Blacklist(ctx); return err }},
	{"read transaction", func(ctx context.Context, st *Store) error {
		_, _, err := st.ListSessions(ctx, session.ListQuery{Now: time.Now(), Limit: 10})
		return err
	}},
	{"alerts read transaction", func(ctx context.Context, st *Store) error {
		_, _, err := st.ListAlerts(ctx, integrity.AlertQuery{Limit: 10})
		return err
	}},
	{"report", func(ctx context.Context, st *Store) error {
		_, err := st.CountEventsByDay(ctx, time.Now().Add(-time.Hour), time.Now(), []security.EventType{security.EventLogout})
		return err
	}},
	{"write transaction", func(ctx context.Context, st *Store) error {
		return st.RecordEvents(ctx, security.Event{Time: time.Now(), Type: security.EventLogout})
	}},
	{"login reservation", func(ctx context.Context, st *Store) error {
		_, err := st.ReserveLoginAttempt(ctx, []session.LoginLimit{{Key: "email:" + rand.Text(), Max: 5}},
			time.Now().Add(-time.Hour), time.Now())
		return err
	}},
	{"statement safe to repeat", func(ctx context.Context, st *Store) error {
		return st.TouchSession(ctx, "sess_none", time.Now())
	}},
	// Not retried after a lost connection: only the check of the socket
	// when the connection is taken (shouldPing) keeps it off a dead one.
	{"statement run at most once", func(ctx context.Context, st *Store) error {
		var h [32]byte
		rand.Read(h[:])
		_, err := st.ConsumeNonce(ctx, h, time.Now().Add(time.Hour))
		return err
	}},
}

// warm opens a store on dsn whose pool holds several idle connections,
// each used a moment ago (so that pgxpool's ping of connections idle for a
// second does not apply). When noPing is set, its pool never pings a
// connection it hands out, as if the socket could not be checked.
func warm(t *testing.T, dsn string, noPing bool) *Store {
	t.Helper()
	st, err := Open(t.Context(), dsn)
	require.NoError(t, err)
	if noPing {
		cfg := st.pool.Config()
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
		st.pool.Close()
		st.pool, err = pgxpool.NewWithConfig(t.Context(), cfg)
		require.NoError(t, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, err := st.pool.Exec(t.Context(), `SELECT pg_sleep(0.05)`)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	require.GreaterOrEqual(t, st.pool.Stat().IdleConns(), int32(2))
	return st
}

// TestRestart stops PostgreSQL as in a crash (pg_ctl stop -m immediate)
// and starts it again, with stores whose pools hold connections from
// before. While it is down, every operation fails with
// security.ErrUnavailable. Once it is back, the first operation of every
// kind on each store succeeds: the dead connections are found when taken
// from the pool (their sockets are at end of stream), so even a statement
// that is never run twice gets a live one. Without that check (noPing),
// reads and transactions still succeed at the first call: the failure on a
// dead connection resets the pool and the one retry runs on a new
// connection.
func TestRestart(t *testing.T) {
	c := pgtest.NewCluster(t)
	down := warm(t, c.DSN, false)
	back := make([]*Store, len(restartOps))
	backNoPing := make([]*Store, len(restartOps))
	for i := range restartOps {
		back[i] = warm(t, c.DSN, false)
		backNoPing[i] = warm(t, c.DSN, true)
	}
	c.Stop(t)
	for _, o := range restartOps {
		err := o.op(t.Context(), down)
		require.ErrorIs(t, err, security.ErrUnavailable, "%s while the server is down", o.name)
	}
	c.Start(t)
	for i, o := range restartOps {
		// As if the server had come back within a second of the
		// connections' last use, when pgxpool does not ping them.
		for _, conn := range back[i].pool.AcquireAllIdle(t.Context()) {
			conn.Release()
		}
		require.NoError(t, o.op(t.Context(), back[i]), "%s, first after the restart", o.name)
	}
	for i, o := range restartOps {
		err := o.op(t.Context(), backNoPing[i])
		if o.name == "statement run at most once" {
			// It may have met a dead connection: then the outcome is
			// unknown, and it says so.
			if err != nil {
				require.ErrorIs(t, err, security.ErrUnavailable, "%s, first after the restart without the socket check", o.name)
			}
			continue
		}
		require.NoError(t, err, "%s, first after the restart without the socket check", o.name)
	}
}
