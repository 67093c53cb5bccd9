package sqlitestore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// crashEnv names the database a crash helper process writes to.
const crashEnv = "PROPSEC_SQLITESTORE_CRASH_DB"

// crashSessions is how many sessions the crash test prepares: more than
// the helper can get through in the rounds.
const crashSessions = 4000

func crashSessionID(i int) string { return fmt.Sprintf("sess_crash_%06d", i) }

// crashUser owns session i.
func crashUser(i int) int64 { return int64(i) + 1 }

// TestCrashHelper is not a test of its own: TestCrashDurability runs the
// test binary again with this test selected, as a process it kills.
func TestCrashHelper(t *testing.T) {
	st := openCrashHelper(t, "TestCrashDurability")
	ctx := context.Background()
	now := time.Now()
	for i := range crashSessions {
		id := crashSessionID(i)
		s, err := st.SessionByID(ctx, id)
		if err != nil {
			fmt.Fprintln(os.Stderr, "session:", err)
			os.Exit(2)
		}
		if !s.RevokedAt.IsZero() { // done in an earlier round
			continue
		}
		if i%2 == 0 {
			err = st.RevokeSession(ctx, id, now, []security.Event{{Time: now, Type: security.EventSessionTerminated,
				SubjectUserID: s.UserID, Subject: id}})
			if err == nil {
				fmt.Println("ack revoke", id)
			}
		} else {
			_, err = st.AddBlacklist(ctx, session.BlacklistEntry{UserID: s.UserID, Reason: "crash test", CreatedAt: now},
				func(revoked []session.Session) []security.Event {
					evs := []security.Event{{Time: now, Type: security.EventBlacklistAdded, SubjectUserID: s.UserID,
						Subject: strconv.FormatInt(s.UserID, 10)}}
					for _, r := range revoked {
						evs = append(evs, security.Event{Time: now, Type: security.EventSessionTerminated,
							SubjectUserID: s.UserID, Subject: r.ID})
					}
					return evs
				})
			if err == nil {
				fmt.Println("ack blacklist", s.UserID)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(2)
		}
	}
	fmt.Println("exhausted")
	select {} // wait to be killed
}

// openCrashHelper opens the store a crash helper writes to and tells the
// test that runs it, parent, that it is ready. It skips the test when
// there is no parent, and exits when the store does not open.
func openCrashHelper(t *testing.T, parent string) *Store {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("runs only as the subprocess of " + parent)
	}
	st, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	return st
}

// TestCrashDurability kills a process writing to the store at random
// moments and checks, after each restart, that every write the process was
// told had succeeded is there with its audit events, that the file is
// intact, and that the audit chain verifies, still holding the head seen
// after every earlier restart.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	st, path := openTemp(t)
	prepareCrashSessions(t, st)

	revoked := map[string]bool{}    // acknowledged revocations
	blacklisted := map[int64]bool{} // acknowledged blacklistings
	var heads []security.AuditHead  // audit heads after earlier restarts
	for round := range 5 {
		acks := runAndKill(t, "TestCrashHelper", path, time.Duration(20+rand.IntN(281))*time.Millisecond)
		for _, a := range acks {
			kind, id, _ := strings.Cut(a, " ")
			switch kind {
			case "revoke":
				revoked[id] = true
			case "blacklist":
				uid, err := strconv.ParseInt(id, 10, 64)
				require.NoError(t, err)
				blacklisted[uid] = true
			default:
				t.Fatalf("unexpected ack %q", a)
			}
		}
		t.Logf("round %d: %d acknowledged writes, %d in all", round, len(acks), len(revoked)+len(blacklisted))
		if head := checkCrashState(t, path, revoked, blacklisted, heads); head.ID != 0 {
			heads = append(heads, head)
		}
	}
	require.NotEmpty(t, revoked, "the helper never acknowledged a revocation")
	require.NotEmpty(t, blacklisted, "the helper never acknowledged a blacklisting")
}

// prepareCrashSessions stores crashSessions live sessions.
func prepareCrashSessions(t *testing.T, st *Store) {
	now := time.Now()
	ss := make([]session.Session, crashSessions)
	for i := range ss {
		id := crashSessionID(i)
		ss[i] = session.Session{ID: id, TokenHash: security.HashToken(id), UserID: crashUser(i), Kind: session.KindWeb,
			CreatedAt: now, LastActive: now, IdleTimeout: time.Hour, ExpiresAt: now.Add(time.Hour)}
	}
	insertSessions(t, st, ss)
}

// runAndKill starts the helper test on path, lets it write for about d
// after it is ready, kills it with SIGKILL, and returns the writes it
// acknowledged ("revoke sess_…", "blacklist 12").
func runAndKill(t *testing.T, helper, path string, d time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	lines := make(chan string)
	go func() {
		defer close(lines)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil { // a line cut short by the kill was never acknowledged
				_, _ = io.Copy(io.Discard, r)
				return
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()

	kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
	safety := time.AfterFunc(time.Minute, kill) // never hang on a stuck helper
	defer safety.Stop()
	var acks []string
	ready := false
	for line := range lines {
		switch {
		case line == "ready" && !ready:
			ready = true
			time.AfterFunc(d, kill)
		case strings.HasPrefix(line, "ack "):
			acks = append(acks, strings.TrimPrefix(line, "ack "))
		}
	}
	err = cmd.Wait()
	if !ready {
		t.Fatalf("helper ended before it was ready: %v\n%s", err, stderr.String())
	}
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "helper: %s", stderr.String())
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "helper failed: %v\n%s", err, stderr.String())
	return acks
}

// checkCrashState reopens the store, as a restarted host would, and checks
// every acknowledged write, the file's integrity (PRAGMA integrity_check)
// and the audit chain's (VerifyEvents: every event's hash links to the one
// before, and each of anchors, the heads after earlier restarts, is still
// in the chain unchanged). It returns the chain's head.
func checkCrashState(t *testing.T, path string, revoked map[string]bool, blacklisted map[int64]bool,
	anchors []security.AuditHead) security.AuditHead {
	t.Helper()
	ctx := t.Context()
	st, err := Open(ctx, path)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()

	var integrity string
	require.NoError(t, st.w.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity))
	require.Equal(t, "ok", integrity)

	evs, err := st.Events(ctx)
	require.NoError(t, err)
	audit, err := st.VerifyEvents(ctx, anchors...)
	require.NoError(t, err)
	require.True(t, audit.OK(), "audit chain broken after a crash: %v", audit.Break)
	require.Equal(t, int64(len(evs)), audit.Events, "events verified")
	if len(evs) > 0 {
		require.Equal(t, evs[len(evs)-1].ID, audit.Head.ID, "the verified head is the newest event")
	}
	terminated, added := map[string]bool{}, map[string]bool{}
	for _, e := range evs {
		switch e.Type {
		case security.EventSessionTerminated:
			terminated[e.Subject] = true
		case security.EventBlacklistAdded:
			added[e.Subject] = true
		}
	}
	for id := range revoked {
		s, err := st.SessionByID(ctx, id)
		require.NoError(t, err)
		assert.False(t, s.RevokedAt.IsZero(), "acknowledged revocation of %s lost", id)
		assert.True(t, terminated[id], "event of acknowledged revocation of %s lost", id)
	}
	for uid := range blacklisted {
		black, err := st.IsBlacklisted(ctx, uid)
		require.NoError(t, err)
		assert.True(t, black, "acknowledged blacklisting of user %d lost", uid)
		assert.True(t, added[strconv.FormatInt(uid, 10)], "event of acknowledged blacklisting of user %d lost", uid)
		sessID := crashSessionID(int(uid - 1))
		s, err := st.SessionByID(ctx, sessID)
		require.NoError(t, err)
		assert.False(t, s.RevokedAt.IsZero(), "session %s of blacklisted user %d is live", sessID, uid)
		assert.True(t, terminated[sessID], "event of the revocation of %s by blacklisting lost", sessID)
	}
	return audit.Head
}

// crashNonce is the nonce a crash helper consumes in its i-th call.
func crashNonce(i int) [32]byte { return sha256.Sum256([]byte(strconv.Itoa(i))) }

// TestNonceCrashHelper is not a test of its own: TestNonceCrashDurability
// runs it as a process it kills. It consumes nonces 0, 1, 2, … and
// acknowledges each one its store reports fresh (those an earlier round
// spent are not).
func TestNonceCrashHelper(t *testing.T) {
	st := openCrashHelper(t, "TestNonceCrashDurability")
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for i := 0; ; i++ {
		fresh, err := st.ConsumeNonce(ctx, crashNonce(i), exp)
		if err != nil {
			fmt.Fprintln(os.Stderr, "consume:", err)
			os.Exit(2)
		}
		if fresh {
			fmt.Println("ack nonce", i)
		}
	}
}

// TestNonceCrashDurability kills a process consuming nonces at random
// moments and checks, after each restart, that every nonce the process was
// told was fresh (and so spent its token) is still used, and that the file
// is intact. The nonce connection commits with synchronous=NORMAL, which
// must still survive a crash of the process.
func TestNonceCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	_, path := openTemp(t)
	spent := map[int]bool{}
	for round := range 5 {
		acks := runAndKill(t, "TestNonceCrashHelper", path, time.Duration(20+rand.IntN(281))*time.Millisecond)
		for _, a := range acks {
			kind, n, _ := strings.Cut(a, " ")
			i, err := strconv.Atoi(n)
			require.NoError(t, err)
			require.Equal(t, "nonce", kind)
			require.False(t, spent[i], "nonce %d acknowledged fresh twice", i)
			spent[i] = true
		}
		t.Logf("round %d: %d nonces acknowledged, %d in all", round, len(acks), len(spent))

		st, err := Open(t.Context(), path)
		require.NoError(t, err)
		var integrity string
		require.NoError(t, st.w.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&integrity))
		require.Equal(t, "ok", integrity)
		for i := range spent {
			fresh, err := st.ConsumeNonce(t.Context(), crashNonce(i), time.Now().Add(time.Hour))
			require.NoError(t, err)
			require.False(t, fresh, "nonce %d, acknowledged before the crash, is fresh again", i)
		}
		require.NoError(t, st.Close())
	}
	require.NotEmpty(t, spent, "the helper never acknowledged a nonce")
}
