package pgstore

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// TestDroppedConnections ends every server connection of the store's pool
// (as a restarted or failed-over server would) and checks that the next
// reads and writes succeed on new connections rather than failing.
func TestDroppedConnections(t *testing.T) {
	dsn := freshSchema(t)
	st := openTest(t)
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
			WHERE pid <> pg_backend_pid() AND datname = current_database() AND backend_type = 'client backend'`).Scan(&n))
		t.Logf("terminated %d connections", n)
	}
	kill()
	_, err := st.IsBlacklisted(t.Context(), 1)
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
