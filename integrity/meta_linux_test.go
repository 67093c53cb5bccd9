//go:build linux

package integrity_test

import (
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/propops/propsec/integrity"
)

// capValue is a security.capability value (vfs_cap_data revision 2) with
// the permitted set perm and the effective flag.
func capValue(perm uint64, effective bool) []byte {
	b := make([]byte, 20)
	magic := uint32(0x02000000)
	if effective {
		magic |= 1
	}
	binary.LittleEndian.PutUint32(b, magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(perm))
	binary.LittleEndian.PutUint32(b[12:], uint32(perm>>32))
	return b
}

// aclValue is a system.posix_acl_* value of entries {tag, perm, id}.
func aclValue(ents ...[3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range ents {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

// aclNamedUser: user::rw-,user:<uid>:<perm>,group::r--,mask::<perm>,other::r--.
func aclNamedUser(uid, perm uint32) []byte {
	return aclValue([3]uint32{1, 6, 0}, [3]uint32{2, perm, uid}, [3]uint32{4, 4, 0}, [3]uint32{0x10, perm, 0}, [3]uint32{0x20, 4, 0})
}

const capNetRaw = 1 << 13

// entriesChanged is the alert of a directory whose entries changed.
var entriesChanged = wantAlert{integrity.ChangeMetadata, integrity.SeverityLow, []string{"entries added, removed or renamed (mtime "}}

type wantAlert struct {
	change   integrity.Change
	severity integrity.Severity // "": any
	details  []string           // each must be in the details
}

// TestXAttrsLinksTimes makes one change per case to a fresh tree and checks
// the alerts of the next scan: exactly the paths named, with the change,
// severity and details given; then that a second scan raises nothing (the
// observed state covers the new fields).
func TestXAttrsLinksTimes(t *testing.T) {
	files := map[string]string{"run.sh": "#!/bin/sh\n", "data.bin": "d", "notes.txt": "n\n", "pre.txt": "p\n",
		"twin.txt": "t\n", "dir/": "", "dir/in.txt": "i\n"}
	// Before the baseline: pre.txt has user.pre, twin.txt a second name, ln
	// points to run.sh.
	setup := func(t *testing.T, root string) {
		must(t, os.Chmod(root+"/run.sh", 0o755))
		must(t, unix.Setxattr(root+"/pre.txt", "user.pre", []byte("v1"), 0))
		must(t, os.Link(root+"/twin.txt", root+"/dir/twin2.txt"))
		must(t, os.Symlink("run.sh", root+"/ln"))
	}
	past := time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		root   bool // needs root
		mutate func(t *testing.T, e *env)
		want   map[string]wantAlert
	}{
		{"capability granted", true, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("run.sh"), "security.capability", capValue(capNetRaw, true), 0))
		}, map[string]wantAlert{"run.sh": {integrity.ChangeMetadata, integrity.SeverityCritical,
			[]string{"capability added: cap_net_raw+ep"}}}},
		{"capability on a file no rule grades critical", true, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("data.bin"), "security.capability", capValue(1<<21|1, false), 0))
		}, map[string]wantAlert{"data.bin": {integrity.ChangeMetadata, integrity.SeverityCritical,
			[]string{"capability added: cap_chown,cap_sys_admin+p"}}}},
		{"user xattr added", false, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("notes.txt"), "user.note", []byte("hello"), 0))
		}, map[string]wantAlert{"notes.txt": {integrity.ChangeMetadata, integrity.SeverityMedium,
			[]string{`xattr user.note added: "hello"`}}}},
		{"user xattr changed", false, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("pre.txt"), "user.pre", []byte("v2"), 0))
		}, map[string]wantAlert{"pre.txt": {integrity.ChangeMetadata, "", []string{`xattr user.pre changed: "v1" → "v2"`}}}},
		{"user xattr removed", false, func(t *testing.T, e *env) {
			must(t, unix.Removexattr(e.path("pre.txt"), "user.pre"))
		}, map[string]wantAlert{"pre.txt": {integrity.ChangeMetadata, "", []string{`xattr user.pre removed: "v1"`}}}},
		{"long xattr value", false, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("notes.txt"), "user.big", []byte(strings.Repeat("x", 1000)), 0))
		}, map[string]wantAlert{"notes.txt": {integrity.ChangeMetadata, "", []string{"xattr user.big added: (over 256 bytes, digest "}}}},
		{"xattr on a directory", false, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("dir"), "user.d", []byte("1"), 0))
		}, map[string]wantAlert{"dir": {integrity.ChangeMetadata, "", []string{`xattr user.d added: "1"`}}}},
		{"trusted xattr on a symlink", true, func(t *testing.T, e *env) {
			must(t, unix.Lsetxattr(e.path("ln"), "trusted.t", []byte("x"), 0))
		}, map[string]wantAlert{"ln": {integrity.ChangeMetadata, "", []string{`xattr trusted.t added: "x"`}}}},
		{"ACL grants write to a named user", false, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("notes.txt"), "system.posix_acl_access", aclNamedUser(1234, 6), 0))
		}, map[string]wantAlert{"notes.txt": {integrity.ChangeMetadata, integrity.SeverityHigh,
			[]string{"ACL added: user::rw-,user:1234:rw-,group::r--,mask::rw-,other::r--"}}}},
		{"ACL grants read to a named user", false, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("notes.txt"), "system.posix_acl_access", aclNamedUser(1234, 4), 0))
		}, map[string]wantAlert{"notes.txt": {integrity.ChangeMetadata, integrity.SeverityMedium,
			[]string{"ACL added: user::rw-,user:1234:r--,group::r--,mask::r--,other::r--"}}}},
		{"default ACL on a directory", false, func(t *testing.T, e *env) {
			must(t, unix.Setxattr(e.path("dir"), "system.posix_acl_default", aclNamedUser(1234, 7), 0))
		}, map[string]wantAlert{"dir": {integrity.ChangeMetadata, integrity.SeverityHigh,
			[]string{"default ACL added: user::rw-,user:1234:rwx,group::r--,mask::rwx,other::r--"}}}},
		{"setuid on a data file", false, func(t *testing.T, e *env) {
			must(t, os.Chmod(e.path("data.bin"), 0o644|os.ModeSetuid))
		}, map[string]wantAlert{"data.bin": {integrity.ChangeMetadata, integrity.SeverityCritical, []string{"mode changed 0644 → 4644"}}}},
		{"world-writable", false, func(t *testing.T, e *env) {
			must(t, os.Chmod(e.path("notes.txt"), 0o666))
		}, map[string]wantAlert{"notes.txt": {integrity.ChangeMetadata, integrity.SeverityHigh, []string{"mode changed 0644 → 0666"}}}},
		{"new hard link", false, func(t *testing.T, e *env) {
			must(t, os.Link(e.path("notes.txt"), e.path("dir/notes2.txt")))
		}, map[string]wantAlert{"notes.txt": {integrity.ChangeMetadata, "", []string{"links 1 → 2"}},
			"dir/notes2.txt": {integrity.ChangeAdded, "", []string{"new file"}}, "dir": entriesChanged}},
		{"hard link removed", false, func(t *testing.T, e *env) {
			must(t, os.Remove(e.path("dir/twin2.txt")))
		}, map[string]wantAlert{"twin.txt": {integrity.ChangeMetadata, "", []string{"links 2 → 1"}},
			"dir/twin2.txt": {integrity.ChangeDeleted, "", []string{"deleted file"}}, "dir": entriesChanged}},
		{"mtime only", false, func(t *testing.T, e *env) {
			must(t, os.Chtimes(e.path("run.sh"), past, past))
		}, map[string]wantAlert{"run.sh": {integrity.ChangeMetadata, integrity.SeverityLow,
			[]string{"mtime changed, content unchanged (", " → 2001-02-03T00:00:00.000000000Z)"}}}},
		{"ctime only", false, func(t *testing.T, e *env) {
			time.Sleep(20 * time.Millisecond) // past the file system clock's tick
			must(t, os.Chmod(e.path("notes.txt"), 0o644))
		}, map[string]wantAlert{"notes.txt": {integrity.ChangeMetadata, integrity.SeverityLow,
			[]string{"ctime changed, content and metadata unchanged ("}}}},
		{"directory mtime set back", false, func(t *testing.T, e *env) {
			must(t, os.Chtimes(e.path("dir"), past, past))
		}, map[string]wantAlert{"dir": {integrity.ChangeMetadata, integrity.SeverityLow,
			[]string{" → 2001-02-03T00:00:00.000000000Z (not by a change of entries)"}}}},
		{"entry added", false, func(t *testing.T, e *env) {
			e.write("dir/new.txt", "x")
		}, map[string]wantAlert{"dir/new.txt": {integrity.ChangeAdded, "", nil}, "dir": entriesChanged}},
		{"subdirectory added", false, func(t *testing.T, e *env) {
			e.mkdir("dir/sub")
		}, map[string]wantAlert{"dir/sub": {integrity.ChangeAdded, "", nil}, "dir": {integrity.ChangeMetadata, integrity.SeverityLow,
			[]string{"links 2 → 3; entries added, removed or renamed (mtime "}}}},
		{"directory ctime only", false, func(t *testing.T, e *env) {
			time.Sleep(20 * time.Millisecond)
			must(t, os.Chmod(e.path("dir"), 0o755))
		}, map[string]wantAlert{"dir": {integrity.ChangeMetadata, integrity.SeverityLow,
			[]string{"ctime changed, entries and metadata unchanged ("}}}},
		{"symlink mtime", false, func(t *testing.T, e *env) {
			ts := []unix.Timespec{unix.NsecToTimespec(past.UnixNano()), unix.NsecToTimespec(past.UnixNano())}
			must(t, unix.UtimesNanoAt(unix.AT_FDCWD, e.path("ln"), ts, unix.AT_SYMLINK_NOFOLLOW))
		}, map[string]wantAlert{"ln": {integrity.ChangeMetadata, integrity.SeverityLow, []string{"mtime changed "}}}},
		{"content and mtime", false, func(t *testing.T, e *env) {
			e.write("notes.txt", "changed\n")
		}, map[string]wantAlert{"notes.txt": {integrity.ChangeModified, "", []string{"File hash mismatch"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root && os.Geteuid() != 0 {
				t.Skip("needs root (CAP_SETFCAP, CAP_SYS_ADMIN)")
			}
			e := newEnv(t, files, func(cfg *integrity.Config) { setup(t, cfg.Roots[0]) })
			c.mutate(t, e)
			got := byPath(t, e.scan())
			for p, w := range c.want {
				a, ok := got[p]
				if !ok {
					t.Errorf("no alert on %s", p)
					continue
				}
				if a.Change != w.change || (w.severity != "" && a.Severity != w.severity) {
					t.Errorf("%s: %s/%s, want %s/%s: %s", p, a.Change, a.Severity, w.change, w.severity, a.Details)
				}
				for _, s := range w.details {
					if !strings.Contains(a.Details, s) {
						t.Errorf("%s: details %q lack %q", p, a.Details, s)
					}
				}
			}
			for p, a := range got {
				if _, ok := c.want[p]; !ok {
					t.Errorf("unexpected alert on %q: %s", p, a.Details)
				}
			}
			wantNone(t, e.scan())
		})
	}
}

// legacyBaseline rewrites e's baseline as it was recorded before Meta
// existed, properly sealed.
func legacyBaseline(t *testing.T, e *env) {
	t.Helper()
	var all []integrity.Entry
	for x, err := range e.store.Entries(e.ctx, e.root) {
		must(t, err)
		all = append(all, integrity.Legacy(e.mon, x))
	}
	seals, err := e.store.Seals(e.ctx)
	must(t, err)
	seal := seals[0]
	seal.Sum = integrity.SealSum(e.mon, e.root, all)
	must(t, e.store.Stage(e.ctx, "legacy", integrity.Batch{Put: all}))
	must(t, e.store.Commit(e.ctx, integrity.Commit{Set: "legacy",
		Roots: []integrity.RootCommit{{Previous: seals[0].Sum, Replace: true, Seal: seal}}}))
}

// An entry baselined before the extended attributes, link count and times
// were recorded is not alerted on for lacking them; once a new state of it
// is accepted, they are recorded and compared.
func TestLegacyBaseline(t *testing.T) {
	e := newEnv(t, map[string]string{"a.txt": "a\n", "b.txt": "b\n"}, func(cfg *integrity.Config) {
		must(t, unix.Setxattr(cfg.Roots[0]+"/b.txt", "user.pre", []byte("1"), 0))
	})
	legacyBaseline(t, e)
	wantNone(t, e.scan())
	past := time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC)
	must(t, unix.Setxattr(e.path("a.txt"), "user.x", []byte("1"), 0))
	must(t, os.Chtimes(e.path("a.txt"), past, past))
	must(t, os.Link(e.path("b.txt"), e.path("c.txt")))
	got := e.scan()
	if len(got) != 1 || got[0].Path != "c.txt" {
		t.Fatalf("want only c.txt added, got:\n%s", describeAlerts(got))
	}
	// A content change is still found; accepting it records the metadata.
	e.write("b.txt", "b2\n") // and c.txt, its other name
	got = e.scan()
	b, ok := byPath(t, got)["b.txt"]
	if len(got) != 2 || !ok || b.Change != integrity.ChangeModified {
		t.Fatalf("want b.txt modified (and c.txt), got:\n%s", describeAlerts(got))
	}
	must(t, e.mon.AcceptAlert(e.ctx, integrity.Actor{}, b.ID))
	x, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: "b.txt"})
	must(t, err)
	if !x.Meta || x.Links != 2 || len(x.XAttrs) != 1 || x.XAttrs[0] != (integrity.XAttr{Name: "user.pre", Value: "1"}) {
		t.Fatalf("accepted entry %+v", x)
	}
	must(t, unix.Removexattr(e.path("b.txt"), "user.pre")) // c.txt's too: one inode
	got = e.scan()
	if b := byPath(t, got)["b.txt"]; b.Details != `xattr user.pre removed: "1"` {
		t.Fatalf("want b.txt's xattr removed, got:\n%s", describeAlerts(got))
	}
}

// The entry MAC covers the new fields: a baseline record whose attributes
// or link count were edited, or that was made to look older by dropping
// them, is caught.
func TestTamperedMeta(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*integrity.Entry)
	}{
		{"xattr dropped", func(x *integrity.Entry) { x.XAttrs = nil }},
		{"xattr value", func(x *integrity.Entry) { x.XAttrs[0].Value = "2" }},
		{"links", func(x *integrity.Entry) { x.Links++ }},
		{"made legacy", func(x *integrity.Entry) { x.Meta, x.Links, x.XAttrs = false, 0, nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"a.txt": "a\n"}, func(cfg *integrity.Config) {
				must(t, unix.Setxattr(cfg.Roots[0]+"/a.txt", "user.pre", []byte("1"), 0))
			})
			x, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: "a.txt"})
			must(t, err)
			if !x.Meta || len(x.XAttrs) != 1 {
				t.Fatalf("baseline entry %+v", x)
			}
			x.XAttrs = slices.Clone(x.XAttrs)
			c.edit(&x)
			tamper(t, e, integrity.Batch{Put: []integrity.Entry{x}})
			got := e.scan()
			if len(got) != 1 || got[0].Type != integrity.AlertBaselineTampered {
				t.Fatalf("want the tamper alert, got:\n%s", describeAlerts(got))
			}
		})
	}
}
