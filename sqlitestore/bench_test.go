package sqlitestore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/storebench"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/session"
)

// The session-read benchmarks are internal/storebench's, which pgstore
// runs too under the same names (bench/stores.sh compares them). The names
// below serve the package's other benchmarks.
var benchNow = storebench.Now

type fixedClock = storebench.Clock

func benchData() ([]session.User, []session.Session, []string) { return storebench.Data() }

func loop(b *testing.B, f func(i int)) { storebench.Loop(b, f) }

// benchStore fills a new SQLite store with benchData.
func benchStore(b *testing.B) (*Store, []session.User, []session.Session, []string) {
	st, _ := openTemp(b)
	users, sessions, tokens := benchData()
	for _, u := range users {
		require.NoError(b, st.UpsertUser(b.Context(), u))
	}
	insertSessions(b, st, sessions)
	return st, users, sessions, tokens
}

func BenchmarkSessionByTokenHash(b *testing.B) {
	st, _, sessions, _ := benchStore(b)
	storebench.SessionByTokenHash(b, st, sessions)
}

func BenchmarkUserByID(b *testing.B) {
	st, _, sessions, _ := benchStore(b)
	storebench.UserByID(b, st, sessions)
}

// BenchmarkAuthenticate measures session.Manager.Authenticate, the read
// every authenticated request makes, on SQLite and, for comparison, in
// memory.
func BenchmarkAuthenticate(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, _, _, tokens := benchStore(b)
		storebench.Authenticate(b, st, tokens)
	})
	b.Run("memstore", func(b *testing.B) {
		st := memstore.New()
		users, sessions, tokens := benchData()
		for _, u := range users {
			require.NoError(b, st.UpsertUser(b.Context(), u))
		}
		for _, s := range sessions {
			require.NoError(b, st.CreateSession(b.Context(), s, nil))
		}
		storebench.Authenticate(b, st, tokens)
	})
}
