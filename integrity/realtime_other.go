//go:build !linux

package integrity

// Real-time detection needs Linux's inotify; [New] refuses
// [Config.Realtime] elsewhere.
const realtimeSupported = false

type watcher struct{}

func newWatcher(*realtime) (*watcher, error) { return nil, errUnsupported }
func (w *watcher) close()                    {}
func (w *watcher) count() int                { return 0 }
func (w *watcher) incomplete() bool          { return false }
func (w *watcher) degraded() string          { return "" }
func (w *watcher) watchAll()                 {}
func (w *watcher) resync()                   {}
func (w *watcher) read() error               { return errUnsupported }
