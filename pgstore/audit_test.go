package pgstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/security"
)

// tamperedStore returns a store holding 5 chained events, and runs sql on
// its database when asked.
func tamperedStore(t *testing.T) (*Store, func(sql string)) {
	t.Helper()
	st := openTest(t)
	for i := range 5 {
		require.NoError(t, st.RecordEvents(t.Context(), security.Event{Time: time.Now(),
			Type: security.EventLogout, Subject: fmt.Sprint(i)}))
	}
	res, err := st.VerifyEvents(t.Context())
	require.NoError(t, err)
	require.True(t, res.OK())
	return st, func(sql string) {
		_, err := st.pool.Exec(t.Context(), sql)
		require.NoError(t, err)
	}
}

func verifyBreak(t *testing.T, st *Store) *security.AuditBreak {
	t.Helper()
	res, err := st.VerifyEvents(t.Context())
	require.NoError(t, err)
	require.NotNil(t, res.Break, "chain reported intact")
	return res.Break
}

// TestAuditTamper checks what only this store can do to its own tables:
// edits, deletions in the middle and of the tail are reported.
func TestAuditTamper(t *testing.T) {
	pgtest.DSN(t)
	for _, tc := range []struct{ name, edit, detail string }{
		{"modified", `UPDATE events SET subject = 'forged' WHERE id = 3`, "does not match its hash"},
		{"details no longer JSON", `UPDATE events SET details = '{' WHERE id = 3`, "cannot be decoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, sql := tamperedStore(t)
			sql(tc.edit)
			b := verifyBreak(t, st)
			require.Equal(t, int64(3), b.ID)
			require.Equal(t, security.AuditModified, b.Problem)
			require.Contains(t, b.Detail, tc.detail)
		})
	}
	t.Run("removed", func(t *testing.T) {
		st, sql := tamperedStore(t)
		sql(`DELETE FROM events WHERE id = 2`)
		b := verifyBreak(t, st)
		require.Equal(t, security.AuditRemoved, b.Problem)
	})
	t.Run("truncated without anchor", func(t *testing.T) {
		st, sql := tamperedStore(t)
		sql(`DELETE FROM events WHERE id >= 4`)
		b := verifyBreak(t, st)
		require.Equal(t, security.AuditTruncated, b.Problem)
	})
	t.Run("append after truncation keeps the gap visible", func(t *testing.T) {
		st, sql := tamperedStore(t)
		sql(`DELETE FROM events WHERE id >= 4`)
		require.NoError(t, st.RecordEvents(t.Context(), security.Event{Time: time.Now(), Type: security.EventLogout}))
		evs, err := st.Events(t.Context())
		require.NoError(t, err)
		require.Equal(t, int64(6), evs[len(evs)-1].ID)
		verifyBreak(t, st)
	})
}

// TestAuditVerifyPages checks a chain longer than one page of
// VerifyEvents: intact, and broken at a page boundary.
func TestAuditVerifyPages(t *testing.T) {
	st := openTest(t)
	evs := make([]security.Event, 2*verifyPage+5)
	for i := range evs {
		evs[i] = security.Event{Time: time.Unix(int64(i), 0), Type: security.EventLogout, Subject: fmt.Sprint(i)}
	}
	require.NoError(t, st.RecordEvents(t.Context(), evs...))
	res, err := st.VerifyEvents(t.Context())
	require.NoError(t, err)
	require.True(t, res.OK(), "%v", res.Break)
	require.Equal(t, int64(len(evs)), res.Events)
	head, err := st.EventsHead(t.Context())
	require.NoError(t, err)
	require.Equal(t, head, res.Head)

	_, err = st.pool.Exec(t.Context(), `DELETE FROM events WHERE id = $1`, verifyPage+1)
	require.NoError(t, err)
	b := verifyBreak(t, st)
	require.Equal(t, int64(verifyPage+1), b.ID)
	require.Equal(t, security.AuditRemoved, b.Problem)
}
