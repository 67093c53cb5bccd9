package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/geoiptest"
)

// With -geoip a session shows where its login came from: the client
// address a trusted proxy forwards, looked up in the database; local
// addresses stay "Local network".
func TestServerGeoIP(t *testing.T) {
	dir := t.TempDir()
	mmdb := filepath.Join(dir, "city.mmdb")
	require.NoError(t, geoiptest.Write(mmdb, map[string]geoiptest.Place{
		"81.2.69.0/24":   {City: "London", Country: "GB", Extra: true},
		"89.160.20.0/24": {Country: "SE"},
	}))
	users := filepath.Join(dir, "users.json")
	require.NoError(t, os.WriteFile(users, []byte(`[
	 {"id": 42, "name": "Jane Smith", "email": "jane@example.com", "password": "correct horse battery",
	  "account_type": "staff", "permissions": ["api.security.sessions.list"]}
	]`), 0o600))
	for i, c := range []struct {
		name, forwarded, geo, want string
	}{
		{"city", "81.2.69.142", mmdb, "London, GB"},
		{"country only", "89.160.20.112", mmdb, "SE"},
		{"not in the database", "198.51.100.23", mmdb, ""},
		{"private", "10.1.2.3", mmdb, "Local network"},
		{"no -geoip", "81.2.69.142", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"-db", filepath.Join(dir, fmt.Sprintf("p%d.db", i)), "-users", users, "-trusted-proxy", "127.0.0.1"}
			if c.geo != "" {
				args = append(args, "-geoip", c.geo)
			}
			base, _ := server(t, args...)
			code, env := callWith(t, "POST", base+"/api/security/mobile-auth", "", http.Header{"X-Forwarded-For": {c.forwarded}},
				map[string]string{"email": "jane@example.com", "password": "correct horse battery"})
			require.Equal(t, 200, code, env.Message)
			code, env = call(t, "GET", base+"/api/security/sessions?action=list", token(t, env), nil)
			require.Equal(t, 200, code, env.Message)
			var list []struct {
				IPAddress string `json:"ip_address"`
				Location  string `json:"location"`
			}
			require.NoError(t, json.Unmarshal(env.Data, &list))
			require.Len(t, list, 1)
			require.Equal(t, c.forwarded, list[0].IPAddress)
			require.Equal(t, c.want, list[0].Location)
		})
	}
}

func TestServerGeoIPBadFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.mmdb")
	require.NoError(t, os.WriteFile(bad, []byte("not a database"), 0o600))
	for _, path := range []string{bad, filepath.Join(t.TempDir(), "missing.mmdb")} {
		_, err := startStop(t, "-db", filepath.Join(t.TempDir(), "p.db"), "-geoip", path)
		require.ErrorContains(t, err, "geoip", "a bad -geoip stops the server at start")
	}
}
