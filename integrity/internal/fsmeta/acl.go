package fsmeta

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The POSIX ACL extended attribute format (linux/posix_acl_xattr.h): a
// little-endian version word, then 8-byte entries of tag, permissions and
// id.
const (
	aclVersion  = 2
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
	aclWrite    = 0x02
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// parseACL decodes a system.posix_acl_access or _default value.
func parseACL(v string) ([]aclEntry, bool) {
	b := []byte(v)
	if len(b) < 4 || (len(b)-4)%8 != 0 || binary.LittleEndian.Uint32(b) != aclVersion {
		return nil, false
	}
	out := make([]aclEntry, 0, (len(b)-4)/8)
	for p := b[4:]; len(p) > 0; p = p[8:] {
		out = append(out, aclEntry{tag: binary.LittleEndian.Uint16(p), perm: binary.LittleEndian.Uint16(p[2:]),
			id: binary.LittleEndian.Uint32(p[4:])})
	}
	return out, true
}

// ACLText returns an ACL in the short text form of getfacl:
// "user::rw-,user:1000:rwx,group::r--,mask::rwx,other::r--".
func ACLText(v string) string {
	ents, ok := parseACL(v)
	if !ok {
		return fmt.Sprintf("(malformed, %d bytes)", len(v))
	}
	parts := make([]string, 0, len(ents))
	for _, e := range ents {
		var tag, id string
		switch e.tag {
		case aclUserObj:
			tag = "user"
		case aclUser:
			tag, id = "user", fmt.Sprint(e.id)
		case aclGroupObj:
			tag = "group"
		case aclGroup:
			tag, id = "group", fmt.Sprint(e.id)
		case aclMask:
			tag = "mask"
		case aclOther:
			tag = "other"
		default:
			tag, id = fmt.Sprintf("tag%#x", e.tag), fmt.Sprint(e.id)
		}
		parts = append(parts, tag+":"+id+":"+rwx(e.perm))
	}
	if len(parts) == 0 {
		return "(empty)"
	}
	return strings.Join(parts, ",")
}

func rwx(p uint16) string {
	b := []byte("---")
	for i, c := range "rwx" {
		if p&(4>>i) != 0 {
			b[i] = byte(c)
		}
	}
	return string(b)
}

// ACLWritableByOthers reports whether an ACL grants write to anyone but the
// owner and the owning group: a named user or group (through the mask), or
// others. A value that does not decode counts as granting it.
func ACLWritableByOthers(v string) bool {
	ents, ok := parseACL(v)
	if !ok {
		return true
	}
	mask := uint16(7)
	for _, e := range ents {
		if e.tag == aclMask {
			mask = e.perm
		}
	}
	for _, e := range ents {
		switch e.tag {
		case aclUser, aclGroup:
			if e.perm&mask&aclWrite != 0 {
				return true
			}
		case aclOther:
			if e.perm&aclWrite != 0 {
				return true
			}
		}
	}
	return false
}
