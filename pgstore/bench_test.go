package pgstore

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/internal/sqlrow"
	"github.com/propops/propsec/internal/storebench"
	"github.com/propops/propsec/session"
)

// The benchmarks of sqlitestore's bench_test.go, under the same names and
// on the same data (internal/storebench), so that benchstat sets the two
// stores side by side: see bench/stores.sh. They skip when
// PROPSEC_TEST_POSTGRES is unset.

// benchStore opens a store on a fresh schema filled with storebench.Data
// and returns it with the sessions and their credentials.
func benchStore(b *testing.B) (*Store, []session.Session, []string) {
	b.Helper()
	st, err := Open(b.Context(), pgtest.Schema(b))
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	users, sessions, tokens := storebench.Data()
	urows := make([][]any, len(users))
	for i, u := range users {
		key, perms, err := sqlrow.UserValues(u)
		require.NoError(b, err)
		urows[i] = []any{u.UserID, u.Name, u.Email, string(u.AccountType), perms, u.PasswordHash, key}
	}
	srows := make([][]any, len(sessions))
	for i, s := range sessions {
		srows[i] = sqlrow.SessionArgs(s)
	}
	// One COPY per table in one transaction: UpsertUser and CreateSession
	// would be one commit per row.
	ctx := b.Context()
	require.NoError(b, st.write(ctx, "fill", func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"users"}, columns(userCols+", email_key"), pgx.CopyFromRows(urows)); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"sessions"}, columns(sessionCols), pgx.CopyFromRows(srows))
		return err
	}))
	_, err = st.pool.Exec(ctx, `ANALYZE users; ANALYZE sessions`)
	require.NoError(b, err)
	return st, sessions, tokens
}

// columns splits a comma-separated column list.
func columns(cols string) []string {
	var out []string
	for c := range strings.SplitSeq(cols, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

func BenchmarkSessionByTokenHash(b *testing.B) {
	st, sessions, _ := benchStore(b)
	storebench.SessionByTokenHash(b, st, sessions)
}

func BenchmarkUserByID(b *testing.B) {
	st, sessions, _ := benchStore(b)
	storebench.UserByID(b, st, sessions)
}

// BenchmarkAuthenticate measures session.Manager.Authenticate, the read
// every authenticated request makes: one round trip, the session joined
// to its user (session.SessionUserLoader).
func BenchmarkAuthenticate(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		st, _, tokens := benchStore(b)
		storebench.Authenticate(b, st, tokens)
	})
}

// BenchmarkDropped measures the check shouldPing makes of every connection
// taken from the pool (a non-blocking peek at its socket), on a live idle
// connection: its whole cost on the read path.
func BenchmarkDropped(b *testing.B) {
	st, err := Open(b.Context(), pgtest.Schema(b))
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	conn, err := st.pool.Acquire(b.Context())
	require.NoError(b, err)
	defer conn.Release()
	for b.Loop() {
		if dropped(b.Context(), conn.Conn()) {
			b.Fatal("a live connection was taken for dropped")
		}
	}
}
