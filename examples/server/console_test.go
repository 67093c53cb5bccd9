package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// get answers a browser's GET of url: status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// The console is served at /console/ by default, at -console-prefix
// otherwise, and not at all with "off".
func TestServerConsole(t *testing.T) {
	dir := t.TempDir()
	base, _ := server(t, "-db", filepath.Join(dir, "a.db"))
	status, body := get(t, base+"/console/")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `action="/console/login"`)

	base, printed := server(t, "-db", filepath.Join(dir, "b.db"), "-console-prefix", "/staff")
	require.Contains(t, printed, "staff console on "+base+"/staff/", "the address is printed")
	status, body = get(t, base+"/staff/")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `action="/staff/login"`)
	status, _ = get(t, base+"/console/")
	require.Equal(t, http.StatusNotFound, status)

	base, _ = server(t, "-db", filepath.Join(dir, "c.db"), "-console-prefix", "off")
	status, body = get(t, base+"/console/")
	require.Equal(t, http.StatusNotFound, status)
	require.False(t, strings.Contains(body, "signin"))
}
