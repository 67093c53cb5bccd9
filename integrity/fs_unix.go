//go:build linux || darwin || freebsd || netbsd || openbsd

package integrity

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"
)

const supported = true

// dirHandle is an open directory. Children are opened relative to it with
// O_NOFOLLOW, so a directory swapped for a symlink mid-walk is never
// followed. It is shared by the walker and the workers and closed when the
// last of them lets go.
type dirHandle struct {
	f    *os.File
	fd   int
	path string
	refs atomic.Int32
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

func openDir(dirfd int, name, path string) (*dirHandle, error) {
	fd, err := openRetry(dirfd, name, dirFlags)
	if err != nil {
		return nil, err
	}
	d := &dirHandle{f: os.NewFile(uintptr(fd), path), fd: fd, path: path}
	d.refs.Store(1)
	return d, nil
}

func openRootDir(root string) (*dirHandle, error) { return openDir(unix.AT_FDCWD, root, root) }

func (d *dirHandle) openSubdir(name, path string) (*dirHandle, error) {
	return openDir(d.fd, name, path)
}

func (d *dirHandle) retain() { d.refs.Add(1) }

func (d *dirHandle) release() {
	if d.refs.Add(-1) == 0 {
		d.f.Close()
	}
}

type dirent struct {
	name  string
	isDir bool
	isReg bool
}

func (d *dirHandle) list() ([]dirent, error) {
	des, err := d.f.ReadDir(-1)
	out := make([]dirent, 0, len(des))
	for _, de := range des {
		t := de.Type()
		out = append(out, dirent{name: de.Name(), isDir: t.IsDir(), isReg: t.IsRegular()})
	}
	return out, err
}

func openRetry(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// openFile opens a file for reading without following a symlink, without
// blocking on a FIFO or device that slipped in, and without updating its
// access time where the kernel lets us.
func openFile(dirfd int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	if oNoatime != 0 {
		fd, err := openRetry(dirfd, name, flags|oNoatime)
		if err != unix.EPERM { // O_NOATIME needs ownership or CAP_FOWNER
			return fd, err
		}
	}
	return openRetry(dirfd, name, flags)
}

func fileType(mode uint32) FileType {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return TypeFile
	case unix.S_IFDIR:
		return TypeDir
	case unix.S_IFLNK:
		return TypeSymlink
	case unix.S_IFIFO:
		return TypeFIFO
	case unix.S_IFSOCK:
		return TypeSocket
	case unix.S_IFBLK:
		return TypeBlockDevice
	case unix.S_IFCHR:
		return TypeCharDevice
	}
	return TypeFile
}

func timespec(ts unix.Timespec) time.Time { return time.Unix(ts.Unix()).UTC() }

func fillStat(x *Entry, st *unix.Stat_t) {
	x.Type = fileType(uint32(st.Mode))
	x.Size = st.Size
	x.Mode = uint32(st.Mode) & 0o7777
	x.UID, x.GID = st.Uid, st.Gid
	x.MTime, x.CTime = timespec(st.Mtim), timespec(st.Ctim)
	x.Inode = uint64(st.Ino)
	x.Links = uint64(st.Nlink)
	x.Device = 0
	switch x.Type {
	case TypeDir:
		x.Size = 0 // its size changes with its entries; never compared
	case TypeBlockDevice, TypeCharDevice:
		x.Device = uint64(st.Rdev)
	}
}

// sameRead reports whether a file looks unchanged between two fstat calls.
func sameRead(a, b *unix.Stat_t) bool {
	return a.Size == b.Size && a.Mtim == b.Mtim && a.Ctim == b.Ctim && a.Ino == b.Ino
}

func errText(err error) string {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return "permission denied"
	case errors.Is(err, unix.ENAMETOOLONG):
		return "name too long"
	}
	return err.Error()
}

// reader inspects one path at a time; each worker has its own.
type reader struct {
	maxHash, maxDiff int64
	keep             bool          // keep the content of text files
	budget           *atomic.Int64 // content bytes in flight; nil: no limit
	budgetMax        int64
	hook             func(path string, pass int)
	openHook         func(path string)
	h                *blake3.Hasher
	buf              []byte
	xlist, xval      []byte // extended attribute names and values
}

func newReader(m *Monitor, keep bool, budget *atomic.Int64) *reader {
	return &reader{maxHash: m.cfg.MaxHashBytes, maxDiff: m.cfg.MaxDiffBytes, keep: keep && m.cfg.MaxDiffBytes >= 0,
		budget: budget, budgetMax: contentBudget, hook: m.hook, openHook: m.openHook, h: blake3.New()}
}

// newDiffReader returns a reader for the current side of a diff: a file
// whose fstat says it is over limit bytes is neither read nor hashed
// (negative: none is read).
func newDiffReader(m *Monitor, limit int64) *reader {
	r := newReader(m, true, nil)
	r.maxHash = min(r.maxHash, limit)
	return r
}

// inspect records the state of name in the directory dirfd (AT_FDCWD with
// an absolute name for a root). It returns nil when the path does not exist.
// hintRegular says the directory listing called it a regular file, which
// saves an lstat.
func (r *reader) inspect(dirfd int, name string, k Key, hintRegular bool) *current {
	c := &current{Entry: Entry{Key: k}}
	if hintRegular {
		if r.openHook != nil {
			r.openHook(c.FilePath())
		}
		fd, err := openFile(dirfd, name)
		switch {
		case err == nil:
			r.readOpen(fd, c)
			return c
		case errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			c.Unreadable = errText(err)
		}
		// Anything else (ELOOP: it became a symlink, …): look before reading.
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		c.StatError = errText(err)
		return c
	}
	fillStat(&c.Entry, &st)
	if c.Type != TypeFile || c.Unreadable != "" {
		r.metaAt(c, dirfd, name) // not opened: its attributes by path
	}
	switch c.Type {
	case TypeFile:
		if c.Unreadable != "" {
			return c
		}
		if r.openHook != nil {
			r.openHook(c.FilePath())
		}
		fd, err := openFile(dirfd, name)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			c.Unreadable = errText(err)
			r.metaAt(c, dirfd, name)
			return c
		}
		r.readOpen(fd, c)
	case TypeSymlink:
		buf := make([]byte, 256)
		for {
			n, err := unix.Readlinkat(dirfd, name, buf)
			if err != nil {
				c.Unreadable = errText(err)
				break
			}
			if n < len(buf) {
				c.Target = string(buf[:n])
				break
			}
			if len(buf) >= 1<<16 {
				c.Unreadable = "symlink target too long"
				break
			}
			buf = make([]byte, 2*len(buf))
		}
	}
	return c
}

// readOpen fills c from the open descriptor fd and closes it. Only regular
// files are read. A file whose fstat differs after reading is read once
// more; if it differs again, c.Changing is set.
func (r *reader) readOpen(fd int, c *current) {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		c.StatError = errText(err)
		return
	}
	fillStat(&c.Entry, &st)
	c.Unreadable = ""
	r.metaFd(c, fd)
	if c.Type != TypeFile {
		return // a FIFO or device swapped in: recorded, never read
	}
	for pass := 1; ; pass++ {
		if st.Size > r.maxHash {
			c.Hash = Hash{}
			return
		}
		h, data, err := r.read(fd, st.Size)
		if r.hook != nil {
			r.hook(c.FilePath(), pass)
		}
		if err != nil {
			c.Unreadable = errText(err)
			return
		}
		var st2 unix.Stat_t
		if err := unix.Fstat(fd, &st2); err != nil {
			c.StatError = errText(err)
			return
		}
		stable := sameRead(&st, &st2)
		if !stable {
			fillStat(&c.Entry, &st2)
			st = st2
		}
		if stable || pass == 2 {
			if st.Size > r.maxHash {
				return
			}
			c.Hash = h
			c.Changing = !stable
			c.Rehashed = pass == 2
			c.Text = data != nil && bytes.IndexByte(data, 0) < 0
			if c.Text && r.keep {
				c.Content = r.keepContent(data)
			}
			return
		}
	}
}

const (
	chunkBytes    = 256 << 10
	contentBudget = 32 << 20
)

// read hashes the whole file, whose fstat said it has size bytes. When it
// is no larger than the diff cap it returns the content too (valid until
// the next call). A short read that reaches size ends the read without
// asking for EOF: a file that grew meanwhile is caught by the fstat that
// follows.
func (r *reader) read(fd int, size int64) (Hash, []byte, error) {
	r.h.Reset()
	want := max(r.maxDiff+1, chunkBytes)
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	buf := r.buf[:cap(r.buf)]
	var off int64
	whole := r.maxDiff >= 0
	for {
		if whole {
			// Fill the buffer; the content stays in it while it fits.
			room := buf[off : r.maxDiff+1]
			n, err := pread(fd, room, off)
			if err != nil {
				return Hash{}, nil, err
			}
			if n == 0 || (n < len(room) && off+int64(n) == size) {
				off += int64(n)
				r.h.Write(buf[:off])
				var out Hash
				r.h.Sum(out[:0])
				return out, buf[:off], nil
			}
			off += int64(n)
			if off > r.maxDiff {
				r.h.Write(buf[:off])
				whole = false
			}
			continue
		}
		n, err := pread(fd, buf[:chunkBytes], off)
		if err != nil {
			return Hash{}, nil, err
		}
		if n > 0 {
			r.h.Write(buf[:n])
			off += int64(n)
		}
		if n == 0 || (n < chunkBytes && off == size) {
			var out Hash
			r.h.Sum(out[:0])
			return out, nil, nil
		}
		if off > r.maxHash {
			return Hash{}, nil, nil // grew past the cap while read: not hashed
		}
	}
}

func pread(fd int, p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// keepContent copies data if the budget of content in flight allows, with
// room after it to seal the copy in place ([contentBox.seal]).
func (r *reader) keepContent(data []byte) []byte {
	n := int64(len(data))
	if r.budget != nil && r.budget.Add(n) > r.budgetMax {
		r.budget.Add(-n)
		return nil
	}
	return append(make([]byte, 0, len(data)+contentOverhead), data...)
}

// inspectPath inspects root/rel, opening each directory on the way with
// O_NOFOLLOW: a symlink anywhere below the root is never followed.
func (r *reader) inspectPath(k Key) *current {
	if k.Path == "" {
		return r.inspect(unix.AT_FDCWD, k.Root, k, false)
	}
	d, err := openRootDir(k.Root)
	if err != nil {
		return dirError(k, err)
	}
	defer func() { d.release() }()
	rest := k.Path
	for {
		name, more, ok := strings.Cut(rest, "/")
		if !ok {
			return r.inspect(d.fd, rest, k, false)
		}
		sub, err := d.openSubdir(name, "")
		if err != nil {
			return dirError(k, err)
		}
		d.release()
		d = sub
		rest = more
	}
}

func dirError(k Key, err error) *current {
	if isGone(err) {
		return nil
	}
	return &current{Entry: Entry{Key: k}, StatError: errText(err)}
}

// inspectItem inspects a walked path: a root (no directory) or a child of
// an open directory.
func (r *reader) inspectItem(it *item, root string) *current {
	k := Key{Root: root, Path: it.rel}
	if it.dir == nil {
		return r.inspect(unix.AT_FDCWD, root, k, false)
	}
	return r.inspect(it.dir.fd, it.name, k, it.hintReg)
}

// isGone reports whether an error opening a directory means it is not (or
// no longer) a directory of the tree: removed, or replaced by a file or a
// symlink.
func isGone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}
