//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package fsmeta

import (
	"errors"
	"fmt"
)

// Supported says the file-system layer works here: it needs openat,
// fstatat and O_NOFOLLOW; elsewhere every function that reads the tree
// fails with errors.ErrUnsupported.
const Supported = false

var errUnsupported = fmt.Errorf("fsmeta: not supported on this system: %w", errors.ErrUnsupported)

// Dir is an open directory (never, here).
type Dir struct {
	path string
}

// OpenRoot fails with errors.ErrUnsupported.
func OpenRoot(string) (*Dir, error) { return nil, errUnsupported }

// OpenSubdir fails with errors.ErrUnsupported.
func (d *Dir) OpenSubdir(string, string) (*Dir, error) { return nil, errUnsupported }

// Path returns the path d was opened with.
func (d *Dir) Path() string { return d.path }

// Retain does nothing.
func (d *Dir) Retain() {}

// Release does nothing.
func (d *Dir) Release() {}

// List fails with errors.ErrUnsupported.
func (d *Dir) List() ([]Dirent, error) { return nil, errUnsupported }

// IsGone reports false.
func IsGone(error) bool { return false }

// ErrText returns err's text.
func ErrText(err error) string { return err.Error() }

// Reader inspects nothing here.
type Reader struct{}

// NewReader returns a Reader.
func NewReader(Options) *Reader { return &Reader{} }

// Inspect reports false.
func (r *Reader) Inspect(*Dir, string, string, string, bool, *Info) bool { return false }

// InspectPath reports false.
func (r *Reader) InspectPath(string, string, *Info) bool { return false }

// Stat fails with errors.ErrUnsupported.
func (d *Dir) Stat(string) (Dirent, error) { return Dirent{}, errUnsupported }
