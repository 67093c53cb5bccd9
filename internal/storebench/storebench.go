// Package storebench holds the benchmarks of the session reads every
// authenticated request makes, written once for every store
// implementation, so that the stores run them on the same data under the
// same names and benchstat can set them side by side.
//
// # Use
//
// A store's bench_test.go fills a store of its own with [Data] (in one
// transaction: a commit per row would dominate the setup) and calls
// [SessionByTokenHash], [UserByID] and [Authenticate] from benchmarks of
// those names:
//
//	func BenchmarkAuthenticate(b *testing.B) {
//		b.Run("postgres", func(b *testing.B) {
//			st, _, tokens := fill(b)
//			storebench.Authenticate(b, st, tokens)
//		})
//	}
//
// # Figures
//
// Beside the wall time, [Loop] reports the CPU time per operation of the
// benchmark process (GC included): on a machine shared with other work it
// is the steadier figure. A store in another process (PostgreSQL) spends
// CPU time there too, which this figure does not include.
package storebench

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Sessions and Users size the benchmark data.
const (
	Sessions = 5000
	Users    = 500
)

// Now is the fixed time of the benchmarks: every session of [Data] is live
// then and recently active, so Authenticate never writes.
var Now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Clock is a [security.Clock] stopped at t.
type Clock time.Time

// Now returns the time the clock is stopped at.
func (c Clock) Now() time.Time { return time.Time(c) }

// Store is what the benchmarks read.
type Store interface {
	session.Store
	session.UserDirectory
}

// Data returns Users users and Sessions sessions over them, with the
// credential of each session.
func Data() ([]session.User, []session.Session, []string) {
	users := make([]session.User, Users)
	for i := range users {
		users[i] = session.User{Principal: security.Principal{UserID: int64(i + 1), Name: fmt.Sprint("User ", i+1),
			Email: fmt.Sprintf("user%d@example.com", i+1), AccountType: security.AccountStaff,
			Permissions: []security.Permission{security.PermSessionsList, security.PermSessionsTerminate}},
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"}
	}
	sessions := make([]session.Session, Sessions)
	tokens := make([]string, Sessions)
	for i := range sessions {
		tokens[i] = security.NewToken()
		sessions[i] = session.Session{ID: security.NewID(session.IDPrefix), TokenHash: security.HashToken(tokens[i]),
			UserID: int64(i%Users + 1), Kind: session.KindWeb, IP: "203.0.113.10",
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", Location: "London, GB",
			CreatedAt: Now.Add(-time.Hour), LastActive: Now, IdleTimeout: 30 * time.Minute,
			ExpiresAt: Now.Add(11 * time.Hour)}
	}
	return users, sessions, tokens
}

// Loop runs f in a b.Loop, with the iteration's number, and reports the
// CPU time per operation of the process as cpu-ns/op.
func Loop(b *testing.B, f func(i int)) {
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

// SessionByTokenHash measures st.SessionByTokenHash over sessions in turn.
// b.Context, which the reads use, can be cancelled, like a request's.
func SessionByTokenHash(b *testing.B, st session.Store, sessions []session.Session) {
	Loop(b, func(i int) {
		if _, err := st.SessionByTokenHash(b.Context(), sessions[i%len(sessions)].TokenHash); err != nil {
			b.Fatal(err)
		}
	})
}

// UserByID measures st.UserByID over the users of sessions in turn.
func UserByID(b *testing.B, st session.UserDirectory, sessions []session.Session) {
	Loop(b, func(i int) {
		if _, err := st.UserByID(b.Context(), sessions[i%len(sessions)].UserID); err != nil {
			b.Fatal(err)
		}
	})
}

// Authenticate measures session.Manager.Authenticate on st with tokens in
// turn, at [Now]: "serial", one call at a time, and "parallel", GOMAXPROCS
// goroutines at once (b.RunParallel), whose time per operation is the
// inverse of the throughput.
func Authenticate(b *testing.B, st Store, tokens []string) {
	m, err := session.New(session.Config{Store: st, Users: st, Clock: Clock(Now)})
	require.NoError(b, err)
	ctx := b.Context() // can be cancelled, like a request's
	b.Run("serial", func(b *testing.B) {
		Loop(b, func(i int) {
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
}
