package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// The binaries under test, built once by TestMain.
var propsecBin, serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "propsec-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	propsecBin = filepath.Join(dir, "propsec")
	serverBin = filepath.Join(dir, "server")
	for bin, pkg := range map[string]string{propsecBin: ".", serverBin: "../../examples/server"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, ":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// cliRun runs the CLI with args, stdin as its standard input (not a
// terminal) and env added to a clean environment.
func cliRun(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(propsecBin, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

// propsec runs the CLI on db and requires exit status want.
func propsec(t *testing.T, db string, want int, stdin string, args ...string) result {
	t.Helper()
	r := cliRun(t, []string{"PROPSEC_DB=" + db}, stdin, args...)
	require.Equal(t, want, r.code, "propsec %q\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
	return r
}

const (
	adminEmail = "ops@example.com"
	adminPass  = "correct horse battery"
)

// newDB makes a database the way an operator would: the server creates
// it and loads a users file; returns its path and the users file.
func newDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	users := filepath.Join(dir, "users.json")
	writeUsers(t, users, `[{"id":1,"name":"Ops","email":"`+adminEmail+`","password":"`+adminPass+`","account_type":"staff",
		"permissions":["api.security.sessions.list","api.security.sessions.terminate","api.security.sessions.manage"]},
		{"id":2,"name":"Joe","email":"joe@example.com","password":"joe's passphrase","account_type":"customer"}]`)
	base, stop := startServer(t, "-db", db, "-users", users)
	_ = base
	stop()
	return db
}

func writeUsers(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
}

// startServer runs the example server as a process on a free port and
// returns its base URL and a function that stops it (also run at the end
// of t).
func startServer(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	cmd := exec.Command(serverBin, append([]string{"-addr", "127.0.0.1:0", "-insecure-cookies"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	base := ""
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			base = u
			break
		}
	}
	if base == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the server did not start: %s", errb.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	t.Cleanup(stop)
	return base, stop
}

// login gets a bearer token from the server.
func login(t *testing.T, base, email, password string) (string, int) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(base+"/api/security/mobile-auth", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var env struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	return env.Data.Token, resp.StatusCode
}

// me calls the server's GET /api/me with a bearer token.
func me(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// events reads the audit events of a SQLite database.
type event struct {
	ID             int64             `json:"id"`
	Type           string            `json:"type"`
	ActorUserID    int64             `json:"actor_user_id"`
	ActorSessionID string            `json:"actor_session_id"`
	SubjectUserID  int64             `json:"subject_user_id"`
	Subject        string            `json:"subject"`
	Details        map[string]string `json:"details"`
	Hash           string            `json:"hash"`
}

func exported(t *testing.T, db string, args ...string) []event {
	t.Helper()
	r := propsec(t, db, 0, "", append([]string{"audit", "export"}, args...)...)
	var evs []event
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		var e event
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		evs = append(evs, e)
	}
	return evs
}

func lastOfType(evs []event, typ string) (event, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			return evs[i], true
		}
	}
	return event{}, false
}

// requireOperator checks that e names the CLI operator as its actor.
func requireOperator(t *testing.T, e event) {
	t.Helper()
	require.Equal(t, int64(0), e.ActorUserID, "%+v", e)
	require.True(t, strings.HasPrefix(e.ActorSessionID, "cli:"), "%+v", e)
}

// TestTerminateWhileServerRuns: the CLI terminates a session on the
// database a running server uses, and the server refuses the token at
// once; the event names the operator.
func TestTerminateWhileServerRuns(t *testing.T) {
	db := newDB(t)
	base, _ := startServer(t, "-db", db)
	token, code := login(t, base, adminEmail, adminPass)
	require.Equal(t, 200, code)
	require.Equal(t, 200, me(t, base, token))

	r := propsec(t, db, 0, "", "sessions", "list", "-json")
	var s struct {
		ID     string `json:"session_id"`
		UserID int64  `json:"user_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.Split(r.stdout, "\n")[0]), &s))
	require.Equal(t, int64(1), s.UserID)

	r = propsec(t, db, 0, "", "sessions", "terminate", "-dry-run", s.ID)
	require.Contains(t, r.stdout, "would terminate")
	require.Equal(t, 200, me(t, base, token), "a dry run changes nothing")

	r = propsec(t, db, 0, "", "sessions", "terminate", s.ID)
	require.Contains(t, r.stdout, s.ID+": terminated")
	require.Equal(t, 401, me(t, base, token), "the server sees the CLI's terminate")

	e, ok := lastOfType(exported(t, db), "session_terminated")
	require.True(t, ok)
	requireOperator(t, e)
	require.Equal(t, s.ID, e.Subject)

	propsec(t, db, 1, "", "sessions", "terminate", s.ID) // no longer live
}

// TestBlacklist: add with a reason revokes the user's sessions on the
// running server and refuses logins; remove lets them in again.
func TestBlacklist(t *testing.T) {
	db := newDB(t)
	base, _ := startServer(t, "-db", db)
	token, _ := login(t, base, "joe@example.com", "joe's passphrase")
	require.Equal(t, 200, me(t, base, token))

	propsec(t, db, 2, "", "blacklist", "add", "2")            // no reason
	propsec(t, db, 2, "", "blacklist", "add", "-reason", "x") // no user
	r := propsec(t, db, 0, "", "blacklist", "add", "-dry-run", "-reason", "fraud", "2")
	require.Contains(t, r.stdout, "revoke 1 session(s)")
	require.Equal(t, 200, me(t, base, token))

	r = propsec(t, db, 0, "", "blacklist", "add", "-reason", "fraud", "2")
	require.Contains(t, r.stdout, "1 session(s) revoked")
	require.Equal(t, 401, me(t, base, token))
	_, code := login(t, base, "joe@example.com", "joe's passphrase")
	require.NotEqual(t, 200, code, "a blacklisted user cannot log in")

	r = propsec(t, db, 0, "", "blacklist", "list")
	require.Regexp(t, `2\s+Joe\s+\S+\s+operator \(cli\)\s+fraud`, r.stdout)
	evs := exported(t, db)
	e, ok := lastOfType(evs, "blacklist_added")
	require.True(t, ok)
	requireOperator(t, e)
	require.Equal(t, "fraud", e.Details["reason"])

	propsec(t, db, 0, "", "blacklist", "remove", "2")
	_, code = login(t, base, "joe@example.com", "joe's passphrase")
	require.Equal(t, 200, code)
	propsec(t, db, 1, "", "blacklist", "remove", "2") // not blacklisted
	e, ok = lastOfType(exported(t, db), "blacklist_removed")
	require.True(t, ok)
	requireOperator(t, e)
}

// TestUsers: add (password on stdin), list, import, set-password; a
// password given as an argument is refused.
func TestUsers(t *testing.T) {
	db := newDB(t)
	for _, args := range [][]string{
		{"users", "add", "-id", "3", "-email", "a@example.com", "-password", "hunter2hunter2"},
		{"users", "add", "-id", "3", "-email", "a@example.com", "--password=hunter2hunter2"},
		{"users", "set-password", "-new-password", "x", "2"},
	} {
		r := propsec(t, db, 2, "", args...)
		require.Contains(t, r.stderr, "never taken from arguments")
	}
	propsec(t, db, 1, "short\n", "users", "add", "-id", "3", "-email", "ann@example.com", "-type", "staff")
	r := propsec(t, db, 0, "a fine long passphrase\n", "users", "add", "-id", "3", "-email", "ann@example.com",
		"-name", "Ann", "-type", "staff", "-perm", "api.security.sessions.list")
	require.Contains(t, r.stdout, "added user 3")
	propsec(t, db, 1, "a fine long passphrase\n", "users", "add", "-id", "3", "-email", "ann2@example.com")
	propsec(t, db, 2, "x\n", "users", "add", "-id", "4", "-email", "b@example.com", "-perm", "root")

	r = propsec(t, db, 0, "", "users", "list")
	require.Regexp(t, `(?m)^3\s+ann@example.com\s+Ann\s+staff\s+1$`, r.stdout)
	require.NotContains(t, r.stdout, "argon2")
	r = propsec(t, db, 0, "", "users", "list", "-json")
	require.Contains(t, r.stdout, `"email":"joe@example.com"`)
	require.NotContains(t, r.stdout, "argon2")

	users := filepath.Join(t.TempDir(), "u.json")
	writeUsers(t, users, `[{"id":5,"name":"Eve","email":"eve@example.com","password":"eve's passphrase","account_type":"customer"}]`)
	r = propsec(t, db, 0, "", "users", "import", users)
	require.Contains(t, r.stdout, "imported 1 user(s)")
	// A stored name cannot drive the operator's terminal.
	writeUsers(t, users, `[{"id":6,"name":"\u001b[2JMallory","email":"m@example.com","password":"mallory's pass","account_type":"customer"}]`)
	propsec(t, db, 0, "", "users", "import", users)
	r = propsec(t, db, 0, "", "users", "list")
	require.NotContains(t, r.stdout, "\x1b")
	require.Contains(t, r.stdout, `\u001b[2JMallory`)
	writeUsers(t, users, `[{"id":0}]`)
	propsec(t, db, 1, "", "users", "import", users)

	// set-password: the server accepts the new password, not the old,
	// and the user's sessions were revoked.
	base, _ := startServer(t, "-db", db)
	old, _ := login(t, base, "joe@example.com", "joe's passphrase")
	require.Equal(t, 200, me(t, base, old))
	r = propsec(t, db, 0, "a brand new passphrase\n", "users", "set-password", "2")
	require.Contains(t, r.stdout, "1 session(s) revoked")
	require.Equal(t, 401, me(t, base, old))
	_, code := login(t, base, "joe@example.com", "joe's passphrase")
	require.Equal(t, 401, code)
	_, code = login(t, base, "joe@example.com", "a brand new passphrase")
	require.Equal(t, 200, code)

	evs := exported(t, db)
	for _, typ := range []string{"user_added", "user_imported", "password_changed"} {
		e, ok := lastOfType(evs, typ)
		require.True(t, ok, typ)
		requireOperator(t, e)
	}
	e, _ := lastOfType(evs, "password_changed")
	require.Equal(t, "cli", e.Details["reset_by"])
	require.Equal(t, int64(2), e.SubjectUserID)

	// import: the same file again signs nobody out; a file that replaces
	// a password revokes that user's sessions at once.
	eveFile := `[{"id":5,"name":"Eve","email":"eve@example.com","password":"eve's passphrase","account_type":"customer"}]`
	writeUsers(t, users, eveFile)
	eve, code := login(t, base, "eve@example.com", "eve's passphrase")
	require.Equal(t, 200, code)
	r = propsec(t, db, 0, "", "users", "import", users)
	require.NotContains(t, r.stdout, "replaced")
	require.Equal(t, 200, me(t, base, eve))
	writeUsers(t, users, strings.Replace(eveFile, "eve's passphrase", "eve's new passphrase", 1))
	r = propsec(t, db, 0, "", "users", "import", users)
	require.Contains(t, r.stdout, "user 5: password or email replaced; 1 session(s) revoked")
	require.Equal(t, 401, me(t, base, eve))
	e, _ = lastOfType(exported(t, db), "password_changed")
	require.Equal(t, int64(5), e.SubjectUserID)
	requireOperator(t, e)
}

// TestAs: -as attributes actions to a staff user and checks their
// permissions as HTTP would.
func TestAs(t *testing.T) {
	db := newDB(t)
	propsec(t, db, 1, "", "sessions", "list", "-as", "2")  // a customer
	propsec(t, db, 1, "", "sessions", "list", "-as", "99") // nobody
	propsec(t, db, 1, "", "report", "-as", "1")            // lacks the report permission
	propsec(t, db, 0, "", "blacklist", "add", "-as", "1", "-reason", "r", "2")
	propsec(t, db, 1, "", "blacklist", "add", "-as", "1", "-reason", "r", "1") // not oneself
	e, ok := lastOfType(exported(t, db), "blacklist_added")
	require.True(t, ok)
	require.Equal(t, int64(1), e.ActorUserID)
	require.True(t, strings.HasPrefix(e.ActorSessionID, "cli:"))
}

// TestAudit: head, verify against an anchor, export with a period, and a
// tampered SQLite file → exit 1.
func TestAudit(t *testing.T) {
	db := newDB(t)
	base, stop := startServer(t, "-db", db)
	login(t, base, adminEmail, adminPass)
	login(t, base, adminEmail, "wrong password!")
	stop()

	head := strings.TrimSpace(propsec(t, db, 0, "", "audit", "head").stdout)
	require.Regexp(t, `^[1-9]\d*:[0-9a-f]{64}$`, head)
	r := propsec(t, db, 0, "", "audit", "verify", "-anchor", head)
	require.Contains(t, r.stdout, "ok: ")
	require.Contains(t, r.stdout, "1 anchor(s)")
	propsec(t, db, 2, "", "audit", "verify", "-anchor", "nonsense")

	evs := exported(t, db)
	require.NotEmpty(t, evs)
	_, ok := lastOfType(evs, "login_failed")
	require.True(t, ok)
	require.Empty(t, exported(t, db, "-to", "2000-01-01"), "nothing before 2000")
	require.Len(t, exported(t, db, "-from", time.Now().UTC().Format(time.DateOnly)), len(evs))
	require.Len(t, exported(t, db, "-after", fmt.Sprint(evs[0].ID)), len(evs)-1)
	propsec(t, db, 2, "", "audit", "export", "-from", "yesterday")

	// Tamper: edit one event's subject behind the store's back.
	sdb, err := sql.Open("sqlite", db)
	require.NoError(t, err)
	_, err = sdb.Exec(`UPDATE events SET subject = 'forged' WHERE id = ?`, evs[0].ID)
	require.NoError(t, err)
	require.NoError(t, sdb.Close())
	r = propsec(t, db, 1, "", "audit", "verify")
	require.Contains(t, r.stdout, fmt.Sprintf("BROKEN: event %d modified", evs[0].ID))
}

// TestReport: the three formats over a period, and bad periods.
func TestReport(t *testing.T) {
	db := newDB(t)
	base, stop := startServer(t, "-db", db)
	login(t, base, adminEmail, adminPass)
	login(t, base, adminEmail, "wrong password!")
	stop()
	today := time.Now().UTC().Format(time.DateOnly)

	r := propsec(t, db, 0, "", "report", "-from", today, "-to", today, "-format", "json")
	var rep struct {
		Logins struct{ Successful, Failed int64 } `json:"logins"`
		Daily  []json.RawMessage                  `json:"daily"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.Equal(t, int64(1), rep.Logins.Successful)
	require.Equal(t, int64(1), rep.Logins.Failed)
	require.Len(t, rep.Daily, 1)

	r = propsec(t, db, 0, "", "report", "-from", today, "-to", today, "-format", "csv")
	require.Equal(t, "date,logins_successful,logins_failed,new_ip_verifications,sessions_terminated,"+
		"blacklisted_users,file_integrity_violations,password_breaches_detected\n"+today+",1,1,0,0,0,0,0\n", r.stdout)

	r = propsec(t, db, 0, "", "report")
	require.Regexp(t, `(?m)^\s*total\s+1\s+1\s+0`, r.stdout)

	propsec(t, db, 2, "", "report", "-format", "xml")
	propsec(t, db, 2, "", "report", "-from", "2025-01-01", "-to", "2024-01-01")
	propsec(t, db, 2, "", "report", "-from", "2020-01-01", "-to", "2024-01-01")
}

// TestIntegrity: init, scan (exit 1 on a change), alerts, diff, ignore,
// resolve, deployment begin/end, each audited with the operator.
func TestIntegrity(t *testing.T) {
	db := newDB(t)
	www := t.TempDir()
	index := filepath.Join(www, "index.html")
	require.NoError(t, os.WriteFile(index, []byte("hello\n"), 0o644))
	w := []string{"-watch", www}
	in := func(args ...string) []string { return append(args, w...) }

	propsec(t, db, 2, "", "integrity", "scan") // no -watch
	r := propsec(t, db, 0, "", in("integrity", "init")...)
	require.Contains(t, r.stdout, "baseline created: "+www)
	st, err := os.Stat(db + ".integrity-key")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	propsec(t, db, 0, "", in("integrity", "scan")...)

	require.NoError(t, os.WriteFile(index, []byte("hacked\n"), 0o644))
	r = propsec(t, db, 1, "", in("integrity", "scan")...)
	require.Contains(t, r.stdout, "1 violation(s)")
	r = propsec(t, db, 0, "", in("integrity", "alerts", "-json")...)
	var a struct {
		ID       int64  `json:"id"`
		FilePath string `json:"file_path"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.Split(r.stdout, "\n")[0]), &a))
	require.Equal(t, index, a.FilePath)
	r = propsec(t, db, 0, "", in("integrity", "diff", fmt.Sprint(a.ID))...)
	require.Contains(t, r.stdout, "-hello")
	require.Contains(t, r.stdout, "+hacked")

	propsec(t, db, 0, "", in("integrity", "ignore", fmt.Sprint(a.ID))...)
	r = propsec(t, db, 0, "", in("integrity", "alerts", "-status", "ignored")...)
	require.Contains(t, r.stdout, index)
	propsec(t, db, 1, "", in("integrity", "resolve", "999")...)
	propsec(t, db, 2, "", in("integrity", "resolve")...)
	r = propsec(t, db, 0, "", in("integrity", "resolve", "-accept", fmt.Sprint(a.ID))...)
	require.Contains(t, r.stdout, "1 alert(s) resolved")
	propsec(t, db, 0, "", in("integrity", "scan")...) // accepted: no new alert

	propsec(t, db, 2, "", in("integrity", "deployment", "begin")...) // no description
	r = propsec(t, db, 0, "", in("integrity", "deployment", "begin", "-description", "v2")...)
	require.Regexp(t, `deployment dep_\S+ open`, r.stdout)
	require.NoError(t, os.WriteFile(index, []byte("v2\n"), 0o644))
	propsec(t, db, 0, "", in("integrity", "scan")...) // no alerts in the window
	r = propsec(t, db, 0, "", in("integrity", "deployment", "end")...)
	require.Contains(t, r.stdout, "ended")
	propsec(t, db, 0, "", in("integrity", "scan")...)

	evs := exported(t, db)
	for _, typ := range []string{"integrity_alert_ignored", "integrity_alert_accepted", "integrity_deployment_started",
		"integrity_deployment_ended"} {
		e, ok := lastOfType(evs, typ)
		require.True(t, ok, typ)
		requireOperator(t, e)
	}
}

// TestBreach: import with progress to a corpus, then check passwords from
// stdin: exit 1 when one is breached, which is audited.
func TestBreach(t *testing.T) {
	db := newDB(t)
	dir := t.TempDir()
	// SHA-1 of "password" and of "123456", sorted, in the downloader's
	// format.
	txt := "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:100\r\n7C4A8D09CA3762AF61E59520943DC26494F8941B:50\r\n"
	in := filepath.Join(dir, "pwnedpasswords.txt")
	require.NoError(t, os.WriteFile(in, []byte(txt), 0o600))
	corpus := filepath.Join(dir, "pwned.bin")
	r := propsec(t, db, 0, "", "breach", "import", "-in", in, "-out", corpus)
	require.Contains(t, r.stdout, "imported 2 hashes")
	require.Regexp(t, `\[#+\] 100\.0% .*B/s`, r.stderr, "the progress line")
	propsec(t, db, 2, "", "breach", "import", "-in", in)

	r = propsec(t, db, 0, "a passphrase nobody used\n", "breach", "check", "-breach-corpus", corpus)
	require.Equal(t, "not found\n", r.stdout)
	r = propsec(t, db, 1, "a passphrase nobody used\npassword\n", "breach", "check", "-breach-corpus", corpus)
	require.Equal(t, "not found\nbreached 100\n", r.stdout)
	propsec(t, db, 2, "", "breach", "check")
	e, ok := lastOfType(exported(t, db), "password_breach_detected")
	require.True(t, ok)
	requireOperator(t, e)
}

// TestHelpAndUsage: --help on every command (exit 0, on stdout), usage
// errors exit 2 with a hint.
func TestHelpAndUsage(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			r := cliRun(t, nil, "", append(strings.Fields(c.name), "--help")...)
			require.Equal(t, 0, r.code, r.stderr)
			require.Contains(t, r.stdout, "Usage: propsec "+c.name)
			require.Empty(t, r.stderr)
		})
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"users", "--help"}, {"help", "audit", "verify"}} {
		r := cliRun(t, nil, "", args...)
		require.Equal(t, 0, r.code, "%q", args)
		require.Contains(t, r.stdout, "Usage: propsec")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"sesions", "list"}, `did you mean "sessions list"?`},
		{[]string{"users"}, `"users" needs a subcommand`},
		{[]string{"users", "list", "-nope"}, "flag provided but not defined: -nope (see 'propsec users list --help')"},
		{[]string{"users", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"blacklist", "remove"}, "takes 1 argument(s), got 0"},
		{[]string{"sessions", "terminate", "nope"}, "not a session id"},
	} {
		r := cliRun(t, nil, "", tc.args...)
		require.Equal(t, 2, r.code, "%q: %s", tc.args, r.stderr)
		require.Contains(t, r.stderr, tc.want)
	}
	r := cliRun(t, nil, "", "version")
	require.Equal(t, 0, r.code)
	require.Regexp(t, regexp.MustCompile(`^propsec \S`), r.stdout)
}

// TestDBSelection: -db wins over $PROPSEC_DB; a missing SQLite file is not
// created; a $PROPSEC_DB URL's password never shows in --help.
func TestDBSelection(t *testing.T) {
	db := newDB(t)
	missing := filepath.Join(t.TempDir(), "typo.db")
	r := cliRun(t, []string{"PROPSEC_DB=" + missing}, "", "users", "list")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "the server creates the database")
	_, err := os.Stat(missing)
	require.True(t, os.IsNotExist(err), "no database is created")
	r = cliRun(t, []string{"PROPSEC_DB=" + missing}, "", "users", "list", "-db", db)
	require.Equal(t, 0, r.code, r.stderr)
	r = cliRun(t, []string{"PROPSEC_DB=postgres://u:s3cret@h/db"}, "", "users", "list", "--help")
	require.NotContains(t, r.stdout, "s3cret")
	require.Contains(t, r.stdout, "($PROPSEC_DB)")

	// Every flag from its variable: -watch (a path list) and
	// -integrity-key; a bad value is a usage error that hides the value.
	www1, www2 := t.TempDir(), t.TempDir()
	key := strings.Repeat("ab", 32)
	env := []string{"PROPSEC_DB=" + db, "PROPSEC_WATCH=" + www1 + string(os.PathListSeparator) + www2,
		"PROPSEC_INTEGRITY_KEY=" + key}
	r = cliRun(t, env, "", "integrity", "init")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "baseline created: "+www1)
	require.Contains(t, r.stdout, "baseline created: "+www2)
	_, err = os.Stat(db + ".integrity-key")
	require.True(t, os.IsNotExist(err), "the key came from the variable: no key file")
	r = cliRun(t, env, "", "integrity", "scan")
	require.Equal(t, 0, r.code, r.stderr)
	r = cliRun(t, append(env, "PROPSEC_INTEGRITY_KEY="+strings.Repeat("cd", 32)), "", "integrity", "scan", "-integrity-key", key)
	require.Equal(t, 0, r.code, "the flag wins over the variable: %s", r.stderr)
	r = cliRun(t, []string{"PROPSEC_DB=" + db, "PROPSEC_LIMIT=lots"}, "", "sessions", "list")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "$PROPSEC_LIMIT")
}
