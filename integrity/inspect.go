package integrity

import (
	"sync/atomic"

	"github.com/propops/propsec/integrity/internal/contentbox"
	"github.com/propops/propsec/integrity/internal/fsmeta"
)

// The file-system layer (safe opening, hashing, metadata) is package
// fsmeta; a reader turns what it records into the current state of a
// baseline path.

// contentBudget bounds the content a walk's readers keep in flight.
const contentBudget = 32 << 20

// reader inspects one path at a time; each worker has its own.
type reader struct{ *fsmeta.Reader }

func readerOptions(m *Monitor, keep bool, budget *atomic.Int64) fsmeta.Options {
	o := fsmeta.Options{MaxHash: m.cfg.MaxHashBytes, MaxKeep: m.cfg.MaxDiffBytes, Keep: keep,
		Budget: budget, BudgetMax: contentBudget, ContentRoom: contentbox.Overhead,
		MaxXAttrs: MaxXAttrs, MaxXAttrValue: MaxXAttrValue}
	if hook := m.hook; hook != nil {
		o.Hook = func(root, rel string, pass int) { hook(Key{Root: root, Path: rel}.FilePath(), pass) }
	}
	if hook := m.openHook; hook != nil {
		o.OpenHook = func(root, rel string) { hook(Key{Root: root, Path: rel}.FilePath()) }
	}
	return o
}

func newReader(m *Monitor, keep bool, budget *atomic.Int64) *reader {
	return &reader{fsmeta.NewReader(readerOptions(m, keep, budget))}
}

// newDiffReader returns a reader for the current side of a diff: a file
// whose fstat says it is over limit bytes is neither read nor hashed
// (negative: none is read).
func newDiffReader(m *Monitor, limit int64) *reader {
	o := readerOptions(m, true, nil)
	o.MaxHash = min(o.MaxHash, limit)
	return &reader{fsmeta.NewReader(o)}
}

// inspectItem inspects a walked path: a root (no directory) or a child of
// an open directory. It returns nil when the path does not exist.
func (r *reader) inspectItem(it *item, root string) *current {
	var in fsmeta.Info
	if !r.Inspect(it.Dir, it.Name, root, it.Rel, it.HintReg, &in) {
		return nil
	}
	return newCurrent(Key{Root: root, Path: it.Rel}, &in)
}

// inspectPath inspects k, opening each directory on the way from its root
// with O_NOFOLLOW: a symlink anywhere below the root is never followed.
func (r *reader) inspectPath(k Key) *current {
	var in fsmeta.Info
	if !r.InspectPath(k.Root, k.Path, &in) {
		return nil
	}
	return newCurrent(k, &in)
}

// fileTypes names fsmeta's kinds of paths.
var fileTypes = [...]FileType{fsmeta.TypeFile: TypeFile, fsmeta.TypeDir: TypeDir, fsmeta.TypeSymlink: TypeSymlink,
	fsmeta.TypeFIFO: TypeFIFO, fsmeta.TypeSocket: TypeSocket, fsmeta.TypeBlockDevice: TypeBlockDevice,
	fsmeta.TypeCharDevice: TypeCharDevice}

// newCurrent returns the current state of k that in records.
func newCurrent(k Key, in *fsmeta.Info) *current {
	c := &current{Entry: Entry{Key: k, Type: fileTypes[in.Type], Size: in.Size, Mode: in.Mode, UID: in.UID, GID: in.GID,
		MTime: in.MTime, CTime: in.CTime, Inode: in.Inode, Device: in.Device, Target: in.Target, Hash: in.Hash,
		Links: in.Links, Meta: in.Meta}, Status: in.Status}
	if len(in.XAttrs) > 0 {
		c.XAttrs = make([]XAttr, len(in.XAttrs))
		for i, a := range in.XAttrs {
			c.XAttrs[i] = XAttr(a)
		}
	}
	return c
}
