package pgstore

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

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
