// Package fsmeta is integrity's file-system layer: it opens the monitored
// tree without ever following a symlink or blocking on a special file, and
// records the state of one path at a time (type, size, mode, owner, times,
// inode, link count, device number, symlink target, extended attributes
// and the BLAKE3 hash of a regular file's content).
//
// # Opening safely
//
// Directories are opened with O_NOFOLLOW ([OpenRoot], [Dir.OpenSubdir])
// and their children relative to them (openat), so a walk never follows a
// symlink and never leaves its root, even if a directory is swapped for a
// symlink mid-walk. Files are opened with O_RDONLY|O_NOFOLLOW|O_NONBLOCK
// (and O_NOATIME where the kernel permits it, falling back when it
// refuses), then fstat'ed; only regular files are read. Symlinks are
// recorded with their target; FIFOs, sockets and devices by type, never
// opened on purpose (and never read if one is swapped in). A file whose
// fstat differs after hashing is hashed once more, and if it changed again
// [Status.Changing] says so.
//
// # Metadata
//
// On Linux the extended attributes of every namespace the process can read
// are recorded: through the descriptor a file was opened with (flistxattr),
// and for what is not opened (symlinks, directories, devices, FIFOs)
// through /proc/self/fd/<directory>/<name> with lgetxattr, so that the
// path resolves from the directory already open. The names are listed
// whole, the values of the first [Options.MaxXAttrs] are read, and one
// over [Options.MaxXAttrValue] bytes is recorded as its BLAKE3-256 digest.
// Elsewhere [Info.Meta] covers the link count and times only.
// [CapText] and [ACLText] decode security.capability and the POSIX ACLs
// for alerts, and [ACLWritableByOthers] grades an ACL.
//
// # Content
//
// A [Reader] hashes a regular file no larger than [Options.MaxHash] and,
// when it is text no larger than [Options.MaxKeep], can hand its content
// back ([Options.Keep]) within a budget of bytes in flight shared by the
// readers of one walk.
package fsmeta

import (
	"sync/atomic"
	"time"
)

// FileType is the kind of a path (integrity names them).
type FileType uint8

// The kinds of paths. Only regular files are ever read.
const (
	TypeFile FileType = iota
	TypeDir
	TypeSymlink
	TypeFIFO
	TypeSocket
	TypeBlockDevice
	TypeCharDevice
)

// XAttr is one extended attribute: its full name, and its value byte for
// byte or (Digest) the 32-byte digest of a long one, or "" with Digest for
// one past the bound whose value was not read. Its fields are those of
// integrity's XAttr.
type XAttr struct {
	Name   string
	Value  string
	Digest bool
}

// The extended attributes whose values are decoded for alerts.
const (
	XAttrCapability = "security.capability"
	XAttrACL        = "system.posix_acl_access"
	XAttrDefaultACL = "system.posix_acl_default"
)

// Dirent is one entry of a directory listing, with the type the listing
// gives (which may be stale by the time it is opened).
type Dirent struct {
	Name  string
	IsDir bool
	IsReg bool
}

// Info is the state of one path.
type Info struct {
	Type FileType
	// Size is the size in bytes (0 for a directory, whose size is never
	// compared).
	Size int64
	// Mode holds the permission bits with setuid, setgid and sticky (07777).
	Mode     uint32
	UID, GID uint32
	// MTime and CTime are the modification and status-change times, UTC.
	MTime, CTime time.Time
	Inode        uint64
	Links        uint64
	// Device is the device number of a block or character device.
	Device uint64
	// Target is where a symlink points.
	Target string
	// Hash is the BLAKE3 hash of a regular file's content; zero when it
	// was not read.
	Hash [32]byte
	// XAttrs are the extended attributes, sorted by name, valid until the
	// Reader's next call; nil when there are none.
	XAttrs []XAttr
	// Meta says Links and XAttrs were recorded.
	Meta bool
	Status
}

// Status says how reading a path went.
type Status struct {
	// Unreadable says why a regular file (or a symlink's target) could not
	// be read; its metadata is still known.
	Unreadable string
	// StatError says why the path could not even be examined.
	StatError string
	// Rehashed: the file changed while it was read, and was read again.
	Rehashed bool
	// Changing: it changed during the second read too.
	Changing bool
	// Text: no larger than the diff cap (Options.MaxKeep) and without NUL
	// bytes.
	Text bool
	// Content is the file's content when it is kept (Options.Keep): the
	// caller's, with Options.ContentRoom bytes of capacity after it.
	Content []byte
	// MetaErr says why the extended attributes could not be read (Meta is
	// then unset: they are neither compared nor recorded).
	MetaErr string
}

// Options configure a [Reader].
type Options struct {
	// MaxHash is the size above which a file is not read.
	MaxHash int64
	// MaxKeep is the size up to which a text file's content is kept
	// (negative: none is).
	MaxKeep int64
	// Keep says to keep the content of text files (Info.Content).
	Keep bool
	// Budget, if not nil, counts the content bytes in flight, which the
	// caller subtracts as it lets go of them; content that would take it
	// past BudgetMax is not kept.
	Budget    *atomic.Int64
	BudgetMax int64
	// ContentRoom is the capacity left after kept content (for sealing it
	// in place).
	ContentRoom int
	// MaxXAttrs is how many attribute values are read; MaxXAttrValue the
	// longest value kept byte for byte.
	MaxXAttrs, MaxXAttrValue int
	// Hook, if not nil, is called after each read of a file (pass 1, and
	// pass 2 when it changed while read); OpenHook before a file found in
	// a listing (or by fstatat) is opened. Both are for tests.
	Hook     func(root, rel string, pass int)
	OpenHook func(root, rel string)
}
