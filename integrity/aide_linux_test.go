//go:build linux

package integrity_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/propops/propsec/integrity"
)

// The differential test against AIDE runs the tools below as commands; it
// is skipped without them, unless PROPSEC_TEST_AIDE_REQUIRED=1 (CI: see
// .ci/fimtools.sh), when it fails instead.
var aideTools = []string{"aide", "setfattr", "setfacl", "setcap"}

func needAIDE(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range aideTools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, ", ") + ": install aide attr acl libcap2-bin (bash .ci/fimtools.sh)"
	if os.Getenv("PROPSEC_TEST_AIDE_REQUIRED") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// aideConf is the AIDE configuration of the comparison: every attribute
// propsec is meant to match.
const aideConf = `database_in=file:{{db}}/aide.db
database_out=file:{{db}}/aide.db.new
database_add_metadata=no
report_format=json
report_url=stdout
report_level=list_entries
log_level=warning
Checks = p+i+n+u+g+s+m+c+acl+xattrs+caps+sha256
{{root}} Checks
`

// aideTree is the tree every case starts from.
func aideTree(t *testing.T, root string) {
	t.Helper()
	write := func(rel, content string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), mode))
		must(t, os.Chmod(p, mode))
	}
	write("a.txt", "a\n", 0o644)
	write("run.sh", "#!/bin/sh\necho hi\n", 0o755)
	write("pre.txt", "p\n", 0o644)
	write("acl.txt", "acl\n", 0o644)
	write("twin.txt", "t\n", 0o644)
	write("sub/b.txt", "b\n", 0o644)
	must(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
	must(t, os.Link(filepath.Join(root, "twin.txt"), filepath.Join(root, "sub/twin2.txt")))
	must(t, os.Symlink("a.txt", filepath.Join(root, "ln")))
	must(t, unix.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	must(t, unix.Setxattr(filepath.Join(root, "pre.txt"), "user.pre", []byte("v1"), 0))
	run(t, root, "setfacl", "-m", "u:1234:r", "acl.txt")
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// aide runs aide with the case's configuration and returns the paths its
// JSON report lists as added, removed or changed, relative to root ("" is
// root itself).
func aide(t *testing.T, conf, root string, args ...string) map[string]bool {
	t.Helper()
	out, err := exec.Command("aide", append([]string{"-c", conf}, args...)...).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() < 14 { // 1-7: differences found
		err = nil
	}
	if err != nil {
		t.Fatalf("aide %v: %v\n%s", args, err, out)
	}
	if args[0] == "--init" {
		return nil
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("aide report: %v\n%s", err, out)
	}
	paths := map[string]bool{}
	for _, sec := range []string{"added", "removed", "changed"} {
		var m map[string]string
		if raw, ok := rep[sec]; ok {
			must(t, json.Unmarshal(raw, &m))
		}
		for p := range m {
			rel, err := filepath.Rel(root, p)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("aide reported %q outside %q", p, root)
			}
			if rel == "." {
				rel = ""
			}
			paths[filepath.ToSlash(rel)] = true
		}
	}
	return paths
}

func parentOf(rel string) string {
	if !strings.Contains(rel, "/") {
		return ""
	}
	return path.Dir(rel)
}

// TestAIDEDifferential makes each single change to a fresh tree and runs
// AIDE (p+i+n+u+g+s+m+c+acl+xattrs+caps+sha256) and propsec on it: every
// path AIDE reports must be alerted by propsec, and propsec may alert
// nothing else but the parent directory of a path AIDE reports.
func TestAIDEDifferential(t *testing.T) {
	needAIDE(t)
	past := "2001-02-03"
	cases := []struct {
		name   string
		root   bool
		mutate func(t *testing.T, root string)
	}{
		{"chmod", false, func(t *testing.T, r string) { run(t, r, "chmod", "600", "a.txt") }},
		{"chmod same mode", false, func(t *testing.T, r string) { run(t, r, "chmod", "644", "a.txt") }},
		{"setuid", false, func(t *testing.T, r string) { run(t, r, "chmod", "u+s", "run.sh") }},
		{"setgid", false, func(t *testing.T, r string) { run(t, r, "chmod", "g+s", "run.sh") }},
		{"sticky dir", false, func(t *testing.T, r string) { run(t, r, "chmod", "+t", "d") }},
		{"chmod dir", false, func(t *testing.T, r string) { run(t, r, "chmod", "700", "d") }},
		{"chown", true, func(t *testing.T, r string) { run(t, r, "chown", "1234:1234", "a.txt") }},
		{"chgrp", true, func(t *testing.T, r string) { run(t, r, "chgrp", "1234", "a.txt") }},
		{"chown symlink", true, func(t *testing.T, r string) { run(t, r, "chown", "-h", "1234", "ln") }},
		{"setcap", true, func(t *testing.T, r string) { run(t, r, "setcap", "cap_net_raw+ep", "run.sh") }},
		{"setfattr add", false, func(t *testing.T, r string) { run(t, r, "setfattr", "-n", "user.note", "-v", "hello", "a.txt") }},
		{"setfattr change", false, func(t *testing.T, r string) { run(t, r, "setfattr", "-n", "user.pre", "-v", "v2", "pre.txt") }},
		{"setfattr remove", false, func(t *testing.T, r string) { run(t, r, "setfattr", "-x", "user.pre", "pre.txt") }},
		{"setfattr dir", false, func(t *testing.T, r string) { run(t, r, "setfattr", "-n", "user.d", "-v", "1", "d") }},
		{"setfattr trusted", true, func(t *testing.T, r string) { run(t, r, "setfattr", "-n", "trusted.x", "-v", "1", "a.txt") }},
		{"setfacl", false, func(t *testing.T, r string) { run(t, r, "setfacl", "-m", "u:1234:rw", "a.txt") }},
		{"setfacl change", false, func(t *testing.T, r string) { run(t, r, "setfacl", "-m", "u:1234:rwx", "acl.txt") }},
		{"setfacl remove", false, func(t *testing.T, r string) { run(t, r, "setfacl", "-b", "acl.txt") }},
		{"setfacl default", false, func(t *testing.T, r string) { run(t, r, "setfacl", "-d", "-m", "u:1234:rwx", "d") }},
		{"touch -d", false, func(t *testing.T, r string) { run(t, r, "touch", "-d", past, "a.txt") }},
		{"touch -d dir", false, func(t *testing.T, r string) { run(t, r, "touch", "-d", past, "d") }},
		{"touch -h -d symlink", false, func(t *testing.T, r string) { run(t, r, "touch", "-h", "-d", past, "ln") }},
		{"hard link", false, func(t *testing.T, r string) { run(t, r, "ln", "a.txt", "sub/a2.txt") }},
		{"unlink a hard link", false, func(t *testing.T, r string) { run(t, r, "rm", "sub/twin2.txt") }},
		{"unlink", false, func(t *testing.T, r string) { run(t, r, "rm", "a.txt") }},
		{"rename", false, func(t *testing.T, r string) { run(t, r, "mv", "a.txt", "sub/moved.txt") }},
		{"rename in place", false, func(t *testing.T, r string) { run(t, r, "mv", "a.txt", "b.txt") }},
		{"content", false, func(t *testing.T, r string) { must(t, os.WriteFile(filepath.Join(r, "a.txt"), []byte("changed\n"), 0)) }},
		{"content same size", false, func(t *testing.T, r string) { must(t, os.WriteFile(filepath.Join(r, "a.txt"), []byte("b\n"), 0)) }},
		{"content rewritten same", false, func(t *testing.T, r string) { must(t, os.WriteFile(filepath.Join(r, "a.txt"), []byte("a\n"), 0)) }},
		{"append", false, func(t *testing.T, r string) {
			f, err := os.OpenFile(filepath.Join(r, "sub/b.txt"), os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteString("more\n")
			must(t, err)
			must(t, f.Close())
		}},
		{"symlink retarget", false, func(t *testing.T, r string) { run(t, r, "ln", "-sfn", "run.sh", "ln") }},
		{"mkfifo", false, func(t *testing.T, r string) { run(t, r, "mkfifo", "sub/newfifo") }},
		{"rm fifo", false, func(t *testing.T, r string) { run(t, r, "rm", "fifo") }},
		{"mkdir", false, func(t *testing.T, r string) { run(t, r, "mkdir", "sub/newdir") }},
		{"rmdir", false, func(t *testing.T, r string) { run(t, r, "rmdir", "d") }},
		{"file becomes dir", false, func(t *testing.T, r string) { run(t, r, "rm", "a.txt"); run(t, r, "mkdir", "a.txt") }},
		{"new file", false, func(t *testing.T, r string) { run(t, r, "touch", "sub/new.txt") }},
		{"new symlink", false, func(t *testing.T, r string) { run(t, r, "ln", "-s", "/etc/passwd", "sub/pw") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.root && os.Geteuid() != 0 {
				t.Skip("needs root")
			}
			db := t.TempDir()
			conf := filepath.Join(db, "aide.conf")
			var root string
			e := newEnv(t, nil, func(cfg *integrity.Config) {
				root = cfg.Roots[0]
				aideTree(t, root)
				s := strings.NewReplacer("{{db}}", db, "{{root}}", regexp.QuoteMeta(root)).Replace(aideConf)
				must(t, os.WriteFile(conf, []byte(s), 0o600))
				aide(t, conf, root, "--init")
				must(t, os.Rename(filepath.Join(db, "aide.db.new"), filepath.Join(db, "aide.db")))
			})
			if a := aide(t, conf, root, "--check"); len(a) != 0 {
				t.Fatalf("aide reports changes before any: %v", a)
			}
			wantNone(t, e.scan())
			time.Sleep(1100 * time.Millisecond) // AIDE keeps times to the second
			c.mutate(t, root)
			reported := aide(t, conf, root, "--check")
			got := byPath(t, e.scan())
			if len(reported) == 0 {
				t.Fatalf("aide reports nothing; propsec:\n%s", describeAlertMap(got))
			}
			allowed := map[string]bool{}
			for p := range reported {
				allowed[p] = true
				allowed[parentOf(p)] = true
				if _, ok := got[p]; !ok {
					t.Errorf("aide reports %q, propsec does not", p)
				}
			}
			for p, a := range got {
				if !allowed[p] {
					t.Errorf("propsec alerts %q (%s), aide reports neither it nor a child of it", p, a.Details)
				}
			}
			if t.Failed() {
				t.Logf("aide: %v\npropsec:\n%s", reported, describeAlertMap(got))
			}
		})
	}
}

func describeAlertMap(m map[string]integrity.Alert) string {
	as := make([]integrity.Alert, 0, len(m))
	for _, a := range m {
		as = append(as, a)
	}
	return describeAlerts(as)
}
