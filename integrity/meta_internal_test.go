package integrity

import (
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/integrity/internal/fsmeta"
)

// An entry without Meta has the MAC it had before Meta existed (the value
// below was computed by the code of main before this change), so old
// baselines verify; with Meta, or with its fields changed, it does not.
func TestEntryMACKeepsOldBaselines(t *testing.T) {
	k := deriveKeys([]byte("0123456789abcdef0123456789abcdef"))
	t0 := time.Date(2024, 6, 14, 3, 12, 0, 123456789, time.UTC)
	e := Entry{Key: Key{Root: "/r", Path: "p"}, Type: TypeFile, Size: 200, Mode: 0o4755, UID: 7, GID: 8,
		MTime: t0, CTime: t0.Add(time.Second), Inode: 99, ContentKept: true}
	e.Hash[0] = 1
	const golden = "a69f09dda02349a725d32408e4533dd229c6a20881534ddb83efd67bb9795188"
	if got := k.entryMAC(&e).String(); got != golden {
		t.Fatalf("MAC of an entry without Meta %s, want %s", got, golden)
	}
	seen := map[Hash]string{}
	for _, c := range []struct {
		name string
		mod  func(*Entry)
	}{
		{"meta", func(e *Entry) { e.Meta = true }},
		{"links", func(e *Entry) { e.Meta, e.Links = true, 2 }},
		{"xattr", func(e *Entry) { e.Meta, e.XAttrs = true, []XAttr{{Name: "user.a", Value: "1"}} }},
		{"xattr value", func(e *Entry) { e.Meta, e.XAttrs = true, []XAttr{{Name: "user.a", Value: "2"}} }},
		{"xattr digest", func(e *Entry) { e.Meta, e.XAttrs = true, []XAttr{{Name: "user.a", Value: "2", Digest: true}} }},
		{"two xattrs", func(e *Entry) { e.Meta, e.XAttrs = true, []XAttr{{Name: "user.a", Value: "2"}, {Name: "user.b"}} }},
	} {
		x := e
		c.mod(&x)
		mac := k.entryMAC(&x)
		if mac.String() == golden || seen[mac] != "" {
			t.Errorf("%s: MAC collides with %q", c.name, seen[mac])
		}
		seen[mac] = c.name
	}
}

func TestXAttrChanges(t *testing.T) {
	// vfs_cap_data revision 2, effective, permitting cap_net_raw (13) and
	// cap_net_bind_service (10).
	capA := XAttr{Name: fsmeta.XAttrCapability, Value: "\x01\x00\x00\x02\x00\x20" + strings.Repeat("\x00", 14)}
	capB := XAttr{Name: fsmeta.XAttrCapability, Value: "\x01\x00\x00\x02\x00\x04" + strings.Repeat("\x00", 14)}
	old := []XAttr{capA, {Name: "security.selinux", Value: "system_u:object_r:bin_t:s0\x00"}, {Name: "user.a", Value: "\x00\x01"}}
	cur := []XAttr{capB, {Name: "security.selinux", Value: "system_u:object_r:shadow_t:s0\x00"}, {Name: "user.b", Value: "x"}}
	got := xattrChanges(old, cur)
	want := []string{
		"capability changed: cap_net_raw+ep → cap_net_bind_service+ep",
		`xattr security.selinux changed: "system_u:object_r:bin_t:s0" → "system_u:object_r:shadow_t:s0"`,
		"xattr user.a removed: (2 bytes)",
		`xattr user.b added: "x"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// xattrValueText takes any bytes: it never panics, and what it says fits
// in one line.
func FuzzXAttrValueText(f *testing.F) {
	f.Add("")
	f.Add("system_u:object_r:bin_t:s0\x00")
	f.Add("\x00\x01")
	f.Fuzz(func(t *testing.T, v string) {
		for _, a := range []XAttr{{Name: "user.x", Value: v}, {Name: "user.x", Value: v, Digest: true}} {
			if s := xattrValueText(a); s == "" || strings.ContainsAny(s, "\n\r") {
				t.Fatalf("shown %q as %q", v, s)
			}
		}
	})
}
