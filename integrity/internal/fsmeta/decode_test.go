package fsmeta

import (
	"encoding/binary"
	"strings"
	"testing"
)

func capV(rev uint32, eff bool, perm, inh uint64, rootID uint32) string {
	magic := rev
	if eff {
		magic |= 1
	}
	b := binary.LittleEndian.AppendUint32(nil, magic)
	switch rev {
	case vfsCapRevision1:
		b = binary.LittleEndian.AppendUint32(b, uint32(perm))
		b = binary.LittleEndian.AppendUint32(b, uint32(inh))
	default:
		b = binary.LittleEndian.AppendUint32(b, uint32(perm))
		b = binary.LittleEndian.AppendUint32(b, uint32(inh))
		b = binary.LittleEndian.AppendUint32(b, uint32(perm>>32))
		b = binary.LittleEndian.AppendUint32(b, uint32(inh>>32))
		if rev == vfsCapRevision3 {
			b = binary.LittleEndian.AppendUint32(b, rootID)
		}
	}
	return string(b)
}

func TestCapText(t *testing.T) {
	for _, c := range []struct {
		name, v, want string
	}{
		// What `setcap cap_net_raw+ep f` writes.
		{"setcap net_raw+ep", "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "cap_net_raw+ep"},
		{"v1", capV(vfsCapRevision1, false, 1, 0, 0), "cap_chown+p"},
		{"grouped", capV(vfsCapRevision2, true, 1<<0|1<<5, 1<<12, 0), "cap_chown,cap_kill+ep cap_net_admin+ei"},
		{"inheritable and permitted", capV(vfsCapRevision2, false, 1<<40, 1<<40, 0), "cap_checkpoint_restore+ip"},
		{"unknown number", capV(vfsCapRevision2, false, 1<<63, 0, 0), "cap_63+p"},
		{"v3 rootid", capV(vfsCapRevision3, true, 1<<13, 0, 1000), "cap_net_raw+ep [rootid 1000]"},
		{"empty", capV(vfsCapRevision2, false, 0, 0, 0), "(no capabilities)"},
		{"short", "\x01", "(malformed, 1 bytes)"},
		{"bad size", capV(vfsCapRevision2, false, 1, 0, 0) + "x", "(unknown revision 0x2000000, 21 bytes)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := CapText(c.v); got != c.want {
				t.Errorf("capText = %q, want %q", got, c.want)
			}
		})
	}
}

func aclV(ents ...[3]uint32) string {
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range ents {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return string(b)
}

func TestACL(t *testing.T) {
	base := [][3]uint32{{aclUserObj, 6, 0}, {aclGroupObj, 4, 0}, {aclOther, 4, 0}}
	with := func(extra ...[3]uint32) string { return aclV(append(append([][3]uint32{}, base...), extra...)...) }
	for _, c := range []struct {
		name, v, text string
		write         bool
	}{
		{"minimal", aclV(base...), "user::rw-,group::r--,other::r--", false},
		{"named user writes", with([3]uint32{aclUser, 6, 1000}, [3]uint32{aclMask, 6, 0}), "user::rw-,group::r--,other::r--,user:1000:rw-,mask::rw-", true},
		{"mask takes write away", with([3]uint32{aclUser, 7, 1000}, [3]uint32{aclMask, 5, 0}), "user::rw-,group::r--,other::r--,user:1000:rwx,mask::r-x", false},
		{"named group writes", with([3]uint32{aclGroup, 2, 50}, [3]uint32{aclMask, 7, 0}), "user::rw-,group::r--,other::r--,group:50:-w-,mask::rwx", true},
		{"others write", aclV([3]uint32{aclUserObj, 6, 0}, [3]uint32{aclGroupObj, 4, 0}, [3]uint32{aclOther, 2, 0}), "user::rw-,group::r--,other::-w-", true},
		{"malformed", "\x02\x00\x00\x00\x01", "(malformed, 5 bytes)", true},
		{"wrong version", "\x01\x00\x00\x00", "(malformed, 4 bytes)", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ACLText(c.v); got != c.text {
				t.Errorf("aclText = %q, want %q", got, c.text)
			}
			if got := ACLWritableByOthers(c.v); got != c.write {
				t.Errorf("aclWritableByOthers = %v, want %v", got, c.write)
			}
		})
	}
}

// The decoders take any bytes: they never panic, and what they say fits
// in one line.
func FuzzXAttrDecoders(f *testing.F) {
	f.Add(capV(vfsCapRevision3, true, 1<<13, 1, 5))
	f.Add(aclV([3]uint32{aclUser, 6, 1000}, [3]uint32{aclMask, 6, 0}))
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		for _, s := range []string{CapText(v), ACLText(v)} {
			if s == "" || strings.ContainsAny(s, "\n\r") {
				t.Fatalf("decoded %q as %q", v, s)
			}
		}
		ACLWritableByOthers(v)
	})
}
