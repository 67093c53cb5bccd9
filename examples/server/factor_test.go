package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/session"
)

// TestServerTOTP: with -factor-key, TOTP enrols (as the console's
// Security view does), and the next login asks for it.
func TestServerTOTP(t *testing.T) {
	db := filepath.Join(t.TempDir(), "propsec.db")
	base, printed := server(t, "-db", db, "-factor-key", strings.Repeat("5a", 32))
	creds, bearer, csrf := signInAdmin(t, base, printed)
	code, env := call(t, "POST", base+"/api/security/mfa", bearer, map[string]any{"action": "enroll_totp", "csrf_token": csrf()})
	require.Equal(t, 200, code, env.Message)
	var en struct{ Secret string }
	require.NoError(t, json.Unmarshal(env.Data, &en))
	otp, err := session.TOTPCode(en.Secret, time.Now())
	require.NoError(t, err)
	code, env = call(t, "POST", base+"/api/security/mfa", bearer, map[string]any{"action": "confirm_totp", "code": otp,
		"csrf_token": csrf()})
	require.Equal(t, 200, code, env.Message)
	code, env = call(t, "POST", base+"/api/security/mobile-auth", "", creds)
	require.Equal(t, 202, code, env.Message)
}

// signInAdmin logs in the administrator the server printed, by
// mobile-auth: their credentials, the bearer token, and a source of CSRF
// tokens.
func signInAdmin(t *testing.T, base string, printed []string) (creds map[string]string, bearer string, csrf func() string) {
	t.Helper()
	re := regexp.MustCompile(`email (\S+) password (\S+)`)
	for _, l := range printed {
		if m := re.FindStringSubmatch(l); m != nil {
			creds = map[string]string{"email": m[1], "password": m[2]}
		}
	}
	require.NotNil(t, creds, "no administrator printed")
	code, env := call(t, "POST", base+"/api/security/mobile-auth", "", creds)
	require.Equal(t, 200, code, env.Message)
	bearer = token(t, env)
	return creds, bearer, func() string {
		code, env := call(t, "GET", base+"/api/security/csrf-token", bearer, nil)
		require.Equal(t, 200, code)
		return token(t, env)
	}
}
