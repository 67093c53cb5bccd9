package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/pgtest"
)

// TestPostgres: the CLI on a PostgreSQL URL (from $PROPSEC_DB) while the
// server runs on the same schema: users, a terminate the server sees,
// report, and audit verify. Skipped without PROPSEC_TEST_POSTGRES.
func TestPostgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	users := filepath.Join(t.TempDir(), "users.json")
	writeUsers(t, users, `[{"id":1,"name":"Ops","email":"`+adminEmail+`","password":"`+adminPass+`","account_type":"staff"}]`)
	base, _ := startServer(t, "-db", dsn, "-users", users)
	token, code := login(t, base, adminEmail, adminPass)
	require.Equal(t, 200, code)

	r := propsec(t, dsn, 0, "", "users", "list")
	require.Contains(t, r.stdout, adminEmail)
	r = propsec(t, dsn, 0, "", "sessions", "list", "-json")
	var s struct {
		ID string `json:"session_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.Split(r.stdout, "\n")[0]), &s))
	propsec(t, dsn, 0, "", "sessions", "terminate", s.ID)
	require.Equal(t, 401, me(t, base, token))
	propsec(t, dsn, 0, "", "report", "-format", "csv")
	r = propsec(t, dsn, 0, "", "audit", "verify")
	require.Contains(t, r.stdout, "ok: ")
	e, ok := lastOfType(exported(t, dsn), "session_terminated")
	require.True(t, ok)
	requireOperator(t, e)
	// No key file beside a URL: integrity needs the key given.
	r = propsec(t, dsn, 1, "", "integrity", "init", "-watch", t.TempDir())
	require.Contains(t, r.stderr, "PROPSEC_INTEGRITY_KEY")
}
