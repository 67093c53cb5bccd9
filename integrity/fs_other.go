//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package integrity

import "sync/atomic"

// File monitoring needs openat, fstatat and O_NOFOLLOW; elsewhere every
// operation that reads the tree fails with errors.ErrUnsupported.
const supported = false

type dirHandle struct {
	path string
}

type dirent struct {
	name  string
	isDir bool
	isReg bool
}

func openRootDir(string) (*dirHandle, error)                       { return nil, errUnsupported }
func (d *dirHandle) openSubdir(string, string) (*dirHandle, error) { return nil, errUnsupported }
func (d *dirHandle) retain()                                       {}
func (d *dirHandle) release()                                      {}
func (d *dirHandle) list() ([]dirent, error)                       { return nil, errUnsupported }
func isGone(error) bool                                            { return false }
func errText(err error) string                                     { return err.Error() }

type reader struct{}

func newReader(*Monitor, bool, *atomic.Int64) *reader { return &reader{} }
func newDiffReader(*Monitor, int64) *reader           { return &reader{} }
func (r *reader) inspectItem(*item, string) *current  { return nil }
func (r *reader) inspectPath(Key) *current            { return nil }
