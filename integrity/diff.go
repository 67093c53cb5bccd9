package integrity

import (
	"context"
	"errors"
	"fmt"

	"github.com/propops/propsec/integrity/internal/fsmeta"
	"github.com/propops/propsec/integrity/unidiff"
	"github.com/propops/propsec/security"
	"github.com/zeebo/blake3"
)

// Diff is the difference between a path's known-good content and its
// current content.
type Diff struct {
	AlertID  int64
	FilePath string
	// Text is a unified diff with 3 lines of context ("" when the contents
	// are equal), "Binary files differ", or an explanation beginning with
	// "not diffed:", such as "not diffed: over 1048576 bytes".
	Text         string
	LinesAdded   int
	LinesRemoved int
	Binary       bool
	// TooLarge: one side is over the diff cap.
	TooLarge bool
}

// DiffContext is the number of unchanged lines shown around each change.
const DiffContext = unidiff.Context

// Diff returns the diff between the known-good content of an alert's path
// and the file as it is now. A deleted file shows every line removed; an
// added file every line added. An alert raised on another host fails with
// an [*OtherHostError].
func (m *Monitor) Diff(ctx context.Context, alertID int64) (Diff, error) {
	a, err := m.Alert(ctx, alertID)
	if err != nil {
		return Diff{}, err
	}
	if err := m.ownAlert(a); err != nil {
		return Diff{}, err
	}
	if a.Type == AlertBaselineTampered || a.Type == AlertRealtimeDegraded {
		return Diff{}, security.Invalidf("alert_id", "a %s alert has no diff", a.Type)
	}
	if !fsmeta.Supported {
		return Diff{}, errUnsupported
	}
	d := Diff{AlertID: a.ID, FilePath: a.FilePath}
	note := func(s string) (Diff, error) {
		d.Text = "not diffed: " + s
		return d, nil
	}
	if m.cfg.MaxDiffBytes < 0 {
		return note("diffs are disabled")
	}
	limit := m.cfg.MaxDiffBytes

	var known *Entry
	e, err := m.cfg.Store.Entry(ctx, a.Key)
	switch {
	case errors.Is(err, security.ErrNotFound):
	case err != nil:
		return Diff{}, err
	case m.keys.entryMAC(&e) != e.MAC:
		return note("the baseline record failed verification")
	default:
		known = &e
	}
	// The size limit is applied from fstat on the opened file: a current
	// file over it, or any current file when the known-good side is over
	// it, is never read.
	readLimit := limit
	if known != nil && known.Size > limit {
		readLimit = -1
	}
	cur := newDiffReader(m, readLimit).inspectPath(a.Key)
	switch {
	case cur != nil && cur.StatError != "":
		return note("cannot examine the current file: " + cur.StatError)
	case cur != nil && cur.Unreadable != "":
		return note("cannot read the current file: " + cur.Unreadable)
	case known == nil && cur == nil:
		return note("the path is neither in the baseline nor on disk")
	case known != nil && known.Type != TypeFile:
		return note(fmt.Sprintf("the known-good entry is a %s, not a regular file", known.Type))
	case cur != nil && cur.Type != TypeFile:
		return note(fmt.Sprintf("the path is now a %s, not a regular file", cur.Type))
	}
	if (known != nil && known.Size > limit) || (cur != nil && cur.Size > limit) {
		d.TooLarge = true
		return note(fmt.Sprintf("over %d bytes", limit))
	}
	if known != nil && cur != nil && !known.Hash.IsZero() && known.Hash == cur.Hash {
		return d, nil // same content: only metadata changed
	}
	var old, now []byte
	binary := false
	if known != nil {
		switch {
		case known.Hash.IsZero():
			return note("the known-good content was never read")
		case !known.ContentKept:
			binary = true
		default:
			old, err = m.cfg.Store.Content(ctx, known.Hash)
			if errors.Is(err, security.ErrNotFound) {
				return note("the known-good content is not stored")
			}
			if err != nil {
				return Diff{}, err
			}
			if old, err = m.box.Open(known.Hash, old); err != nil {
				return note(err.Error())
			}
			if Hash(blake3.Sum256(old)) != known.Hash {
				return note("the stored known-good content failed verification")
			}
		}
	}
	if cur != nil {
		if !cur.Text {
			binary = true
		}
		now = cur.Content
	}
	if binary {
		d.Binary = true
		d.Text = "Binary files differ"
		return d, nil
	}
	d.Text, d.LinesAdded, d.LinesRemoved = UnifiedDiff("a/"+a.Path, "b/"+a.Path, old, now)
	return d, nil
}

// UnifiedDiff returns the unified diff ([DiffContext] lines of context)
// that turns old into new, and how many lines it adds and removes; "" when
// they are equal. It is [unidiff.Unified], kept here for callers of this
// package.
func UnifiedDiff(oldLabel, newLabel string, old, new []byte) (text string, added, removed int) {
	return unidiff.Unified(oldLabel, newLabel, old, new)
}
