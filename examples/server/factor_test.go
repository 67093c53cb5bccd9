package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/session"
)

// TestServerTOTP: with -factor-key or a key file, TOTP enrols (as the console's
// Security view does), and the next login asks for it.
func TestServerTOTP(t *testing.T) {
	for name, args := range map[string][]string{
		"-factor-key": {"-factor-key", strings.Repeat("5a", 32)},
		// The README's command: the key is made beside the database.
		"no flag": nil,
	} {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "propsec.db")
			enrolTOTP(t, db, args...)
			st, err := os.Stat(db + ".factor-key")
			if args != nil {
				require.ErrorIs(t, err, os.ErrNotExist, "a key from the flag leaves no file")
				return
			}
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		})
	}
}

// -require-staff-second-factor: the administrator's session, without a
// factor, can enrol one and nothing else.
func TestServerRequireStaffSecondFactor(t *testing.T) {
	db := filepath.Join(t.TempDir(), "propsec.db")
	base, printed := server(t, "-db", db, "-require-staff-second-factor")
	_, bearer, csrf := signInAdmin(t, base, printed)
	code, env := call(t, "GET", base+"/api/security/sessions", bearer, nil)
	require.Equal(t, 403, code, env.Message)
	require.Contains(t, env.Message, "second factor")
	code, env = call(t, "POST", base+"/api/security/mfa", bearer, map[string]any{"action": "enroll_totp", "csrf_token": csrf()})
	require.Equal(t, 200, code, env.Message)
}

// enrolTOTP starts the server on db with args, enrols TOTP for the
// administrator, and checks that their next login asks for it.
func enrolTOTP(t *testing.T, db string, args ...string) {
	t.Helper()
	base, printed := server(t, append([]string{"-db", db}, args...)...)
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
