package integrity

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	"github.com/propops/propsec/security"
)

// Hash is a BLAKE3-256 digest: of a file's content, of a state, or a MAC.
type Hash [32]byte

// String returns h as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros, which stands for "no hash".
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash parses 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, security.Invalid("hash", "must be 64 hex digits")
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, security.Invalid("hash", "must be 64 hex digits")
	}
	return h, nil
}

// FileType is the kind of a baseline entry.
type FileType string

// The kinds of entries. Only regular files are ever read.
const (
	TypeFile        FileType = "file"
	TypeDir         FileType = "dir"
	TypeSymlink     FileType = "symlink"
	TypeFIFO        FileType = "fifo"
	TypeSocket      FileType = "socket"
	TypeBlockDevice FileType = "block_device"
	TypeCharDevice  FileType = "char_device"
)

// Valid reports whether t is one of the kinds above.
func (t FileType) Valid() bool {
	switch t {
	case TypeFile, TypeDir, TypeSymlink, TypeFIFO, TypeSocket, TypeBlockDevice, TypeCharDevice:
		return true
	}
	return false
}

// Key names one path of the baseline: a root and a path inside it.
type Key struct {
	// Root is a monitored root as configured: an absolute, clean path.
	Root string
	// Path is slash-separated and relative to Root; "" is Root itself.
	Path string
}

// FilePath returns the absolute path of k.
func (k Key) FilePath() string {
	if k.Path == "" {
		return k.Root
	}
	return filepath.Join(k.Root, filepath.FromSlash(k.Path))
}

// Entry is the known-good state of one path: a baseline record. Every field
// but MAC is covered by MAC.
type Entry struct {
	Key
	Type FileType
	// Size is the size in bytes (regular files and symlinks).
	Size int64
	// Mode holds the permission bits with setuid, setgid and sticky (07777).
	Mode uint32
	UID  uint32
	GID  uint32
	// MTime and CTime are the modification and status-change times.
	MTime time.Time
	CTime time.Time
	Inode uint64
	// Device is the device number of a block or character device.
	Device uint64
	// Target is where a symlink points. Symlinks are never followed.
	Target string
	// Hash is the BLAKE3 hash of a regular file's content; zero when the
	// file was not read (over the hash cap, or unreadable).
	Hash Hash
	// ContentKept says the content is kept: it is text no larger than the
	// diff cap, and Store.Content(Hash) returns it, encrypted.
	ContentKept bool
	// Links is the number of hard links. Recorded only with Meta.
	Links uint64
	// XAttrs are the extended attributes the scan could read, sorted by
	// name (see [XAttr] for the bounds). Recorded only with Meta.
	XAttrs []XAttr
	// Meta says Links and XAttrs were recorded, and that the times are
	// compared even when the content can be. Entries baselined before
	// these were recorded lack it: they are compared as before, and the
	// next accepted state records them.
	Meta bool
	// MAC authenticates the entry with the host's key.
	MAC Hash
}

// Seal authenticates one root's baseline as a whole: a MAC over the MACs of
// all its entries in path order and their number. It catches records that
// were removed, added or replaced by older ones.
type Seal struct {
	Root      string
	Sum       Hash
	Entries   int64
	UpdatedAt time.Time
}

// Observation remembers the last changed state a scan alerted on for a path,
// so that a later scan seeing the same state raises nothing new.
type Observation struct {
	Key
	// State is the digest of the observed state; zero in
	// [Findings.Observations] means "forget the observation".
	State Hash
	MAC   Hash
}

// AlertType says what an alert is about.
type AlertType string

// The alert types.
const (
	AlertViolation        AlertType = "file_integrity_violation"
	AlertBaselineTampered AlertType = "baseline_tampered"
	AlertUnreadable       AlertType = "file_unreadable"
)

// Change is what happened to a path.
type Change string

// The changes, most significant first.
const (
	ChangeModified Change = "modified"
	ChangeAdded    Change = "added"
	ChangeDeleted  Change = "deleted"
	ChangeMetadata Change = "metadata"
	// ChangeNone is the change of alerts that are not violations.
	ChangeNone Change = ""
)

// Severity grades an alert.
type Severity string

// The severities.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// Rank orders severities: critical 4, high 3, medium 2, low 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 4
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	}
	return 0
}

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool { return s.Rank() > 0 }

// Status is an alert's place in its lifecycle.
type Status int

// The statuses, with the numbers of the documented API.
const (
	StatusNew      Status = 0
	StatusResolved Status = 1
	StatusIgnored  Status = 2
)

// Valid reports whether s is 0, 1 or 2.
func (s Status) Valid() bool { return s >= StatusNew && s <= StatusIgnored }

// String returns "new", "resolved" or "ignored", or "Status(n)" for an
// invalid status.
func (s Status) String() string {
	switch s {
	case StatusNew:
		return "new"
	case StatusResolved:
		return "resolved"
	case StatusIgnored:
		return "ignored"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Alert is one finding of a scan.
type Alert struct {
	// ID is assigned by the store.
	ID int64
	// Host is the machine whose scan raised the alert ([Config.Host]): the
	// path is a file of that machine.
	Host string
	// Key names the path; for [AlertBaselineTampered] it names the first
	// record found altered, or the root.
	Key
	// FilePath is Key.FilePath(), kept for listing.
	FilePath string
	Type     AlertType
	Change   Change
	Severity Severity
	Status   Status
	// Details says what changed, e.g. "mode changed 0644 → 0777".
	Details string
	// State is the digest of the state the scan observed (zero for
	// [AlertBaselineTampered]). Accepting the alert requires the file to be
	// in that state still.
	State     Hash
	CheckID   string
	CreatedAt time.Time
	// UpdatedAt is when the status last changed (CreatedAt until then).
	UpdatedAt time.Time
}

// AlertSort orders an alert list.
type AlertSort string

// The orders of the documented API.
const (
	SortCreatedDesc  AlertSort = "created_at_desc"
	SortCreatedAsc   AlertSort = "created_at_asc"
	SortSeverityDesc AlertSort = "severity_desc"
)

// Valid reports whether s is one of the three orders.
func (s AlertSort) Valid() bool {
	return s == SortCreatedDesc || s == SortCreatedAsc || s == SortSeverityDesc
}

// AlertQuery selects a page of alerts from a [Store].
type AlertQuery struct {
	// Status, when not nil, keeps only alerts with that status.
	Status *Status
	// Severity, when not empty, keeps only alerts of that severity.
	Severity Severity
	// Sort is one of the three orders; ties are broken by id in the same
	// direction (severity_desc: then newest first).
	Sort   AlertSort
	Offset int
	Limit  int
}

// CheckKind says what a check did.
type CheckKind string

// The kinds of checks.
const (
	// CheckScan compares the tree with the baseline and raises alerts.
	CheckScan CheckKind = "scan"
	// CheckBaseline records the baseline of roots that have none.
	CheckBaseline CheckKind = "baseline"
	// CheckDeploymentEnd accepts a deployment's changes into the baseline.
	CheckDeploymentEnd CheckKind = "deployment_end"
)

// CheckStatus is the state of a check.
type CheckStatus string

// The check statuses.
const (
	CheckRunning  CheckStatus = "running"
	CheckComplete CheckStatus = "complete"
	CheckFailed   CheckStatus = "failed"
)

// Check is the progress of one scan job.
type Check struct {
	// ID is "chk_" and 20 random characters.
	ID string
	// Host is the machine that runs the check ([Config.Host]).
	Host   string
	Kind   CheckKind
	Status CheckStatus
	// FilesTotal counts the paths found so far; it is final once the walk
	// ends.
	FilesTotal int64
	// FilesScanned counts the paths compared so far.
	FilesScanned int64
	// ViolationsFound counts the alerts raised (of any type).
	ViolationsFound int64
	// Accepted counts the baseline entries written (baseline and
	// deployment_end checks).
	Accepted   int64
	StartedAt  time.Time
	FinishedAt time.Time
	// Duration is FinishedAt-StartedAt, or the time so far while running.
	Duration time.Duration
	// Error says why a failed check failed ("cancelled" when cancelled).
	Error string
}

// Deployment is an open planned-deployment window.
type Deployment struct {
	// ID is "dep_" and 20 random characters.
	ID          string
	Description string
	StartedAt   time.Time
	// ActorUserID is who opened it (0: the host).
	ActorUserID int64
	MAC         Hash
}

// Actor says who asked for an operation, for the audit log. The zero Actor is
// the host application itself. The Monitor does not check permissions: the
// caller (such as httpadapter) does.
type Actor struct {
	UserID    int64
	SessionID string
	IP        string
}

func (a Actor) event(t security.EventType, at time.Time, subject string, details map[string]string) security.Event {
	return security.Event{Time: at, Type: t, ActorUserID: a.UserID, ActorSessionID: a.SessionID,
		IP: a.IP, Subject: subject, Details: details}
}

// The audit events the integrity package records.
const (
	EventBaselineCreated   security.EventType = "integrity_baseline_created"
	EventScanCompleted     security.EventType = "integrity_scan_completed"
	EventAlertRaised       security.EventType = "integrity_alert_raised"
	EventAlertResolved     security.EventType = "integrity_alert_resolved"
	EventAlertIgnored      security.EventType = "integrity_alert_ignored"
	EventAlertReopened     security.EventType = "integrity_alert_reopened"
	EventAlertDeleted      security.EventType = "integrity_alert_deleted"
	EventAlertAccepted     security.EventType = "integrity_alert_accepted"
	EventDeploymentStarted security.EventType = "integrity_deployment_started"
	EventDeploymentEnded   security.EventType = "integrity_deployment_ended"
)
