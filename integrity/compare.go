package integrity

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/propops/propsec/integrity/internal/fsmeta"
)

// current is the state of a path as a scan found it: the entry it would
// record, and how reading it went.
type current struct {
	Entry
	fsmeta.Status
}

// compare decides what, if anything, to alert on for one path: old is its
// baseline entry (nil: none), c its current state (nil: absent). One call
// yields at most one alert, carrying the most significant change and every
// difference in its details.
//
// What counts: for every type, the type itself and (when the type is the
// same) the mode and owner, except a symlink's mode, which means nothing;
// for files, the content hash, or (when either side was not hashed) size,
// mtime, inode and ctime as stand-ins; for symlinks the target; for devices
// the device number. When both sides have Meta, also the extended
// attributes, the link count and the times (see compareMeta). A
// directory's size and inode are not compared, nor is the inode of a
// hashed file, whose content speaks for itself.
func (m *Monitor) compare(old *Entry, c *current) (AlertType, Change, string) {
	switch {
	case old == nil && c == nil:
		return "", ChangeNone, ""
	case c != nil && c.StatError != "":
		return AlertUnreadable, ChangeNone, "cannot examine: " + c.StatError
	case old == nil:
		d := "new " + describe(&c.Entry)
		if c.Unreadable != "" {
			d += "; content not read: " + c.Unreadable
		}
		return AlertViolation, ChangeAdded, d + changingNote(c)
	case c == nil:
		return AlertViolation, ChangeDeleted, "deleted " + describe(old)
	}
	var d []string
	change := ChangeNone
	noted := false
	modified := func(s string) {
		d = append(d, s)
		change = ChangeModified
	}
	if old.Type != c.Type {
		s := fmt.Sprintf("type changed %s → %s", old.Type, c.Type)
		if c.Type == TypeSymlink {
			s += fmt.Sprintf(" (pointing to %q)", c.Target)
		}
		modified(s)
	} else {
		switch c.Type {
		case TypeFile:
			noted = m.compareContent(old, c, modified, &d)
		case TypeSymlink:
			if old.Target != c.Target {
				modified(fmt.Sprintf("symlink target changed %q → %q", old.Target, c.Target))
			}
		case TypeBlockDevice, TypeCharDevice:
			if old.Device != c.Device {
				modified(fmt.Sprintf("device number changed %#x → %#x", old.Device, c.Device))
			}
		}
		if c.Type != TypeSymlink && old.Mode != c.Mode {
			d = append(d, fmt.Sprintf("mode changed %04o → %04o", old.Mode, c.Mode))
			if change == ChangeNone {
				change = ChangeMetadata
			}
		}
		if old.UID != c.UID || old.GID != c.GID {
			d = append(d, fmt.Sprintf("owner changed %d:%d → %d:%d", old.UID, old.GID, c.UID, c.GID))
			if change == ChangeNone {
				change = ChangeMetadata
			}
		}
		if compareMeta(old, c, change != ChangeNone, &d) && change == ChangeNone {
			change = ChangeMetadata
		}
	}
	if change == ChangeNone {
		if c.Unreadable == "" {
			return "", ChangeNone, ""
		}
		if c.Type == TypeDir {
			return AlertUnreadable, ChangeNone, "cannot list entries: " + c.Unreadable
		}
		return AlertUnreadable, ChangeNone, "cannot read: " + c.Unreadable
	}
	if c.Unreadable != "" && !noted {
		if c.Type == TypeDir {
			d = append(d, "entries not listed: "+c.Unreadable)
		} else {
			d = append(d, "content not checked: "+c.Unreadable)
		}
	}
	return AlertViolation, change, strings.Join(d, "; ") + changingNote(c)
}

// compareContent compares a file's content, or its stand-ins; it reports
// whether it noted that the content could not be read.
func (m *Monitor) compareContent(old *Entry, c *current, modified func(string), d *[]string) (noted bool) {
	if c.Unreadable == "" && !old.Hash.IsZero() && !c.Hash.IsZero() {
		if old.Hash != c.Hash {
			s := fmt.Sprintf("File hash mismatch — expected: %s, got: %s", old.Hash, c.Hash)
			if old.Size != c.Size {
				s += fmt.Sprintf("; size %d → %d bytes", old.Size, c.Size)
			}
			modified(s)
		}
		return false
	}
	// The content cannot be compared: size, mtime, inode and ctime stand in.
	// A ctime change alone counts only when mode and owner did not change
	// (which would explain it).
	var why string
	switch {
	case c.Unreadable != "":
		why = "content not checked: " + c.Unreadable
	case c.Hash.IsZero():
		why = fmt.Sprintf("not hashed: over %d bytes", m.cfg.MaxHashBytes)
	default:
		why = "known-good content was not hashed"
	}
	var diffs []string
	if old.Size != c.Size {
		diffs = append(diffs, fmt.Sprintf("size %d → %d bytes", old.Size, c.Size))
	}
	if !old.MTime.Equal(c.MTime) {
		diffs = append(diffs, "mtime changed "+stamp(old.MTime)+" → "+stamp(c.MTime))
	}
	if old.Inode != c.Inode {
		diffs = append(diffs, fmt.Sprintf("inode changed %d → %d", old.Inode, c.Inode))
	}
	metaSame := old.Mode == c.Mode && old.UID == c.UID && old.GID == c.GID &&
		(!metaCompared(old, c) || (old.Links == c.Links && slices.Equal(old.XAttrs, c.XAttrs)))
	if len(diffs) == 0 && metaSame && !old.CTime.Equal(c.CTime) {
		diffs = append(diffs, "ctime changed "+stamp(old.CTime)+" → "+stamp(c.CTime))
	}
	if len(diffs) > 0 {
		modified(strings.Join(diffs, "; ") + " (" + why + ")")
		return c.Unreadable != ""
	}
	if c.Unreadable == "" && !old.Hash.IsZero() && c.Hash.IsZero() {
		*d = append(*d, why)
	}
	return false
}

func changingNote(c *current) string {
	switch {
	case c == nil:
		return ""
	case c.Changing:
		return "; the file was still changing while it was read (read twice)"
	case c.Rehashed:
		return "; the file changed while it was read and was read again"
	}
	return ""
}

func stamp(t time.Time) string {
	return t.Format("2006-01-02T15:04:05.000000000Z07:00")
}

// describe summarises an entry for alert details.
func describe(e *Entry) string {
	switch e.Type {
	case TypeFile:
		s := fmt.Sprintf("file (%d bytes, mode %04o, owner %d:%d", e.Size, e.Mode, e.UID, e.GID)
		if !e.Hash.IsZero() {
			s += ", hash " + e.Hash.String()
		}
		return s + ")"
	case TypeDir:
		return fmt.Sprintf("directory (mode %04o, owner %d:%d)", e.Mode, e.UID, e.GID)
	case TypeSymlink:
		return fmt.Sprintf("symlink to %q (owner %d:%d)", e.Target, e.UID, e.GID)
	case TypeBlockDevice, TypeCharDevice:
		return fmt.Sprintf("%s %#x (mode %04o, owner %d:%d)", strings.ReplaceAll(string(e.Type), "_", " "), e.Device, e.Mode, e.UID, e.GID)
	}
	return fmt.Sprintf("%s (mode %04o, owner %d:%d)", e.Type, e.Mode, e.UID, e.GID)
}

func isExecutable(e *Entry) bool { return e != nil && e.Type == TypeFile && e.Mode&0o111 != 0 }

// severity grades the alert of path rel: by the risk of its metadata
// change when that says critical or high (never lowering what a rule says)
// or low (a change of times only), and otherwise by the first matching
// rule.
func (m *Monitor) severity(rel string, old *Entry, c *current) Severity {
	risk := metaRisk(old, c)
	if risk == SeverityLow {
		return risk
	}
	if s := m.ruleSeverity(rel, old, c); s.Rank() >= risk.Rank() {
		return s
	}
	return risk
}

// ruleSeverity grades the alert of path rel by the first matching rule.
func (m *Monitor) ruleSeverity(rel string, old *Entry, c *current) Severity {
	exec := isExecutable(old) || (c != nil && isExecutable(&c.Entry))
	for i := range m.rules {
		r := &m.rules[i]
		if r.executable && !exec {
			continue
		}
		if r.glob != nil && !r.glob.Match(rel) {
			continue
		}
		return r.severity
	}
	return m.cfg.DefaultSeverity
}
