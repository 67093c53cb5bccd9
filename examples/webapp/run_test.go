package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// startRun runs the program as main does, on a free port, and returns its
// address and the lines it printed before listening.
func startRun(t *testing.T, args ...string) (base string, printed []string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.CloseWithError(err)
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		printed = append(printed, line)
		if addr, ok := strings.CutPrefix(line, "listening on "); ok {
			base = addr
			break
		}
	}
	require.NotEmpty(t, base, "not listening: %v %v", printed, sc.Err())
	go io.Copy(io.Discard, pr)
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return base, printed, stop
}

var demoRE = regexp.MustCompile(`^created demo user: email (\S+) password (\S+) \(shown once\)$`)

// The program seeds a demo user into an empty database, prints its
// password once, serves the login form and the pages over plain HTTP with
// -insecure-cookies, and stops cleanly; started again on the same file it
// prints no password.
func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "webapp.db")
	base, printed, stop := startRun(t, "-db", db, "-insecure-cookies")
	require.Len(t, printed, 2, printed)
	m := demoRE.FindStringSubmatch(printed[0])
	require.NotNil(t, m, printed[0])
	email, password := m[1], m[2]
	require.Equal(t, demoEmail, email)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	form := url.Values{"email": {email}, "password": {password}, "next": {"/sessions"}}
	req, err := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/sessions", resp.Request.URL.Path)
	require.Contains(t, string(body), "Demo User")
	require.Contains(t, string(body), "this browser")
	require.NoError(t, stop())

	_, printed, stop = startRun(t, "-db", db)
	require.Len(t, printed, 1, "no second demo password: %v", printed)
	require.NoError(t, stop())
}

func TestRunFlags(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-trusted-proxy", "not-an-ip"}} {
		err := run(t.Context(), args, io.Discard, io.Discard)
		require.Error(t, err, "%v", args)
	}
}
