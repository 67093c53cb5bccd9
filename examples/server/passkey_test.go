package main

import (
	"encoding/json"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/webauthntest"
)

// TestServerPasskeys: with -passkey-rp-id, the administrator registers a
// passkey, and their next login waits for it and is completed by it.
func TestServerPasskeys(t *testing.T) {
	const origin = "http://localhost:8080"
	base, printed := server(t, "-db", filepath.Join(t.TempDir(), "propsec.db"),
		"-passkey-rp-id", "localhost", "-passkey-origin", origin)
	creds, bearer, csrf := signInAdmin(t, base, printed)
	var code int
	var env envelope
	var cer struct {
		CeremonyID string          `json:"ceremony_id"`
		Options    json.RawMessage `json:"options"`
	}
	code, env = call(t, "POST", base+"/api/security/passkeys", bearer, map[string]any{"action": "register_begin", "csrf_token": csrf()})
	require.Equal(t, 200, code, env.Message)
	require.NoError(t, json.Unmarshal(env.Data, &cer))
	auth := webauthntest.New(origin)
	resp, err := auth.Create(cer.Options)
	require.NoError(t, err)
	code, env = call(t, "POST", base+"/api/security/passkeys", bearer, map[string]any{"action": "register_finish",
		"ceremony_id": cer.CeremonyID, "credential": json.RawMessage(resp), "csrf_token": csrf()})
	require.Equal(t, 200, code, env.Message)

	code, env = call(t, "POST", base+"/api/security/mobile-auth", "", creds)
	require.Equal(t, 202, code, env.Message)
	var ver struct {
		ID      string   `json:"verification_id"`
		Methods []string `json:"methods"`
	}
	require.NoError(t, json.Unmarshal(env.Data, &ver))
	require.Contains(t, ver.Methods, "passkey")
	code, env = call(t, "POST", base+"/api/security/passkey-verification", "", map[string]any{"action": "begin", "verification_id": ver.ID})
	require.Equal(t, 200, code, env.Message)
	require.NoError(t, json.Unmarshal(env.Data, &cer))
	resp, err = auth.Get(cer.Options)
	require.NoError(t, err)
	code, env = call(t, "POST", base+"/api/security/passkey-verification", "", map[string]any{"action": "finish",
		"verification_id": ver.ID, "ceremony_id": cer.CeremonyID, "credential": json.RawMessage(resp)})
	require.Equal(t, 200, code, env.Message)
	code, _ = call(t, "GET", base+"/api/security/passkeys", token(t, env), nil)
	require.Equal(t, 200, code)
}

func TestPasskeyFlags(t *testing.T) {
	_, err := parseFlags([]string{"-passkey-origin", "https://example.com"}, io.Discard)
	require.ErrorContains(t, err, "-passkey-origin needs -passkey-rp-id")
	for _, args := range [][]string{
		{"-passkey-rp-id", "127.0.0.1"},
		{"-passkey-rp-id", "example.com", "-passkey-origin", "http://example.com"},
	} {
		_, err := startStop(t, append([]string{"-db", filepath.Join(t.TempDir(), "p.db")}, args...)...)
		require.ErrorContains(t, err, "passkey", "%q", args)
	}
	// Without the flags the paths are 404s.
	base, _ := server(t, "-db", filepath.Join(t.TempDir(), "propsec.db"))
	code, env := call(t, "GET", base+"/api/security/passkeys", "", nil)
	require.Equal(t, 404, code, env.Message)
}
