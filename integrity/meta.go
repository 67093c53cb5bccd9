package integrity

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/propops/propsec/integrity/internal/fsmeta"
)

// XAttr is one extended attribute of a baseline entry: any the scanning
// process can read, in every namespace (user.*, security.* such as
// security.capability and security.selinux, system.posix_acl_access and
// system.posix_acl_default, trusted.* when privileged).
//
// Bounds: the names of an entry are listed whole (the kernel caps the list
// at 64 KiB); the values of the first [MaxXAttrs] names are read, each
// kept byte for byte when no longer than [MaxXAttrValue] and as its
// BLAKE3-256 digest otherwise. A name past MaxXAttrs is recorded with an
// empty digest: its presence is compared, its value is not.
type XAttr struct {
	// Name is the full name, namespace included.
	Name string
	// Value is the value byte for byte, or its digest when Digest is set.
	Value string
	// Digest says Value is the 32-byte digest of a long value (or empty:
	// not read, past MaxXAttrs).
	Digest bool
}

// Bounds of the extended attributes recorded per entry (see [XAttr]).
const (
	MaxXAttrs     = 64
	MaxXAttrValue = 256
)

// xattr returns the value of the attribute name and whether it is present.
func xattr(list []XAttr, name string) (XAttr, bool) {
	i, ok := slices.BinarySearchFunc(list, name, func(a XAttr, n string) int { return strings.Compare(a.Name, n) })
	if !ok {
		return XAttr{}, false
	}
	return list[i], true
}

// contentCompared reports whether compare compares c's content by hash
// (rather than by its stand-ins: size, times and inode).
func contentCompared(old *Entry, c *current) bool {
	return c.Type == TypeFile && c.Unreadable == "" && !old.Hash.IsZero() && !c.Hash.IsZero()
}

// metaCompared reports whether the metadata recorded since entries have
// Meta (links, extended attributes, the times of hashed files) is compared
// between old and c.
func metaCompared(old *Entry, c *current) bool { return old.Meta && c.Meta }

// compareMeta appends to d what changed in the extended attributes, the
// link count and the times of a path whose type did not change; changed
// says whether something else changed already. It reports whether it found
// anything. A file's times are compared only when its content was hashed
// (otherwise they stand in for the content, see compareContent), and only
// when nothing else changed (a new content explains them).
//
// A directory's times and link count change whenever an entry is added,
// removed or renamed in it: the directory then gets a low alert of its own
// besides the entry's, as AIDE reports it. Adding, removing or renaming
// an entry sets the mtime and the ctime to one instant, so a new mtime
// that differs from the ctime was set explicitly (touch -d, a timestamp
// forged to hide a change), and the alert says so.
//
// Only the ctime changed (a change made and reverted, a chmod to the same
// mode, a link made and removed): one low alert, "ctime changed, content
// and metadata unchanged".
func compareMeta(old *Entry, c *current, changed bool, d *[]string) bool {
	if !metaCompared(old, c) {
		return false
	}
	n := len(*d)
	*d = append(*d, xattrChanges(old.XAttrs, c.XAttrs)...)
	if old.Links != c.Links {
		*d = append(*d, fmt.Sprintf("links %d → %d", old.Links, c.Links))
	}
	if (c.Type == TypeFile && !contentCompared(old, c)) || changed {
		return len(*d) > n
	}
	if old.MTime.Equal(c.MTime) && old.CTime.Equal(c.CTime) {
		return len(*d) > n // the common case: no time formatted
	}
	mtimes := stamp(old.MTime) + " → " + stamp(c.MTime)
	switch {
	case !old.MTime.Equal(c.MTime) && c.Type == TypeFile:
		*d = append(*d, "mtime changed, content unchanged ("+mtimes+")")
	case !old.MTime.Equal(c.MTime) && c.Type == TypeDir && c.MTime.Equal(c.CTime):
		*d = append(*d, "entries added, removed or renamed (mtime "+mtimes+")")
	case !old.MTime.Equal(c.MTime) && c.Type == TypeDir:
		*d = append(*d, "mtime set "+mtimes+" (not by a change of entries)")
	case !old.MTime.Equal(c.MTime):
		*d = append(*d, "mtime changed "+mtimes)
	case len(*d) == n && !old.CTime.Equal(c.CTime):
		what := "content"
		if c.Type == TypeDir {
			what = "entries"
		}
		*d = append(*d, "ctime changed, "+what+" and metadata unchanged ("+stamp(old.CTime)+" → "+stamp(c.CTime)+")")
	}
	return len(*d) > n
}

// xattrChanges says what changed between two sorted attribute lists, one
// line per attribute, decoding capabilities and ACLs.
func xattrChanges(old, cur []XAttr) []string {
	var out []string
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		switch {
		case j == len(cur) || (i < len(old) && old[i].Name < cur[j].Name):
			out = append(out, xattrRemoved(old[i]))
			i++
		case i == len(old) || cur[j].Name < old[i].Name:
			out = append(out, xattrAdded(cur[j]))
			j++
		default:
			if old[i] != cur[j] {
				out = append(out, xattrChanged(old[i], cur[j]))
			}
			i++
			j++
		}
	}
	return out
}

// xattrLabel returns how an alert names attribute a, and its value's text.
func xattrLabel(a XAttr) (label, value string) {
	switch {
	case a.Name == fsmeta.XAttrCapability && !a.Digest:
		return "capability", fsmeta.CapText(a.Value)
	case a.Name == fsmeta.XAttrACL && !a.Digest:
		return "ACL", fsmeta.ACLText(a.Value)
	case a.Name == fsmeta.XAttrDefaultACL && !a.Digest:
		return "default ACL", fsmeta.ACLText(a.Value)
	}
	return "xattr " + a.Name, xattrValueText(a)
}

func xattrAdded(a XAttr) string {
	l, v := xattrLabel(a)
	return l + " added: " + v
}

func xattrRemoved(a XAttr) string {
	l, v := xattrLabel(a)
	return l + " removed: " + v
}

func xattrChanged(a, b XAttr) string {
	l, v := xattrLabel(a)
	_, w := xattrLabel(b)
	return l + " changed: " + v + " → " + w
}

// xattrValueText shows a short printable value quoted, and otherwise only
// its size or digest.
func xattrValueText(a XAttr) string {
	switch {
	case a.Digest && a.Value == "":
		return "(value not read)"
	case a.Digest:
		return fmt.Sprintf("(over %d bytes, digest %x)", MaxXAttrValue, a.Value)
	}
	v := strings.TrimSuffix(a.Value, "\x00") // C strings, e.g. SELinux labels
	if len(v) <= 64 && utf8.ValidString(v) && !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("(%d bytes)", len(a.Value))
}

// metaRisk grades a change by the risk of its metadata alone: critical
// when it grants a file capability or setuid/setgid, high when it grants
// write access to others (mode or ACL), low when only the times changed;
// "" when none of these applies and the severity rules decide.
func metaRisk(old *Entry, c *current) Severity {
	if c == nil || c.StatError != "" {
		return ""
	}
	cur := &c.Entry
	if old != nil && old.Type != cur.Type {
		old = nil // a new object under the old name
	}
	// An entry baselined without its attributes says nothing of them.
	known := old == nil || metaCompared(old, c)
	gained := func(has func(*Entry) bool) bool {
		return known && has(cur) && (old == nil || !has(old) || !samePrivilege(old, cur))
	}
	switch {
	case gained(hasCapability), cur.Type == TypeFile && gainedBits(old, cur, 0o6000):
		return SeverityCritical
	case gained(aclGrantsWrite), cur.Type != TypeSymlink && gainedBits(old, cur, 0o002):
		return SeverityHigh
	case old != nil && timesOnly(old, c):
		return SeverityLow
	}
	return ""
}

func hasCapability(e *Entry) bool {
	a, ok := xattr(e.XAttrs, fsmeta.XAttrCapability)
	return ok && a.Value != ""
}

// samePrivilege reports whether the capability and ACLs of a and b are the
// same.
func samePrivilege(a, b *Entry) bool {
	for _, n := range []string{fsmeta.XAttrCapability, fsmeta.XAttrACL, fsmeta.XAttrDefaultACL} {
		x, okx := xattr(a.XAttrs, n)
		y, oky := xattr(b.XAttrs, n)
		if okx != oky || x != y {
			return false
		}
	}
	return true
}

func aclGrantsWrite(e *Entry) bool {
	for _, n := range []string{fsmeta.XAttrACL, fsmeta.XAttrDefaultACL} {
		if a, ok := xattr(e.XAttrs, n); ok && !a.Digest && fsmeta.ACLWritableByOthers(a.Value) {
			return true
		}
	}
	return false
}

// gainedBits reports whether cur has any of the mode bits that old (nil:
// none) lacked.
func gainedBits(old, cur *Entry, bits uint32) bool {
	had := uint32(0)
	if old != nil {
		had = old.Mode
	}
	return cur.Mode&bits&^had != 0
}

// timesOnly reports whether nothing but the times (and a directory's link
// count) differ between old and c, as compare sees them.
func timesOnly(old *Entry, c *current) bool {
	x := &c.Entry
	if !metaCompared(old, c) || c.Unreadable != "" {
		return false
	}
	if x.Type == TypeFile && (!contentCompared(old, c) || old.Hash != x.Hash) {
		return false
	}
	// A directory's link count changes with its subdirectories, as its
	// times do with its entries.
	return old.Type == x.Type && old.Mode == x.Mode && old.UID == x.UID && old.GID == x.GID &&
		(old.Links == x.Links || x.Type == TypeDir) && old.Target == x.Target && old.Device == x.Device &&
		slices.Equal(old.XAttrs, x.XAttrs) && (!old.MTime.Equal(x.MTime) || !old.CTime.Equal(x.CTime))
}

// appendMeta appends the fields recorded with Meta to b, a MAC or state
// encoding (see record.Encoder); the times only when withTimes.
//
// It returns the slice rather than appending through an *encoder: built
// with -race by go1.27.3, a call that appended through the pointer to an
// encoder whose buffer is on the caller's stack had its appends lost in
// the caller (every entry with Meta got one MAC; TestEntryMACKeepsOldBaselines
// caught it), which an explicit assignment avoids.
func appendMeta(b []byte, x *Entry, withTimes bool) []byte {
	e := encoder{B: b}
	e.U64(x.Links)
	e.U64(uint64(len(x.XAttrs)))
	for _, a := range x.XAttrs {
		e.Str(a.Name)
		e.Str(a.Value)
		e.Bool(a.Digest)
	}
	if withTimes {
		e.Time(x.MTime)
		e.Time(x.CTime)
	}
	return e.B
}
