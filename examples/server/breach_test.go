package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/propops/propsec/breach"
	"github.com/stretchr/testify/require"
)

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func breachUsers(t *testing.T, dir string) string {
	users := filepath.Join(dir, "users.json")
	require.NoError(t, os.WriteFile(users, []byte(`[
	 {"id": 1, "name": "Ada", "email": "ada@example.com", "password": "password", "account_type": "staff", "permissions": []},
	 {"id": 2, "name": "Bo", "email": "bo@example.com", "password": "a long unbreached passphrase", "account_type": "staff", "permissions": []}]`), 0o600))
	return users
}

// checkBreach runs the endpoint and login checks against a server whose
// breach source knows only the SHA-1 of "password".
func checkBreach(t *testing.T, base string) {
	h := sha1Hex("password")
	code, env := call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": "ada@example.com", "password": "password"})
	require.Equal(t, 200, code, env.Message)
	require.Contains(t, string(env.Data), `"password_breached":true`, "a breached password is flagged at login")
	ada := token(t, env)
	code, env = call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": "bo@example.com", "password": "a long unbreached passphrase"})
	require.Equal(t, 200, code)
	require.NotContains(t, string(env.Data), "password_breached")

	code, env = call(t, "GET", base+"/api/security/password-breach-check?hash_prefix="+h[:5], ada, nil)
	require.Equal(t, 200, code, env.Message)
	require.Contains(t, string(env.Data), `"breached":true`)
	require.Contains(t, string(env.Data), h[5:])
	code, env = call(t, "GET", base+"/api/security/password-breach-check?hash_prefix="+h[:5]+"&hash_suffix="+h[5:], ada, nil)
	require.Equal(t, 200, code, env.Message)
	require.Contains(t, string(env.Data), `"breached":true,"count":42`)
}

func TestServerBreachHIBP(t *testing.T) {
	h := sha1Hex("password")
	var calls atomic.Int32
	var down atomic.Bool
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/range/"+h[:5] {
			w.Write([]byte(h[5:] + ":42\r\n0000000000000000000000000000000000F:0\r\n"))
			return
		}
		w.Write([]byte("0000000000000000000000000000000000F:0\r\n"))
	}))
	defer fake.Close()
	dir := t.TempDir()
	base, _ := server(t, "-db", filepath.Join(dir, "p.db"), "-users", breachUsers(t, dir), "-hibp-url", fake.URL)
	checkBreach(t, base)
	require.Positive(t, calls.Load())

	// Upstream down: logins go through (fail open, unflagged); the
	// endpoint says it could not check (503), never "not breached".
	down.Store(true)
	code, env := call(t, "POST", base+"/api/security/mobile-auth", "", map[string]string{"email": "bo@example.com", "password": "a long unbreached passphrase"})
	require.Equal(t, 200, code, env.Message)
	bo := token(t, env)
	code, env = call(t, "GET", base+"/api/security/password-breach-check?hash_prefix=ABCDE", bo, nil)
	require.Equal(t, 503, code)
	require.Equal(t, "breach_source_unavailable", env.Error)
}

func TestServerBreachCorpus(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "pwnedpasswords.txt")
	lines := []string{"0000000000000000000000000000000000000001:7", sha1Hex("password") + ":42", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:1"}
	require.NoError(t, os.WriteFile(txt, []byte(strings.Join(lines, "\r\n")+"\r\n"), 0o600))
	bin := filepath.Join(dir, "pwned.bin")
	_, err := breach.Import(context.Background(), bin, txt, breach.ImportOptions{})
	require.NoError(t, err)
	// The corpus wins over an unreachable HIBP URL.
	base, _ := server(t, "-db", filepath.Join(dir, "p.db"), "-users", breachUsers(t, dir),
		"-breach-corpus", bin, "-hibp-url", "http://127.0.0.1:1")
	checkBreach(t, base)
}

func TestServerBreachCorpusMissing(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "p.db"),
		"-breach-corpus", "/nonexistent/pwned.bin"}, io.Discard, io.Discard)
	require.Error(t, err)
}
