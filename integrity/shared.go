package integrity

import (
	"context"
	"fmt"

	"github.com/propops/propsec/security"
)

// HostStores is implemented by a database that several machines share
// (pgstore), each watching its own files. [New] replaces [Config.Store] with
// IntegrityStore([Config.Host]), so that every Monitor works on its own
// machine's data.
type HostStores interface {
	// IntegrityStore returns the Store of the machine host. Its seals,
	// baseline entries, observations, staged changes and open deployment
	// are host's alone: another host's Store never sees or changes them.
	// Alerts and content are shared: every host's Store lists, reads,
	// updates and deletes every alert (each carries its [Alert.Host]), and
	// content, addressed by its hash, is kept while any host's entry
	// refers to it.
	IntegrityStore(host string) Store
}

// ScanLocker is implemented by a Store that several processes share
// (pgstore), so that at most one operation that walks the tree or writes
// the baseline runs at a time for the Store's host, across every process,
// as a Monitor ensures within one. The lock is per host (see [HostStores]):
// Monitors of different machines scan at the same time, each its own
// files. A store used by one process (memstore, sqlitestore) need not
// implement it: the Monitor's own lock is enough.
//
// A Monitor whose Store implements ScanLocker takes the lock, after its
// own, for every operation: [Monitor.Start] without waiting (a held lock
// is a conflict reported with the running check's id, as a running check
// of the same Monitor is), the others waiting for it. It records each
// check through the lease when it starts, about every second while it
// runs, and when it ends, so that [Monitor.Progress] of any Monitor sharing
// the store reports it.
type ScanLocker interface {
	// LockScan takes the lock. If c.ID is not empty, c is the check the
	// lock is taken for, recorded as running in the same step, so that a
	// LockScan of another process that finds the lock held always learns
	// its id. If the lock is held and wait is false, it fails at once with
	// a [*BusyError]; if wait is true, it waits until the lock is free or
	// ctx is done. The lock must be released when the process holding it
	// ends or loses its connection to the store, so that a crash never
	// leaves it held.
	LockScan(ctx context.Context, c Check, wait bool) (ScanLease, error)
	// RecordedCheck returns a check recorded through a lease by any
	// process, or an error wrapping [security.ErrNotFound]. A check still
	// recorded as running although its lock was released (its process
	// stopped) is reported failed, finished when it was last recorded
	// (StartedAt+Duration). A store keeps at least the last 100 checks of
	// each host.
	RecordedCheck(ctx context.Context, id string) (Check, error)
}

// ScanLease is a lock taken with [ScanLocker.LockScan]. The Monitor calls
// its methods from one goroutine at a time.
type ScanLease interface {
	// Record records c, a check run under the lease: when it starts, as it
	// progresses, and once more when it ends. An error says the lease may
	// be lost (the connection holding the lock failed): the Monitor then
	// fails the check, since another process may have taken the lock.
	Record(ctx context.Context, c Check) error
	// Release frees the lock. It is called exactly once.
	Release(ctx context.Context) error
}

// BusyError says that another process holds a [ScanLocker]'s lock. It
// wraps [security.ErrConflict].
type BusyError struct {
	// CheckID is the check the holder runs, "" when it runs none (such as
	// while it accepts an alert).
	CheckID string
	// Host is the host whose lock is held.
	Host string
}

// Error says that another process holds the lock of e.Host, and which check
// it runs, if any.
func (e *BusyError) Error() string {
	if e.CheckID != "" {
		return fmt.Sprintf("integrity check %s is running for %s in another process", e.CheckID, e.Host)
	}
	return fmt.Sprintf("another integrity operation is running for %s in another process", e.Host)
}

// Is makes errors.Is(err, security.ErrConflict) true.
func (e *BusyError) Is(target error) bool { return target == security.ErrConflict }

// OtherHostError refuses an operation that needs an alert's files, such as
// [Monitor.AcceptAlert] and [Monitor.Diff], on a Monitor of another host
// than the one that raised the alert: the file is on that machine. It wraps
// [security.ErrConflict].
type OtherHostError struct {
	AlertID int64
	// Host raised the alert; only its Monitor can read the file.
	Host string
}

// Error names the alert and the host that raised it.
func (e *OtherHostError) Error() string {
	return fmt.Sprintf("alert %d was raised on host %s, which watches its own files: only its Monitor can read them", e.AlertID, e.Host)
}

// Is makes errors.Is(err, security.ErrConflict) true.
func (e *OtherHostError) Is(target error) bool { return target == security.ErrConflict }

// ownAlert returns a's own host error if a was raised on another host. An
// alert without a host (stored before alerts carried one) is taken as this
// host's.
func (m *Monitor) ownAlert(a Alert) error {
	if a.Host != "" && a.Host != m.cfg.Host {
		return &OtherHostError{AlertID: a.ID, Host: a.Host}
	}
	return nil
}
