package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// auditStore returns a store holding n chained events (IDs 1…n) and the
// head exported after them.
func auditStore(t *testing.T, n int) (*Store, security.AuditHead) {
	t.Helper()
	st, _ := openTemp(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var evs []security.Event
	for i := range n {
		evs = append(evs, security.Event{Time: at.Add(time.Duration(i) * time.Second), Type: security.EventLoginFailed,
			ActorUserID: int64(i % 3), SubjectUserID: int64(i), Subject: fmt.Sprintf("user%d@example.com", i),
			IP: "198.51.100.7", Details: map[string]string{"reason": "bad_credentials", "n": fmt.Sprint(i)}})
	}
	for len(evs) > 0 { // several transactions
		k := min(len(evs), 7)
		require.NoError(t, st.RecordEvents(t.Context(), evs[:k]...))
		evs = evs[k:]
	}
	h, err := st.EventsHead(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(n), h.ID)
	return st, h
}

// sqlExec runs statements on the writer, as someone with the database file
// would.
func sqlExec(t *testing.T, st *Store, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		_, err := st.w.ExecContext(t.Context(), q)
		require.NoError(t, err, q)
	}
}

// swapSQL swaps every column but the ID of events a and b: the events trade
// places.
func swapSQL(a, b int, cols string) []string {
	return []string{
		fmt.Sprintf(`CREATE TEMP TABLE swap AS SELECT id, %s FROM events WHERE id IN (%d, %d)`, cols, a, b),
		fmt.Sprintf(`UPDATE events SET (%[1]s) = (SELECT %[1]s FROM swap WHERE swap.id = %[2]d + %[3]d - events.id)
			WHERE id IN (%[2]d, %[3]d)`, cols, a, b),
		`DROP TABLE swap`,
	}
}

const (
	contentCols = `time, type, actor_user_id, actor_session_id, subject_user_id, subject, ip, details`
	allCols     = contentCols + `, prev_hash, hash`
)

// rehashFrom recomputes prev_hash and hash from event id on, as an attacker
// who knows the scheme would.
func rehashFrom(t *testing.T, st *Store, id int64) {
	t.Helper()
	evs, err := st.Events(t.Context())
	require.NoError(t, err)
	var prev [32]byte
	for _, e := range evs {
		if e.ID >= id {
			h := security.EventHash(prev, e)
			_, err := st.w.ExecContext(t.Context(), `UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?`, prev[:], h[:], e.ID)
			require.NoError(t, err)
		}
		var stored []byte
		require.NoError(t, st.w.QueryRowContext(t.Context(), `SELECT hash FROM events WHERE id = ?`, e.ID).Scan(&stored))
		copy(prev[:], stored)
	}
}

func TestAuditTamperingInSQLite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tamper   func(t *testing.T, st *Store)
		anchored bool // verify against the exported head
		id       int64
		problem  security.AuditProblem
	}{
		{"subject edited", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET subject = 'mallory@example.com' WHERE id = 7`)
		}, false, 7, security.AuditModified},
		{"detail edited", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET details = json_set(details, '$.reason', 'throttled') WHERE id = 7`)
		}, false, 7, security.AuditModified},
		{"details made unreadable", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET details = '{' WHERE id = 7`)
		}, false, 7, security.AuditModified},
		{"time edited", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET time = time + 1 WHERE id = 7`)
		}, false, 7, security.AuditModified},
		{"type edited", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET type = 'login_succeeded' WHERE id = 7`)
		}, false, 7, security.AuditModified},
		{"hash edited", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET hash = zeroblob(32) WHERE id = 7`)
		}, false, 7, security.AuditModified},
		{"hash cleared", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET hash = NULL, prev_hash = NULL WHERE id = 7`)
		}, false, 7, security.AuditModified},
		{"edited and its hash recomputed", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET subject = 'x' WHERE id = 7`)
			evs, err := st.Events(t.Context())
			require.NoError(t, err)
			var prev []byte
			require.NoError(t, st.w.QueryRow(`SELECT prev_hash FROM events WHERE id = 7`).Scan(&prev))
			h := security.EventHash([32]byte(prev), evs[6])
			_, err = st.w.Exec(`UPDATE events SET hash = ? WHERE id = 7`, h[:])
			require.NoError(t, err)
		}, false, 7, security.AuditModified},
		{"two edits: the first is named", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET subject = 'x' WHERE id IN (12, 9)`)
		}, false, 9, security.AuditModified},
		{"first deleted", func(t *testing.T, st *Store) {
			sqlExec(t, st, `DELETE FROM events WHERE id = 1`)
		}, false, 1, security.AuditRemoved},
		{"one deleted", func(t *testing.T, st *Store) {
			sqlExec(t, st, `DELETE FROM events WHERE id = 7`)
		}, false, 7, security.AuditRemoved},
		{"several deleted, an edit after them", func(t *testing.T, st *Store) {
			sqlExec(t, st, `DELETE FROM events WHERE id BETWEEN 7 AND 9`, `UPDATE events SET ip = '' WHERE id = 15`)
		}, false, 7, security.AuditRemoved},
		{"deleted and renumbered", func(t *testing.T, st *Store) {
			sqlExec(t, st, `DELETE FROM events WHERE id = 7`, `UPDATE events SET id = -id WHERE id > 7`,
				`UPDATE events SET id = -id - 1 WHERE id < 0`)
		}, false, 7, security.AuditRemoved},
		{"rows swapped", func(t *testing.T, st *Store) {
			sqlExec(t, st, swapSQL(5, 12, allCols)...)
		}, false, 5, security.AuditReordered},
		{"neighbours swapped", func(t *testing.T, st *Store) {
			sqlExec(t, st, swapSQL(3, 4, allCols)...)
		}, false, 3, security.AuditReordered},
		{"first two swapped", func(t *testing.T, st *Store) {
			sqlExec(t, st, swapSQL(1, 2, allCols)...)
		}, false, 1, security.AuditReordered},
		{"contents swapped, hashes left", func(t *testing.T, st *Store) {
			sqlExec(t, st, swapSQL(5, 12, contentCols)...)
		}, false, 5, security.AuditModified},
		{"tail deleted", func(t *testing.T, st *Store) {
			sqlExec(t, st, `DELETE FROM events WHERE id > 17`)
		}, false, 18, security.AuditTruncated},
		{"tail deleted, then an append", func(t *testing.T, st *Store) {
			sqlExec(t, st, `DELETE FROM events WHERE id > 17`)
			require.NoError(t, st.RecordEvents(t.Context(), security.Event{Type: security.EventLogout}))
		}, false, 18, security.AuditRemoved},
		{"tail deleted and the counter reset, against the exported head", func(t *testing.T, st *Store) {
			sqlExec(t, st, `DELETE FROM events WHERE id > 17`, `UPDATE sqlite_sequence SET seq = 17 WHERE name = 'events'`)
		}, true, 18, security.AuditTruncated},
		{"everything deleted, against the exported head", func(t *testing.T, st *Store) {
			sqlExec(t, st, `DELETE FROM events`, `DELETE FROM sqlite_sequence WHERE name = 'events'`)
		}, true, 1, security.AuditTruncated},
		{"edited and every hash recomputed, against the exported head", func(t *testing.T, st *Store) {
			sqlExec(t, st, `UPDATE events SET subject = 'x' WHERE id = 7`)
			rehashFrom(t, st, 7)
		}, true, 20, security.AuditRewritten},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, exported := auditStore(t, 20)
			tc.tamper(t, st)
			var anchors []security.AuditHead
			if tc.anchored {
				anchors = append(anchors, exported)
			}
			res, err := st.VerifyEvents(t.Context(), anchors...)
			require.NoError(t, err)
			require.False(t, res.OK(), "tampering missed")
			assert.Equal(t, tc.id, res.Break.ID, "%v", res.Break)
			assert.Equal(t, tc.problem, res.Break.Problem, "%v", res.Break)
			t.Log(res.Break)
		})
	}
}

// What cannot be seen without an anchor: a consistent rewrite, and a tail
// deleted together with the ID counter.
func TestAuditUndetectableWithoutAnchor(t *testing.T) {
	t.Run("rewritten", func(t *testing.T) {
		st, _ := auditStore(t, 20)
		sqlExec(t, st, `UPDATE events SET subject = 'x' WHERE id = 7`)
		rehashFrom(t, st, 7)
		res, err := st.VerifyEvents(t.Context())
		require.NoError(t, err)
		assert.True(t, res.OK())
	})
	t.Run("truncated with the counter", func(t *testing.T) {
		st, _ := auditStore(t, 20)
		sqlExec(t, st, `DELETE FROM events WHERE id > 17`, `UPDATE sqlite_sequence SET seq = 17 WHERE name = 'events'`)
		res, err := st.VerifyEvents(t.Context())
		require.NoError(t, err)
		assert.True(t, res.OK())
		assert.Equal(t, int64(17), res.Head.ID)
	})
}

func TestAuditVerifyPages(t *testing.T) {
	st, head := auditStore(t, 2*verifyPage+5)
	res, err := st.VerifyEvents(t.Context(), head)
	require.NoError(t, err)
	require.True(t, res.OK(), "%v", res.Break)
	assert.Equal(t, head, res.Head)
	assert.Equal(t, int64(2*verifyPage+5), res.Events)

	for _, id := range []int{verifyPage, verifyPage + 1, 2*verifyPage + 5} {
		sqlExec(t, st, fmt.Sprintf(`UPDATE events SET subject = subject || '!' WHERE id = %d`, id))
		res, err := st.VerifyEvents(t.Context())
		require.NoError(t, err)
		require.False(t, res.OK())
		assert.Equal(t, int64(id), res.Break.ID)
		sqlExec(t, st, fmt.Sprintf(`UPDATE events SET subject = substr(subject, 1, length(subject) - 1) WHERE id = %d`, id))
	}
	sqlExec(t, st, fmt.Sprintf(`DELETE FROM events WHERE id = %d`, verifyPage+1))
	res, err = st.VerifyEvents(t.Context())
	require.NoError(t, err)
	require.False(t, res.OK())
	assert.Equal(t, int64(verifyPage+1), res.Break.ID)
	assert.Equal(t, security.AuditRemoved, res.Break.Problem)
}

// Events recorded before migration 0003 have no hashes; the store chains
// them the first time it touches the log.
func TestAuditSealsEventsFromBeforeTheChain(t *testing.T) {
	for _, first := range []string{"head", "verify", "record"} {
		t.Run(first, func(t *testing.T) {
			st, _ := auditStore(t, 30)
			sqlExec(t, st, `UPDATE events SET prev_hash = NULL, hash = NULL`)
			switch first {
			case "head":
				h, err := st.EventsHead(t.Context())
				require.NoError(t, err)
				assert.Equal(t, int64(30), h.ID)
				assert.NotEqual(t, security.GenesisHash, h.Hash)
			case "verify":
			case "record":
				require.NoError(t, st.RecordEvents(t.Context(), security.Event{Type: security.EventLogout}))
			}
			res, err := st.VerifyEvents(t.Context())
			require.NoError(t, err)
			require.True(t, res.OK(), "%v", res.Break)
			var unsealed int
			require.NoError(t, st.r.QueryRow(`SELECT count(*) FROM events WHERE hash IS NULL`).Scan(&unsealed))
			assert.Zero(t, unsealed)
		})
	}
}

func TestAuditMigrationAddsColumns(t *testing.T) {
	st, _ := openTemp(t)
	_, err := st.w.Exec(`INSERT INTO events (time, type, actor_user_id, actor_session_id, subject_user_id, subject, ip, hash)
		VALUES (0, 'x', 0, '', 0, '', '', x'00')`)
	assert.Error(t, err, "a hash must be 32 bytes")
}

// --- what the chain costs ---
//
// Each benchmark runs one action in up to three modes, each on its own store
// holding benchSessions sessions and auditBenchEvents events:
//   - no-event: the store call without its events (not possible through
//     session.Manager, which always records them);
//   - unchained: its events written as before the chain (prepared INSERT,
//     no head read, no hash, no cleaning);
//   - chained: as shipped.
//
// The modes take turns within one b.Loop, in rotating order, so that they
// share whatever else the machine is doing; each reports its wall time and
// the CPU time of the benchmark's OS thread (the SQLite driver runs on the
// calling goroutine) per action, and the overheads in percent:
// chain-% (chained over unchained) and event-% (chained over no-event).
//
//	go test ./sqlitestore -run '^$' -bench AuditCost -benchtime 2000x -count 3

const auditBenchEvents = 10000

type auditMode int

const (
	modeNoEvent auditMode = iota
	modeUnchained
	modeChained
)

var auditModeNames = [...]string{"no-event", "unchained", "chained"}

// auditBenchStore returns a store for one mode: benchStore plus a second
// set of unrelated live sessions and auditBenchEvents events.
func auditBenchStore(b *testing.B) (*Store, []session.Session) {
	st, _, _, _ := benchStore(b)
	_, sessions, _ := benchData()
	insertSessions(b, st, sessions)
	seed := make([]security.Event, auditBenchEvents)
	for i := range seed {
		seed[i] = auditBenchEvent(i)
	}
	require.NoError(b, st.RecordEvents(b.Context(), seed...))
	return st, sessions
}

func auditBenchEvent(i int) security.Event {
	return security.Event{Time: benchNow, Type: security.EventSessionTerminated, ActorUserID: 1,
		ActorSessionID: "sess_actor", SubjectUserID: 2, Subject: fmt.Sprint("sess_subject", i), IP: "198.51.100.7",
		Details: map[string]string{"reason": "terminated", "kind": "web"}}
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU(b *testing.B) time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(rusageThread, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchAuditCost runs the action setup returns in every mode of modes.
func benchAuditCost(b *testing.B, modes []auditMode, setup func(b *testing.B, mode auditMode) func(i int) error) {
	ops := make([]func(int) error, len(modes))
	stmts := make([]*sql.Stmt, len(modes))
	for k, m := range modes {
		ops[k] = setup(b, m)
		// The unchained mode's statement, prepared on its writer: setup
		// left it in unchainedForBench.
		stmts[k], unchainedForBench = unchainedForBench, nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	wall := make([]time.Duration, len(modes))
	cpu := make([]time.Duration, len(modes))
	i := 0
	for b.Loop() {
		for j := range modes {
			k := (i + j) % len(modes)
			unchainedForBench = stmts[k]
			w0, c0 := time.Now(), threadCPU(b)
			err := ops[k](i)
			cpu[k] += threadCPU(b) - c0
			wall[k] += time.Since(w0)
			unchainedForBench = nil
			if err != nil {
				b.Fatal(auditModeNames[modes[k]], ": ", err)
			}
		}
		i++
	}
	by := map[auditMode]int{}
	for k, m := range modes {
		by[m] = k
		b.ReportMetric(float64(wall[k])/float64(b.N), auditModeNames[m]+"-ns/op")
		b.ReportMetric(float64(cpu[k])/float64(b.N), auditModeNames[m]+"-cpu-ns/op")
	}
	pct := func(x, y time.Duration) float64 { return 100 * (float64(x)/float64(y) - 1) }
	c := by[modeChained]
	if u, ok := by[modeUnchained]; ok {
		b.ReportMetric(pct(wall[c], wall[u]), "chain-%")
		b.ReportMetric(pct(cpu[c], cpu[u]), "chain-cpu-%")
	}
	if n, ok := by[modeNoEvent]; ok {
		b.ReportMetric(pct(wall[c], wall[n]), "event-%")
		b.ReportMetric(pct(cpu[c], cpu[n]), "event-cpu-%")
	}
}

// prepareMode readies st for mode: for unchained, it prepares the old
// INSERT on st's writer and leaves it in unchainedForBench.
func prepareMode(b *testing.B, st *Store, mode auditMode) {
	if mode != modeUnchained {
		return
	}
	stmt, err := st.w.PrepareContext(b.Context(), unchainedInsertSQL)
	require.NoError(b, err)
	unchainedForBench = stmt
	b.Cleanup(func() { _ = stmt.Close() })
}

var (
	withoutNoEvent = []auditMode{modeUnchained, modeChained}
	allModes       = []auditMode{modeNoEvent, modeUnchained, modeChained}
)

func BenchmarkAuditCostRecordEvents(b *testing.B) {
	benchAuditCost(b, withoutNoEvent, func(b *testing.B, mode auditMode) func(int) error {
		st, _ := auditBenchStore(b)
		prepareMode(b, st, mode)
		return func(i int) error { return st.RecordEvents(b.Context(), auditBenchEvent(i)) }
	})
}

func BenchmarkAuditCostRevokeSession(b *testing.B) {
	benchAuditCost(b, allModes, func(b *testing.B, mode auditMode) func(int) error {
		st, sessions := auditBenchStore(b)
		prepareMode(b, st, mode)
		return func(i int) error {
			var evs []security.Event
			if mode != modeNoEvent {
				evs = []security.Event{auditBenchEvent(i)}
			}
			// More iterations than sessions fail: lower -benchtime.
			return st.RevokeSession(b.Context(), sessions[i%len(sessions)].ID, benchNow, evs)
		}
	})
}

// eventlessStore is a Store whose RevokeSession drops the events it is
// given: session.Manager always records one, so this is how the no-event
// mode measures Terminate without its event.
type eventlessStore struct{ *Store }

func (s eventlessStore) RevokeSession(ctx context.Context, id string, at time.Time, _ []security.Event) error {
	return s.Store.RevokeSession(ctx, id, at, nil)
}

// terminateBenchStore is auditBenchStore readied for mode, and the store a
// Manager should use in it: an eventlessStore for no-event.
func terminateBenchStore(b *testing.B, mode auditMode) (*Store, session.Store, []session.Session) {
	st, sessions := auditBenchStore(b)
	prepareMode(b, st, mode)
	if mode == modeNoEvent {
		return st, eventlessStore{st}, sessions
	}
	return st, st, sessions
}

// BenchmarkAuditCostTerminate is session.Manager.Terminate by a staff user
// (read the session, check, revoke and record); no-event runs it on an
// eventlessStore.
func BenchmarkAuditCostTerminate(b *testing.B) {
	benchAuditCost(b, allModes, func(b *testing.B, mode auditMode) func(int) error {
		st, store, sessions := terminateBenchStore(b, mode)
		m, err := session.New(session.Config{Store: store, Users: st, Clock: fixedClock(benchNow)})
		require.NoError(b, err)
		actor := session.Auth{Session: session.Session{ID: "sess_bench_actor"}, Principal: security.Principal{
			UserID: 1, AccountType: security.AccountStaff, Permissions: []security.Permission{security.PermSessionsTerminate}}}
		ip := netip.MustParseAddr("198.51.100.7")
		return func(i int) error { return m.Terminate(b.Context(), actor, sessions[i%len(sessions)].ID, ip) }
	})
}

// BenchmarkAuditCostTerminateHTTP is the terminate as a client performs
// it: POST /api/security/sessions {"action": "terminate"} through
// httpadapter on a bearer session of a staff user, with a fresh CSRF token
// (issuing one writes nothing; checking it records its nonce, which is the
// request's first durable write). no-event runs on an eventlessStore.
func BenchmarkAuditCostTerminateHTTP(b *testing.B) {
	benchAuditCost(b, allModes, func(b *testing.B, mode auditMode) func(int) error {
		st, store, sessions := terminateBenchStore(b, mode)
		clock := fixedClock(benchNow)
		m, err := session.New(session.Config{Store: store, Users: st, Clock: clock})
		require.NoError(b, err)
		c, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Nonces: st, Clock: clock})
		require.NoError(b, err)
		h, err := httpadapter.New(httpadapter.Config{Sessions: m, CSRF: c, Clock: clock})
		require.NoError(b, err)
		actor := session.User{Principal: security.Principal{UserID: 900001, Name: "Bench Admin", Email: "admin@bench.example",
			AccountType: security.AccountStaff, Permissions: security.AllPermissions}}
		require.NoError(b, st.UpsertUser(b.Context(), actor))
		token := security.NewToken()
		actorSession := session.Session{ID: security.NewID(session.IDPrefix), TokenHash: security.HashToken(token),
			UserID: actor.UserID, Kind: session.KindMobile, IP: "198.51.100.7", CreatedAt: benchNow, LastActive: benchNow,
			IdleTimeout: time.Hour, ExpiresAt: benchNow.Add(time.Hour)}
		require.NoError(b, st.CreateSession(b.Context(), actorSession, nil))
		return func(i int) error {
			body := fmt.Sprintf(`{"action":"terminate","session_id":%q,"csrf_token":%q}`,
				sessions[i%len(sessions)].ID, c.Issue(actorSession.ID))
			req := httptest.NewRequest(http.MethodPost, "/api/security/sessions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				return fmt.Errorf("status %d: %s", w.Code, w.Body)
			}
			return nil
		}
	})
}

// BenchmarkAuditCostCreateSession is the write of a login.
func BenchmarkAuditCostCreateSession(b *testing.B) {
	benchAuditCost(b, allModes, func(b *testing.B, mode auditMode) func(int) error {
		st, _ := auditBenchStore(b)
		prepareMode(b, st, mode)
		_, fresh, _ := benchData()
		return func(i int) error {
			s := fresh[i%len(fresh)]
			s.ID, s.TokenHash = security.NewID(session.IDPrefix), security.HashToken(security.NewToken())
			var evs []security.Event
			if mode != modeNoEvent {
				evs = []security.Event{{Time: benchNow, Type: security.EventLoginSucceeded, ActorUserID: s.UserID,
					ActorSessionID: s.ID, SubjectUserID: s.UserID, Subject: s.ID, IP: s.IP,
					Details: map[string]string{"kind": "web"}}}
			}
			return st.CreateSession(b.Context(), s, evs)
		}
	})
}

// BenchmarkAuditCostLogin is session.Manager.Login, with a cheap password
// hash (so that the store's share shows) and with the default argon2id one.
func BenchmarkAuditCostLogin(b *testing.B) {
	for _, h := range []struct {
		name   string
		hasher session.Hasher
	}{{"cheap-hash", session.Hasher{Memory: 64, Time: 1, Threads: 1}}, {"default-hash", session.DefaultHasher}} {
		b.Run(h.name, func(b *testing.B) {
			benchAuditCost(b, withoutNoEvent, func(b *testing.B, mode auditMode) func(int) error {
				st, _ := auditBenchStore(b)
				prepareMode(b, st, mode)
				phc, err := h.hasher.Hash("correct horse battery staple")
				require.NoError(b, err)
				u, err := st.UserByID(b.Context(), 1)
				require.NoError(b, err)
				u.PasswordHash = phc
				require.NoError(b, st.UpsertUser(b.Context(), u))
				m, err := session.New(session.Config{Store: st, Users: st, Clock: fixedClock(benchNow), Hasher: h.hasher})
				require.NoError(b, err)
				req := session.LoginRequest{Email: u.Email, Password: "correct horse battery staple", Kind: session.KindWeb,
					IP: netip.MustParseAddr("203.0.113.10"), UserAgent: "Mozilla/5.0 (bench)"}
				return func(int) error {
					_, err := m.Login(b.Context(), req)
					return err
				}
			})
		})
	}
}

// BenchmarkAuditAppendInTx isolates the statements: one event appended
// inside one long transaction (no commit, so no fsync), chained, unchained,
// and the chain's head read alone.
func BenchmarkAuditAppendInTx(b *testing.B) {
	st, _ := auditBenchStore(b)
	unchained, err := st.w.PrepareContext(b.Context(), unchainedInsertSQL)
	require.NoError(b, err)
	defer unchained.Close()
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		op   func(tx *sql.Tx, i int) error
	}{
		{"chained", func(tx *sql.Tx, i int) error {
			return st.insertEvents(ctx, tx, []security.Event{auditBenchEvent(i)})
		}},
		{"unchained", func(tx *sql.Tx, i int) error {
			return insertUnchained(ctx, tx.StmtContext(ctx, unchained), []security.Event{auditBenchEvent(i)})
		}},
		{"head-read", func(tx *sql.Tx, _ int) error {
			_, _, err := st.chainHead(ctx, tx)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tx, err := st.w.BeginTx(ctx, nil)
			require.NoError(b, err)
			defer func() { _ = tx.Rollback() }()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0, i := threadCPU(b), 0
			for b.Loop() {
				if err := bc.op(tx, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(threadCPU(b)-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}
