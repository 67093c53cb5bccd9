//go:build linux || darwin || freebsd || netbsd || openbsd

package fsmeta

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

// Supported says the file-system layer works here (openat, fstatat and
// O_NOFOLLOW); elsewhere every function fails with errors.ErrUnsupported.
const Supported = true

// Dir is an open directory. Children are opened relative to it with
// O_NOFOLLOW, so a directory swapped for a symlink mid-walk is never
// followed. It is shared by the walker and the workers and closed when the
// last of them lets go ([Dir.Release]).
type Dir struct {
	f    *os.File
	fd   int
	path string
	refs atomic.Int32
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

func openDir(dirfd int, name, path string) (*Dir, error) {
	fd, err := openRetry(dirfd, name, dirFlags)
	if err != nil {
		return nil, err
	}
	d := &Dir{f: os.NewFile(uintptr(fd), path), fd: fd, path: path}
	d.refs.Store(1)
	return d, nil
}

// OpenRoot opens the directory root (absolute), without following it if
// it is a symlink. The caller holds the one reference.
func OpenRoot(root string) (*Dir, error) { return openDir(unix.AT_FDCWD, root, root) }

// OpenSubdir opens the directory name in d, without following it if it is
// a symlink; path is its path, for [Dir.Path] ("" if not needed).
func (d *Dir) OpenSubdir(name, path string) (*Dir, error) {
	return openDir(d.fd, name, path)
}

// Path returns the path d was opened with.
func (d *Dir) Path() string { return d.path }

// Retain adds a reference to d.
func (d *Dir) Retain() { d.refs.Add(1) }

// Release drops a reference to d, closing it with the last one.
func (d *Dir) Release() {
	if d.refs.Add(-1) == 0 {
		d.f.Close()
	}
}

// List returns d's entries, unsorted, and with them the error that ended
// the listing, if any.
func (d *Dir) List() ([]Dirent, error) {
	des, err := d.f.ReadDir(-1)
	out := make([]Dirent, 0, len(des))
	for _, de := range des {
		t := de.Type()
		out = append(out, Dirent{Name: de.Name(), IsDir: t.IsDir(), IsReg: t.IsRegular()})
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

func fillStat(x *Info, st *unix.Stat_t) {
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

// ErrText says why a path could not be opened or read, in the words of an
// alert: "permission denied" for EACCES and EPERM, "name too long", or
// err's text.
func ErrText(err error) string {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return "permission denied"
	case errors.Is(err, unix.ENAMETOOLONG):
		return "name too long"
	}
	return err.Error()
}

// Reader inspects one path at a time; each worker has its own.
type Reader struct {
	o           Options
	h           *blake3.Hasher
	buf         []byte
	xlist, xval []byte   // extended attribute names and values
	xattrs      *[]XAttr // Info.XAttrs (behind a pointer, so that a Reader can live on its goroutine's stack)
}

// NewReader returns a Reader with the options o.
func NewReader(o Options) *Reader {
	o.Keep = o.Keep && o.MaxKeep >= 0
	return &Reader{o: o, h: blake3.New()}
}

// Inspect records in in the state of name in the directory d, or of the
// root itself when d is nil; root and rel name it for the hooks. It
// reports false when the path does not exist. in.XAttrs is valid until
// the Reader's next call; in.Content is the caller's. hintRegular says
// the directory listing called it a regular file, which saves an lstat.
func (r *Reader) Inspect(d *Dir, name, root, rel string, hintRegular bool, in *Info) bool {
	if d == nil {
		return r.inspect(unix.AT_FDCWD, root, root, rel, false, in) != nil
	}
	return r.inspect(d.fd, name, root, rel, hintRegular, in) != nil
}

// inspect records the state of name in the directory dirfd (AT_FDCWD with
// an absolute name for a root) in c, and returns c, or nil when the path
// does not exist.
func (r *Reader) inspect(dirfd int, name string, root, rel string, hintRegular bool, c *Info) *Info {
	*c = Info{}
	if hintRegular {
		if r.o.OpenHook != nil {
			r.o.OpenHook(root, rel)
		}
		fd, err := openFile(dirfd, name)
		switch {
		case err == nil:
			r.readOpen(fd, c, root, rel)
			return c
		case errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			c.Unreadable = ErrText(err)
		}
		// Anything else (ELOOP: it became a symlink, …): look before reading.
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		c.StatError = ErrText(err)
		return c
	}
	fillStat(c, &st)
	if c.Type != TypeFile || c.Unreadable != "" {
		r.metaAt(c, dirfd, name) // not opened: its attributes by path
	}
	switch c.Type {
	case TypeFile:
		if c.Unreadable != "" {
			return c
		}
		if r.o.OpenHook != nil {
			r.o.OpenHook(root, rel)
		}
		fd, err := openFile(dirfd, name)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			c.Unreadable = ErrText(err)
			r.metaAt(c, dirfd, name)
			return c
		}
		r.readOpen(fd, c, root, rel)
	case TypeSymlink:
		buf := make([]byte, 256)
		for {
			n, err := unix.Readlinkat(dirfd, name, buf)
			if err != nil {
				c.Unreadable = ErrText(err)
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
func (r *Reader) readOpen(fd int, c *Info, root, rel string) {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		c.StatError = ErrText(err)
		return
	}
	fillStat(c, &st)
	c.Unreadable = ""
	r.metaFd(c, fd)
	if c.Type != TypeFile {
		return // a FIFO or device swapped in: recorded, never read
	}
	for pass := 1; ; pass++ {
		if st.Size > r.o.MaxHash {
			c.Hash = [32]byte{}
			return
		}
		h, data, err := r.read(fd, st.Size)
		if r.o.Hook != nil {
			r.o.Hook(root, rel, pass)
		}
		if err != nil {
			c.Unreadable = ErrText(err)
			return
		}
		var st2 unix.Stat_t
		if err := unix.Fstat(fd, &st2); err != nil {
			c.StatError = ErrText(err)
			return
		}
		stable := sameRead(&st, &st2)
		if !stable {
			fillStat(c, &st2)
			st = st2
		}
		if stable || pass == 2 {
			if st.Size > r.o.MaxHash {
				return
			}
			c.Hash = h
			c.Changing = !stable
			c.Rehashed = pass == 2
			c.Text = data != nil && bytes.IndexByte(data, 0) < 0
			if c.Text && r.o.Keep {
				c.Content = r.keepContent(data)
			}
			return
		}
	}
}

const chunkBytes = 256 << 10

// read hashes the whole file, whose fstat said it has size bytes. When it
// is no larger than the diff cap it returns the content too (valid until
// the next call). A short read that reaches size ends the read without
// asking for EOF: a file that grew meanwhile is caught by the fstat that
// follows.
func (r *Reader) read(fd int, size int64) ([32]byte, []byte, error) {
	r.h.Reset()
	want := max(r.o.MaxKeep+1, chunkBytes)
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	buf := r.buf[:cap(r.buf)]
	var off int64
	whole := r.o.MaxKeep >= 0
	for {
		if whole {
			// Fill the buffer; the content stays in it while it fits.
			room := buf[off : r.o.MaxKeep+1]
			n, err := pread(fd, room, off)
			if err != nil {
				return [32]byte{}, nil, err
			}
			if n == 0 || (n < len(room) && off+int64(n) == size) {
				off += int64(n)
				r.h.Write(buf[:off])
				var out [32]byte
				r.h.Sum(out[:0])
				return out, buf[:off], nil
			}
			off += int64(n)
			if off > r.o.MaxKeep {
				r.h.Write(buf[:off])
				whole = false
			}
			continue
		}
		n, err := pread(fd, buf[:chunkBytes], off)
		if err != nil {
			return [32]byte{}, nil, err
		}
		if n > 0 {
			r.h.Write(buf[:n])
			off += int64(n)
		}
		if n == 0 || (n < chunkBytes && off == size) {
			var out [32]byte
			r.h.Sum(out[:0])
			return out, nil, nil
		}
		if off > r.o.MaxHash {
			return [32]byte{}, nil, nil // grew past the cap while read: not hashed
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
// Options.ContentRoom bytes of room after it.
func (r *Reader) keepContent(data []byte) []byte {
	n := int64(len(data))
	if r.o.Budget != nil && r.o.Budget.Add(n) > r.o.BudgetMax {
		r.o.Budget.Add(-n)
		return nil
	}
	return append(make([]byte, 0, len(data)+r.o.ContentRoom), data...)
}

// InspectPath inspects root/rel (rel slash-separated, "" for the root) as
// [Reader.Inspect] does, opening each directory on the way with
// O_NOFOLLOW: a symlink anywhere below the root is never followed. A
// directory on the way that cannot be opened (other than gone) gives an
// Info with only StatError set.
func (r *Reader) InspectPath(root, rel string, in *Info) bool {
	if rel == "" {
		return r.inspect(unix.AT_FDCWD, root, root, rel, false, in) != nil
	}
	d, err := OpenRoot(root)
	if err != nil {
		return dirError(err, in)
	}
	defer func() { d.Release() }()
	rest := rel
	for {
		name, more, ok := strings.Cut(rest, "/")
		if !ok {
			return r.inspect(d.fd, rest, root, rel, false, in) != nil
		}
		sub, err := d.OpenSubdir(name, "")
		if err != nil {
			return dirError(err, in)
		}
		d.Release()
		d = sub
		rest = more
	}
}

func dirError(err error, in *Info) bool {
	if IsGone(err) {
		return false
	}
	*in = Info{Status: Status{StatError: ErrText(err)}}
	return true
}

// IsGone reports whether an error opening a directory means it is not (or
// no longer) a directory of the tree: removed, or replaced by a file or a
// symlink.
func IsGone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// Stat returns what name in d is, without following a symlink, as a
// listing would (Name, IsDir, IsReg).
func (d *Dir) Stat(name string) (Dirent, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Dirent{}, err
	}
	return Dirent{Name: name, IsDir: st.Mode&unix.S_IFMT == unix.S_IFDIR, IsReg: st.Mode&unix.S_IFMT == unix.S_IFREG}, nil
}
