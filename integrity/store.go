package integrity

import (
	"context"
	"iter"
	"time"

	"github.com/propops/propsec/security"
)

// Store keeps the baseline, the observations, the alerts and the open
// deployment. Every method that takes events writes them in the same
// transaction as its change. Errors for missing records wrap
// [security.ErrNotFound].
//
// Paths compare as byte strings everywhere ("a.b" < "a/b" < "a0"): SQL
// implementations use a binary collation (SQLite's default; COLLATE "C" in
// PostgreSQL). Paths are file names as the kernel gives them: never a NUL
// byte, but not always valid UTF-8, so they must be stored byte for byte
// (a BLOB or bytea column where TEXT would reject or alter them).
//
// The iterators may be consumed slowly while the same goroutine calls other
// methods of the store (the scanner writes alerts while it reads the
// baseline), and two of them may be open at once. An iteration sees one
// consistent snapshot, or at least never yields a record twice or out of
// order.
type Store interface {
	security.EventRecorder

	// Seals returns the seal of every root that has a baseline.
	Seals(ctx context.Context) ([]Seal, error)
	// Entries yields root's baseline entries in Path order.
	Entries(ctx context.Context, root string) iter.Seq2[Entry, error]
	// Entry returns one baseline entry.
	Entry(ctx context.Context, k Key) (Entry, error)
	// Content returns the stored copy of the known-good content with hash
	// h, as the Monitor staged it (encrypted; see "Content at rest").
	Content(ctx context.Context, h Hash) ([]byte, error)

	// Stage saves a batch of baseline changes under set, invisible until
	// [Store.Commit] applies the set. A set is staged in any number of
	// batches; a later put or delete of the same key replaces an earlier
	// one. Blobs are content by hash; staging the same hash twice is not an
	// error.
	Stage(ctx context.Context, set string, b Batch) error
	// DiscardStaged drops what was staged under set ("" drops every set).
	DiscardStaged(ctx context.Context, set string) error
	// Commit applies c atomically, or fails and changes nothing (the staged
	// set is then kept until discarded). See [Commit].
	Commit(ctx context.Context, c Commit) error

	// Observations yields root's observations in Path order.
	Observations(ctx context.Context, root string) iter.Seq2[Observation, error]

	// SaveFindings stores what a scan found, at once: new alerts (the
	// store assigns their ids, returned in order) and observations to set
	// or forget. Events, if not nil, is called inside the transaction with
	// the stored alerts, and what it returns is written too.
	SaveFindings(ctx context.Context, f Findings) ([]int64, error)
	// Alert returns one alert.
	Alert(ctx context.Context, id int64) (Alert, error)
	// ListAlerts returns one page of the alerts q selects and how many it
	// selects in all.
	ListAlerts(ctx context.Context, q AlertQuery) ([]Alert, int, error)
	// SetAlertStatus sets the status of the alerts ids (duplicates count
	// once) and their UpdatedAt to at, and returns how many alerts it
	// updated. If any id is unknown it changes nothing and returns 0 and
	// the unknown ids, sorted, with a nil error. Events, if not nil, is
	// called inside the transaction with the alerts as they were before the
	// change, in id order.
	SetAlertStatus(ctx context.Context, ids []int64, status Status, at time.Time, events func(before []Alert) []security.Event) (affected int, unknown []int64, err error)
	// DeleteAlerts deletes the alerts ids, with the same rules as
	// SetAlertStatus for unknown ids and events.
	DeleteAlerts(ctx context.Context, ids []int64, events func(deleted []Alert) []security.Event) (affected int, unknown []int64, err error)

	// Deployment returns the open deployment, or an error wrapping
	// [security.ErrNotFound] when none is open.
	Deployment(ctx context.Context) (Deployment, error)
	// BeginDeployment records d as the open deployment, or fails with
	// [security.ErrConflict] if one is open. A deployment ends in
	// [Store.Commit].
	BeginDeployment(ctx context.Context, d Deployment, events []security.Event) error
	// EndedDeployments returns at most limit ended deployments, the
	// latest ended first (of two ended at the same time, the one ended
	// later by [Store.Commit] first).
	EndedDeployments(ctx context.Context, limit int) ([]EndedDeployment, error)
}

// Blob is a copy of known-good content, addressed by the content's BLAKE3
// hash.
type Blob struct {
	Hash Hash
	// Data is the content encrypted by the Monitor, opaque to the store.
	Data []byte
}

// Batch is part of a staged baseline change.
type Batch struct {
	// Put adds or replaces entries.
	Put []Entry
	// Delete removes entries.
	Delete []Key
	// Blobs is content that entries of the set refer to.
	Blobs []Blob
}

// RootCommit is the new seal of one root changed by a commit.
type RootCommit struct {
	// Previous is the Sum of the seal the change was computed against (zero:
	// the root had no seal). If the stored seal differs, Commit fails with
	// [security.ErrConflict].
	Previous Hash
	// Replace removes every entry of the root before the staged changes
	// apply.
	Replace bool
	// Seal is the root's new seal.
	Seal Seal
}

// Commit applies a staged set to the baseline. In one transaction, it:
//   - checks every root's Previous seal and the open deployment (when
//     EndDeployment is set) and fails with [security.ErrConflict] if either
//     differs;
//   - removes the entries of every root with Replace, then applies the
//     staged puts and deletes of Set (Set may be "" or have nothing staged);
//   - forgets the observation of every key whose entry it put or deleted,
//     and every observation of a root with Replace;
//   - stores the new seals, ends the deployment (moving it to the history
//     of [Store.EndedDeployments] with Ended), writes Events and drops the
//     staged set;
//   - may drop content no entry refers to any more.
//
// Every root the set touches is listed in Roots.
type Commit struct {
	Set           string
	Roots         []RootCommit
	EndDeployment string
	// Ended is how the deployment EndDeployment names ended, for the
	// history.
	Ended  DeploymentEnd
	Events []security.Event
}

// Findings is what one batch of a scan stores.
type Findings struct {
	Alerts []Alert
	// Observations are set, or forgotten when their State is zero.
	Observations []Observation
	Events       func(added []Alert) []security.Event
}
