package integrity

import (
	"fmt"
	"os"
	"sync"

	"github.com/propops/propsec/integrity/internal/inotify"
	"github.com/propops/propsec/integrity/internal/walk"
)

// Real-time detection uses inotify (package inotify, which says why not
// fsnotify).
const realtimeSupported = true

// watcher watches every directory of the roots with one inotify instance
// and turns its events into paths to re-check.
type watcher struct {
	rt  *realtime
	m   *Monitor
	ino *inotify.Watches[Key] // a watch per directory

	mu sync.Mutex
	// limited says where the watch limit stopped the watching ("" when it
	// did not); missing says a root could not be watched.
	limited string
	missing bool
}

func newWatcher(rt *realtime) (*watcher, error) {
	ino, err := inotify.NewWatches[Key]()
	if err != nil {
		return nil, fmt.Errorf("integrity: real-time detection: %w", err)
	}
	return &watcher{rt: rt, m: rt.m, ino: ino}, nil
}

// close closes the inotify instance, which ends read.
func (w *watcher) close() { w.ino.Close() }

func (w *watcher) count() int { return w.ino.Len() }

func (w *watcher) incomplete() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.limited != "" || w.missing
}

func (w *watcher) degraded() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.limited != "":
		return "the kernel's inotify watch limit is reached: " + w.limited + " and directories after it are not watched"
	case w.missing:
		return "a root is not watched (it could not be watched, or went away)"
	}
	return ""
}

// watchAll watches every directory of every root.
func (w *watcher) watchAll() {
	for _, root := range w.m.cfg.Roots {
		if !w.watchTree(Key{Root: root}) {
			return
		}
	}
}

// resync watches the directories not watched (after lost events, or the
// watch limit), and forgets the watches of directories that are gone.
func (w *watcher) resync() {
	w.mu.Lock()
	w.limited, w.missing = "", false
	w.mu.Unlock()
	w.ino.BeginSweep()
	w.watchAll()
	w.ino.EndSweep()
}

// watchTree watches the directory k and every directory below it, each
// before it is listed, so that an entry made after the listing raises an
// event (the re-check of the subtree, which follows, finds those made
// before). It returns false when the watch limit stopped it.
func (w *watcher) watchTree(k Key) bool {
	queue := []string{k.Path}
	for len(queue) > 0 {
		rel := queue[0]
		queue = queue[1:]
		d := Key{Root: k.Root, Path: rel}
		path := d.FilePath()
		if err := w.add(d, path); err != nil {
			if inotify.IsLimit(err) {
				w.limit(d, err)
				return false
			}
			if rel == "" {
				w.mu.Lock()
				w.missing = true
				w.mu.Unlock()
			}
			continue // gone, not a directory, a symlink, no access: scans report it
		}
		ents, err := os.ReadDir(path)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			c := walk.JoinRel(rel, e.Name())
			if !w.m.filter.SkipEntry(c, true) {
				queue = append(queue, c)
			}
		}
	}
	return true
}

func (w *watcher) add(k Key, path string) error {
	if w.m.watchHook != nil {
		if err := w.m.watchHook(path); err != nil {
			return err
		}
	}
	return w.ino.Add(k, path)
}

// limit notes that the watch limit stopped the watching at k, and asks for
// a full scan.
func (w *watcher) limit(k Key, err error) {
	w.mu.Lock()
	first := w.limited == ""
	if first {
		w.limited = k.FilePath()
	}
	w.mu.Unlock()
	if !first {
		return
	}
	max := inotify.MaxUserWatches()
	w.rt.needFull(rtFull{cause: causeLimit, root: k.Root, details: fmt.Sprintf(
		"cannot watch %s (%v): the kernel's inotify watch limit is reached (fs.inotify.max_user_watches = %s, "+
			"%d directories watched); changes in the directories not watched are found by scans only, until the "+
			"limit is raised (sysctl fs.inotify.max_user_watches), after which the next periodic scan's tick "+
			"watches them", k.FilePath(), err, max, w.count())})
}

// forget removes the watches of the directory k and every directory below
// it: it was removed or moved away, and a directory moved elsewhere in the
// roots is watched again where it lands.
func (w *watcher) forget(k Key) {
	w.ino.RemoveIf(func(d Key) bool { return d.Root == k.Root && under(d.Path, k.Path) })
}

// read reads and handles events until the instance is closed.
func (w *watcher) read() error { return w.ino.Read(w.handle) }

// handle turns one event into paths to re-check.
func (w *watcher) handle(ev inotify.Event) {
	name := ev.Name
	if ev.Overflow() {
		w.rt.needFull(rtFull{cause: causeOverflow, details: "the kernel's inotify event queue overflowed " +
			"(fs.inotify.max_queued_events): changes were not seen as they happened"})
		return
	}
	dir, ok := w.ino.Key(ev)
	if !ok {
		return
	}
	if name == "" {
		// An event of a watched directory itself: its parent's watch
		// reports it too, except for a root.
		if dir.Path != "" {
			return
		}
		if ev.SelfGone() {
			w.forget(dir)
			w.mu.Lock()
			w.missing = true
			w.mu.Unlock()
			w.rt.mark(dir, true, false)
			return
		}
		w.rt.mark(dir, false, false)
		return
	}
	if ev.EntriesChanged() {
		// An entry added, removed or renamed moves the directory's own
		// times and maybe its link count, which a scan compares: re-check
		// it too, even for an excluded entry, as a scan would.
		w.rt.mark(dir, false, false)
	}
	k := Key{Root: dir.Root, Path: walk.JoinRel(dir.Path, name)}
	isDir := ev.IsDir()
	if w.m.filter.SkipEntry(k.Path, isDir) {
		return
	}
	switch {
	case isDir && ev.Arrived():
		w.watchTree(k)
		w.rt.mark(k, true, false)
	case isDir && ev.Left():
		w.forget(k)
		w.rt.mark(k, true, false)
	default:
		writing := !isDir && ev.Writing()
		w.rt.mark(k, false, writing)
	}
}
