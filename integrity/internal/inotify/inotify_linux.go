package inotify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

const watchMask = unix.IN_CLOSE_WRITE | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE |
	unix.IN_DELETE_SELF | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK

// eventBufBytes is the read buffer: room for hundreds of events.
const eventBufBytes = 64 << 10

// Watcher is one inotify instance.
type Watcher struct {
	fd     int
	file   *os.File // fd, read through the runtime's poller
	closed atomic.Bool
}

// New returns a Watcher watching nothing yet.
func New() (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	return &Watcher{fd: fd, file: os.NewFile(uintptr(fd), "inotify")}, nil
}

// Close closes the instance, which ends Read.
func (w *Watcher) Close() {
	w.closed.Store(true)
	w.file.Close()
}

// Add watches the directory path, not following a symlink, and returns
// the watch descriptor. Adding a directory watched already returns its
// descriptor again.
func (w *Watcher) Add(path string) (int32, error) {
	wd, err := unix.InotifyAddWatch(w.fd, path, watchMask)
	return int32(wd), err
}

// Remove removes the watch wd. A watch whose directory is gone is removed
// already (the kernel's EINVAL is ignored).
func (w *Watcher) Remove(wd int32) {
	unix.InotifyRmWatch(w.fd, uint32(wd))
}

// IsLimit reports whether err, from Add, means the kernel's watch limit
// (ENOSPC) or its memory (ENOMEM) is exhausted.
func IsLimit(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.ENOMEM)
}

// MaxUserWatches returns fs.inotify.max_user_watches, or "unknown".
func MaxUserWatches() string {
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_watches"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return "unknown"
}

// Read reads events and hands them to handle, in order, until the
// instance is closed (it then returns nil) or reading fails.
func (w *Watcher) Read(handle func(Event)) error {
	buf := make([]byte, eventBufBytes)
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			if w.closed.Load() || errors.Is(err, os.ErrClosed) {
				return nil
			}
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			start := off + unix.SizeofInotifyEvent
			end := start + nameLen
			if end > n {
				break
			}
			name := buf[start:end]
			if i := strings.IndexByte(string(name), 0); i >= 0 {
				name = name[:i]
			}
			handle(Event{WD: wd, Mask: mask, Name: string(name)})
			off = end
		}
	}
}

// Event is one inotify event: of the watch WD, about its entry Name (""
// for the watched directory itself), with the IN_* bits of Mask.
type Event struct {
	WD   int32
	Mask uint32
	Name string
}

// OverflowEvent is the event the kernel sends when its queue overflowed.
var OverflowEvent = Event{WD: -1, Mask: unix.IN_Q_OVERFLOW}

// Overflow says the kernel's queue overflowed: events were lost.
func (e Event) Overflow() bool { return e.Mask&unix.IN_Q_OVERFLOW != 0 }

// Ignored says the watch was removed (its directory is gone, or Remove).
func (e Event) Ignored() bool { return e.Mask&unix.IN_IGNORED != 0 }

// SelfGone says the watched directory itself was deleted or moved.
func (e Event) SelfGone() bool { return e.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 }

// IsDir says the entry is a directory.
func (e Event) IsDir() bool { return e.Mask&unix.IN_ISDIR != 0 }

// EntriesChanged says an entry was added, removed or renamed in the
// directory.
func (e Event) EntriesChanged() bool {
	return e.Mask&(unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO) != 0
}

// Arrived says the entry was created or moved in.
func (e Event) Arrived() bool { return e.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 }

// Left says the entry was deleted or moved out.
func (e Event) Left() bool { return e.Mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0 }

// Writing says the entry may be half written: created or modified, and not
// closed after writing.
func (e Event) Writing() bool {
	return e.Mask&(unix.IN_MODIFY|unix.IN_CREATE) != 0 && e.Mask&unix.IN_CLOSE_WRITE == 0
}
