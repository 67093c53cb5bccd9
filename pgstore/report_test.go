package pgstore

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestCountEventsByDayUsesIndex checks that the count can be served by the
// index events_type_time alone: with sequential scans disabled, the plan
// reads the index, and never the table's rows.
func TestCountEventsByDayUsesIndex(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	var plan []string
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `EXPLAIN `+countEventsByDaySQL, []string{"login_failed", "logout"},
			int64(0), int64(1), nanosPerDay)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	require.NoError(t, err)
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "Index Only Scan using events_type_time on events") || strings.Contains(text, "Seq Scan") {
		t.Errorf("plan:\n%s", text)
	}
}
