package integrity

import "github.com/propops/propsec/integrity/internal/inotify"

// SetWatchHook sets a function the Monitor calls before it adds each
// directory watch; an error it returns stands for the kernel's (such as
// unix.ENOSPC for the watch limit).
func SetWatchHook(m *Monitor, f func(path string) error) { m.watchHook = f }

// InjectOverflow hands the running watcher an IN_Q_OVERFLOW event, as the
// kernel sends when its event queue overflows. It reports whether Run was
// watching.
func InjectOverflow(m *Monitor) bool {
	m.mu.Lock()
	rt := m.rt
	m.mu.Unlock()
	if rt == nil || rt.w == nil {
		return false
	}
	rt.w.handle(inotify.OverflowEvent)
	return true
}
