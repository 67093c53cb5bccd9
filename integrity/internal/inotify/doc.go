// Package inotify (Linux only) is the low level of integrity's real-time detection on
// Linux: an inotify instance watching directories, read through the
// runtime's poller, with its events decoded.
//
// # Why not fsnotify
//
// It uses inotify through x/sys directly rather than fsnotify: it needs
// IN_CLOSE_WRITE (a finished write, which fsnotify reports only in recent
// versions), IN_ONLYDIR|IN_DONT_FOLLOW (a watch is never added through a
// symlink), IN_EXCL_UNLINK, the IN_Q_OVERFLOW event and the ENOSPC of the
// watch limit as distinct conditions, all of which fsnotify hides or folds
// into generic errors; and the module keeps its short list of
// dependencies.
//
// # Watches and events
//
// [Watcher.Add] watches one directory (never through a symlink) for what
// changes its entries: entries created, deleted, moved in and out,
// written, closed after writing, and their attributes; and the directory
// itself deleted or moved. [Watcher.Read] decodes the events into
// [Event] values until the Watcher is closed.
//
// # Limits
//
// The kernel bounds the watches of a user (fs.inotify.max_user_watches):
// past it [Watcher.Add] fails with an error for which [IsLimit] is true;
// [MaxUserWatches] reads the bound for messages. The kernel's event queue
// is bounded too (fs.inotify.max_queued_events): when it overflows, events
// are lost and an event with [Event.Overflow] says so.
package inotify
