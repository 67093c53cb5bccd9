//go:build linux

package fsmeta

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"
)

// xattrSource reads the attributes of one object: through its open
// descriptor, or through a path that is never followed at its end.
type xattrSource struct {
	fd   int    // >= 0: an open descriptor
	path string // otherwise: lgetxattr's path
}

func (s xattrSource) list(b []byte) (int, error) {
	if s.fd >= 0 {
		return unix.Flistxattr(s.fd, b)
	}
	return unix.Llistxattr(s.path, b)
}

func (s xattrSource) get(name string, b []byte) (int, error) {
	if s.fd >= 0 {
		return unix.Fgetxattr(s.fd, name, b)
	}
	return unix.Lgetxattr(s.path, name, b)
}

// metaFd records the extended attributes of the object open as fd.
func (r *Reader) metaFd(c *Info, fd int) { r.readMeta(c, xattrSource{fd: fd}) }

// metaAt records the extended attributes of name in the directory dirfd
// without opening it (a symlink, directory, device, FIFO, socket, or a
// file that cannot be opened). The path goes through /proc/self/fd, so it
// resolves from the directory already open: a directory swapped for a
// symlink on the way is never followed. Without /proc the attributes are
// not recorded (the entry lacks Meta).
func (r *Reader) metaAt(c *Info, dirfd int, name string) {
	path := name // a root: absolute, as configured
	if dirfd != unix.AT_FDCWD {
		path = "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
	}
	r.readMeta(c, xattrSource{fd: -1, path: path})
}

// readMeta fills c.XAttrs and sets c.Meta, or leaves Meta unset and says
// why in c.MetaErr.
func (r *Reader) readMeta(c *Info, src xattrSource) {
	c.XAttrs, c.Meta, c.MetaErr = nil, false, ""
	names, err := r.listXAttrs(src)
	if err != nil {
		c.MetaErr = "extended attributes not read: " + ErrText(err)
		return
	}
	if len(names) == 0 {
		c.Meta = true
		return
	}
	if r.xattrs == nil {
		r.xattrs = new([]XAttr)
	}
	out := (*r.xattrs)[:0]
	for i, name := range names {
		if i >= r.o.MaxXAttrs {
			out = append(out, XAttr{Name: name, Digest: true})
			continue
		}
		v, err := r.getXAttr(src, name)
		switch {
		case errors.Is(err, unix.ENODATA):
			continue // removed since it was listed
		case err != nil:
			c.MetaErr = "extended attribute " + strconv.Quote(name) + " not read: " + ErrText(err)
			return
		}
		a := XAttr{Name: name, Value: string(v)}
		if len(v) > r.o.MaxXAttrValue {
			sum := blake3.Sum256(v)
			a = XAttr{Name: name, Value: string(sum[:]), Digest: true}
		}
		out = append(out, a)
	}
	*r.xattrs = out
	if len(out) > 0 {
		c.XAttrs = out
	}
	c.Meta = true
}

// xattrListMax is the kernel's bound on a name list (XATTR_LIST_MAX), and
// xattrSizeMax on a value (XATTR_SIZE_MAX).
const (
	xattrListMax = 64 << 10
	xattrSizeMax = 64 << 10
)

// listXAttrs returns the sorted names. A file system without extended
// attributes has none.
func (r *Reader) listXAttrs(src xattrSource) ([]string, error) {
	if r.xlist == nil {
		r.xlist = make([]byte, 512) // the kernel allocates what it is offered
	}
	for range 4 {
		n, err := src.list(r.xlist)
		switch {
		case errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EOPNOTSUPP):
			return nil, nil
		case errors.Is(err, unix.ERANGE):
			size, err := src.list(nil)
			if err != nil {
				return nil, err
			}
			r.xlist = make([]byte, min(max(size, 2*len(r.xlist)), xattrListMax))
			continue
		case err != nil:
			return nil, err
		case n == 0:
			return nil, nil // the common case: nothing allocated
		}
		var names []string
		for s := range strings.SplitSeq(string(r.xlist[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		slices.Sort(names)
		return slices.Compact(names), nil
	}
	return nil, unix.ERANGE
}

// getXAttr returns a value, valid until the next call.
func (r *Reader) getXAttr(src xattrSource, name string) ([]byte, error) {
	if r.xval == nil {
		r.xval = make([]byte, 1024)
	}
	for range 4 {
		n, err := src.get(name, r.xval)
		if errors.Is(err, unix.ERANGE) {
			size, err := src.get(name, nil)
			if err != nil {
				return nil, err
			}
			r.xval = make([]byte, min(max(size, 2*len(r.xval)), xattrSizeMax))
			continue
		}
		if err != nil {
			return nil, err
		}
		return r.xval[:n], nil
	}
	return nil, unix.ERANGE
}
