package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = "" +
	"21BD12DC183F740EE76F27B78EB39C8AD972A757:52579\r\n" +
	"21BD16D4A08CB51C8B88FC8CE07742974D7D541D:485\r\n" +
	"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n"

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestImportAndQuery(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "pwnedpasswords.txt")
	out := filepath.Join(dir, "pwned.bin")
	os.WriteFile(in, []byte(sample), 0o644)

	code, stdout, stderr := runCmd(t, "", "import", "-in", in, "-out", out)
	if code != 0 || !strings.Contains(stdout, "imported 3 hashes (3 lines, 0 padding dropped)") ||
		!strings.Contains(stdout, "bytes per hash") {
		t.Fatalf("import: %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCmd(t, "", "verify", "-corpus", out)
	if code != 0 || stdout != out+": 3 sha1 hashes, verified\n" {
		t.Fatalf("verify: %d %q", code, stdout)
	}
	code, stdout, _ = runCmd(t, "", "range", "-corpus", out, "21bd1")
	if code != 0 || stdout != "2DC183F740EE76F27B78EB39C8AD972A757:52579\r\n6D4A08CB51C8B88FC8CE07742974D7D541D:485\r\n" {
		t.Fatalf("range: %d %q", code, stdout)
	}
	code, stdout, _ = runCmd(t, "password\nP@ssw0rd\ncorrect horse battery staple\n", "check", "-corpus", out)
	if code != 0 || stdout != "1: breached 10434004\n2: breached 52579\n3: not found\n" {
		t.Fatalf("check: %d %q", code, stdout)
	}
	code, stdout, stderr = runCmd(t, "21bd16d4a08cb51c8b88fc8ce07742974d7d541d\nnot-a-hash\n", "check", "-corpus", out, "-hashes")
	if code != 1 || stdout != "1: breached 485\n2: invalid\n" || !strings.Contains(stderr, "line 2: hash: must be exactly 40") {
		t.Fatalf("check -hashes: %d %q %q", code, stdout, stderr)
	}
}

func TestImportRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "pwnedpasswords.txt")
	os.WriteFile(in, []byte("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\n21BD12DC183F740EE76F27B78EB39C8AD972A757:1\n"), 0o644)
	code, _, stderr := runCmd(t, "", "import", "-in", in, "-out", filepath.Join(dir, "x.bin"))
	if code != 1 || !strings.Contains(stderr, "pwnedpasswords.txt:2: not sorted") {
		t.Fatalf("%d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.bin")); !os.IsNotExist(err) {
		t.Fatal("output written for bad input")
	}
}

func TestImportDirectory(t *testing.T) {
	dir := t.TempDir()
	ranges := filepath.Join(dir, "hashes")
	os.Mkdir(ranges, 0o755)
	os.WriteFile(filepath.Join(ranges, "5BAA6.txt"), []byte("1E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004"), 0o644)
	out := filepath.Join(dir, "pwned.bin")
	code, _, stderr := runCmd(t, "", "import", "-in", ranges, "-out", out)
	if code != 1 || !strings.Contains(stderr, "range file 00000.txt is missing") {
		t.Fatalf("without -partial: %d %q", code, stderr)
	}
	code, stdout, stderr := runCmd(t, "", "import", "-in", ranges, "-out", out, "-partial", "-quiet")
	if code != 0 || !strings.Contains(stdout, "imported 1 hashes") || stderr != "" {
		t.Fatalf("with -partial: %d %q %q", code, stdout, stderr)
	}
}

func TestBadCommandLines(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte(sample), 0o644)
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{nil, 2, "usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"import"}, 2, "-in is required"},
		{[]string{"import", "-in", in}, 2, "-out is required"},
		{[]string{"import", "-out", "x.bin"}, 2, "-in is required"},
		{[]string{"import", "-in", in, "-out", in}, 2, "same file as -in"},
		{[]string{"import", "-in", in, "-out", dir}, 2, "is a directory"},
		{[]string{"import", "-in", in, "-out", filepath.Join(dir, "no", "x.bin")}, 2, "does not exist"},
		{[]string{"import", "-in", filepath.Join(dir, "none.txt"), "-out", "x.bin"}, 1, "no such file"},
		{[]string{"import", "-in", in, "-out", "x.bin", "-partial"}, 2, "-partial applies to a directory"},
		{[]string{"import", "-in", in, "-out", "x.bin", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"import", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"verify"}, 2, "-corpus FILE"},
		{[]string{"verify", "-corpus", in}, 1, "not a propsec breach corpus"},
		{[]string{"range", "21BD1"}, 2, "-corpus FILE or -hibp is required"},
		{[]string{"range", "-corpus", "a", "-hibp", "21BD1"}, 2, "not both"},
		{[]string{"range", "-hibp=ftp://x", "21BD1"}, 2, "not an http(s) URL"},
		{[]string{"check", "-corpus", filepath.Join(dir, "none.bin")}, 1, "no such file"},
		{[]string{"check", "-hibp", "password"}, 2, "never from arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCmd(t, "", tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.err) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.err)
			}
		})
	}
}

func TestHIBPSource(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.URL.Path == "/range/FFFFF" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "1E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n0000000000000000000000000000000000A:0\r\n")
	}))
	defer srv.Close()
	code, stdout, _ := runCmd(t, "", "range", "-hibp="+srv.URL, "5baa6")
	if code != 0 || stdout != "1E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n" {
		t.Fatalf("range: %d %q", code, stdout)
	}
	code, stdout, stderr := runCmd(t, "password\n", "check", "-hibp="+srv.URL)
	if code != 0 || stdout != "1: breached 10434004\n" {
		t.Fatalf("check: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, "FFFFF00000000000000000000000000000000000\n", "check", "-hashes", "-hibp="+srv.URL)
	if code != 1 || stdout != "1: unavailable\n" || !strings.Contains(stderr, "HTTP 503") {
		t.Fatalf("unavailable: %d %q %q", code, stdout, stderr)
	}
	if fmt.Sprint(paths) != "[/range/5BAA6 /range/5BAA6 /range/FFFFF]" {
		t.Fatalf("upstream saw %v", paths)
	}
}
