package sqlitestore

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// benchSessions and benchUsers size the benchmark database.
const (
	benchSessions = 5000
	benchUsers    = 500
)

// benchNow is the fixed time of the benchmarks: every session is live then
// and recently active, so Authenticate never writes.
var benchNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// loop runs f in a b.Loop and, beside the wall time, reports the CPU time
// per operation of the whole process (GC included): on a machine shared
// with other work it is the steadier figure.
func loop(b *testing.B, f func(i int)) {
	before := cpuTime(b)
	i := 0
	for b.Loop() {
		f(i)
		i++
	}
	b.ReportMetric(float64(cpuTime(b)-before)/float64(b.N), "cpu-ns/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// benchData returns benchUsers users and benchSessions sessions over them,
// with the credential of each session.
func benchData() ([]session.User, []session.Session, []string) {
	users := make([]session.User, benchUsers)
	for i := range users {
		users[i] = session.User{Principal: security.Principal{UserID: int64(i + 1), Name: fmt.Sprint("User ", i+1),
			Email: fmt.Sprintf("user%d@example.com", i+1), AccountType: security.AccountStaff,
			Permissions: []security.Permission{security.PermSessionsList, security.PermSessionsTerminate}},
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"}
	}
	sessions := make([]session.Session, benchSessions)
	tokens := make([]string, benchSessions)
	for i := range sessions {
		tokens[i] = security.NewToken()
		sessions[i] = session.Session{ID: security.NewID(session.IDPrefix), TokenHash: security.HashToken(tokens[i]),
			UserID: int64(i%benchUsers + 1), Kind: session.KindWeb, IP: "203.0.113.10",
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", Location: "London, GB",
			CreatedAt: benchNow.Add(-time.Hour), LastActive: benchNow, IdleTimeout: 30 * time.Minute,
			ExpiresAt: benchNow.Add(11 * time.Hour)}
	}
	return users, sessions, tokens
}

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
	benchLookup(b, func(st *Store, s session.Session) error {
		_, err := st.SessionByTokenHash(b.Context(), s.TokenHash)
		return err
	})
}

func BenchmarkUserByID(b *testing.B) {
	benchLookup(b, func(st *Store, s session.Session) error {
		_, err := st.UserByID(b.Context(), s.UserID)
		return err
	})
}

// benchLookup runs lookup with each session of benchData in turn, on a
// store filled with them. b.Context, which the lookups use, can be
// cancelled, like a request's context.
func benchLookup(b *testing.B, lookup func(st *Store, s session.Session) error) {
	st, _, sessions, _ := benchStore(b)
	loop(b, func(i int) {
		if err := lookup(st, sessions[i%len(sessions)]); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkAuthenticate measures session.Manager.Authenticate, the read
// every authenticated request makes, on SQLite and, for comparison, in
// memory.
func BenchmarkAuthenticate(b *testing.B) {
	type store interface {
		session.Store
		session.UserDirectory
	}
	for _, bc := range []struct {
		name string
		open func(b *testing.B) (store, []string)
	}{
		{"sqlite", func(b *testing.B) (store, []string) {
			st, _, _, tokens := benchStore(b)
			return st, tokens
		}},
		{"memstore", func(b *testing.B) (store, []string) {
			st := memstore.New()
			users, sessions, tokens := benchData()
			for _, u := range users {
				require.NoError(b, st.UpsertUser(b.Context(), u))
			}
			for _, s := range sessions {
				require.NoError(b, st.CreateSession(b.Context(), s, nil))
			}
			return st, tokens
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st, tokens := bc.open(b)
			m, err := session.New(session.Config{Store: st, Users: st, Clock: fixedClock(benchNow)})
			require.NoError(b, err)
			ctx := b.Context() // can be cancelled, like a request's
			b.Run("serial", func(b *testing.B) {
				loop(b, func(i int) {
					if _, err := m.Authenticate(ctx, tokens[i%len(tokens)]); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if _, err := m.Authenticate(ctx, tokens[i%len(tokens)]); err != nil {
							b.Error(err)
							return
						}
						i += 7
					}
				})
			})
		})
	}
}
