// Package walk walks a monitored root, or one target in it, in the order
// of integrity's baseline, and has the paths inspected in parallel.
//
// # Order
//
// Paths come in byte order of their slash-separated path relative to the
// root, which is the order of the baseline: in each directory, children
// are sorted by name, except that a directory's subtree is placed as if
// its name ended in "/" (so "a", "a.b", "a/x", "a0": filepath.WalkDir
// would give "a", "a/x", "a.b", "a0"). The consumer can therefore merge
// the walk with the baseline as both are read, and memory does not grow
// with the number of files: the walker holds one directory listing per
// level, and at most a window of paths waits to be consumed.
//
// # Safety
//
// Directories are opened with O_NOFOLLOW, each from the one above it
// (package fsmeta), so a walk never follows a symlink. A directory that
// cannot be listed yields a marker item: nothing below it is known, so the
// consumer neither deletes nor compares its baseline entries.
//
// # Workers
//
// [Start] runs the walk and a number of workers that inspect the items
// while the walk goes on; [Run.Next] hands them over in walk order once
// inspected, and [Run.Stop] ends the walk, early or not, and waits for it.
package walk

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/propops/propsec/integrity/internal/fsmeta"
	"github.com/propops/propsec/integrity/internal/glob"
)

// window is how many items may wait to be consumed, and to be inspected.
const window = 1024

// Item is one walked path, or a marker saying the subtree below Rel could
// not be listed (so its baseline entries are neither deleted nor compared).
type Item[T any] struct {
	// Rel is the slash-separated path relative to the root ("": the root).
	Rel    string
	Marker bool
	// ListErr says why a directory's entries cannot be listed.
	ListErr string
	// Dir is the open directory the path is in (nil: the root itself) and
	// Name its name there, until the path is inspected; HintReg says the
	// listing called it a regular file.
	Dir     *fsmeta.Dir
	Name    string
	HintReg bool
	// Cur is what inspecting the path gave.
	Cur     T
	skipped bool // cancelled before it was inspected
	done    chan struct{}
}

// Options configure a [Run].
type Options struct {
	// Filter leaves paths out (nil: none).
	Filter *glob.Filter
	// BeforeOpen, if not nil, is called with a listed directory's path
	// before it is opened (a test hook).
	BeforeOpen func(path string)
}

// Run is one walk. The walker yields paths in byte order of their
// slash-separated relative path, which is the order of the baseline: in each
// directory, children are sorted by name, except that a directory's
// subtree is placed as if its name ended in "/" (so "a", "a.b", "a/x",
// "a0": filepath.WalkDir would give "a", "a/x", "a.b", "a0"). Workers
// inspect paths in parallel; the consumer takes them in walk order.
type Run[T any] struct {
	ordered chan *Item[T]
	work    chan *Item[T]
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	o       Options
	// Budget counts the content bytes the inspected items hold (see
	// fsmeta.Options.Budget); the consumer subtracts what it lets go of.
	Budget atomic.Int64
}

// Start starts a walk: body emits the items in walk order (with
// [Run.Root] or [Run.Target]), and the workers the caller starts with
// [Run.Go] inspect them ([Run.Work]). The consumer takes them with
// [Run.Next] and ends the walk with [Run.Stop].
//
// The workers are the caller's so that what each keeps from item to item
// (a reader with its buffers) can live on its goroutine's stack.
func Start[T any](ctx context.Context, o Options, body func(context.Context, *Run[T])) *Run[T] {
	ctx, cancel := context.WithCancel(ctx)
	w := &Run[T]{ordered: make(chan *Item[T], window), work: make(chan *Item[T], window), ctx: ctx, cancel: cancel, o: o}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(w.ordered)
		defer close(w.work)
		body(ctx, w)
	}()
	return w
}

// Go runs f, a worker, in a goroutine that Stop waits for.
func (w *Run[T]) Go(f func()) { w.wg.Go(f) }

// Work inspects the walk's items with inspect until the walk ends; each
// worker calls it once.
func (w *Run[T]) Work(inspect func(*Item[T]) T) {
	for it := range w.work {
		if w.ctx.Err() == nil {
			it.Cur = inspect(it)
		} else {
			it.skipped = true
		}
		if it.Dir != nil {
			it.Dir.Release()
		}
		close(it.done)
	}
}

// emit hands it to the consumer and, unless it is a marker, to a worker.
func (w *Run[T]) emit(ctx context.Context, it *Item[T]) bool {
	select {
	case w.ordered <- it:
	case <-ctx.Done():
		if it.Dir != nil {
			it.Dir.Release()
		}
		return false
	}
	if it.done == nil {
		return true
	}
	select {
	case w.work <- it:
		return true
	case <-ctx.Done():
		it.skipped = true
		if it.Dir != nil {
			it.Dir.Release()
		}
		close(it.done)
		return false
	}
}

// Next returns the next item once it is inspected; ok is false at the end.
func (w *Run[T]) Next(ctx context.Context) (*Item[T], bool, error) {
	it, ok := <-w.ordered
	if !ok {
		return nil, false, ctx.Err()
	}
	if it.done != nil {
		<-it.done
	}
	if it.skipped || ctx.Err() != nil {
		return nil, false, cmpOr(ctx.Err(), context.Canceled)
	}
	return it, true, nil
}

// Stop ends the walk early (or after its end) and waits for its goroutines.
func (w *Run[T]) Stop() {
	w.cancel()
	for it := range w.ordered {
		if it.done != nil {
			<-it.done
		}
	}
	w.wg.Wait()
}

func cmpOr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// JoinRel joins a relative path and a name.
func JoinRel(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

// Root emits the items of the whole root, counting them in total.
func (w *Run[T]) Root(ctx context.Context, root string, total *atomic.Int64) {
	total.Add(1)
	d, err := fsmeta.OpenRoot(root)
	rootItem := &Item[T]{Rel: "", done: make(chan struct{})}
	if err != nil && !fsmeta.IsGone(err) {
		rootItem.ListErr = fsmeta.ErrText(err)
	}
	if !w.emit(ctx, rootItem) {
		if d != nil {
			d.Release()
		}
		return
	}
	if err != nil {
		if !fsmeta.IsGone(err) {
			w.emit(ctx, &Item[T]{Rel: "", Marker: true})
		}
		return
	}
	w.walkDir(ctx, d, "", total)
	d.Release()
}

// beforeOpen runs the test hook, if any, before a listed directory is
// opened.
func (w *Run[T]) beforeOpen(path string) {
	if w.o.BeforeOpen != nil {
		w.o.BeforeOpen(path)
	}
}

func (w *Run[T]) skipEntry(rel string, isDir bool) bool {
	return w.o.Filter != nil && w.o.Filter.SkipEntry(rel, isDir)
}

type child struct {
	key     string
	ent     fsmeta.Dirent
	subtree bool
}

func (w *Run[T]) walkDir(ctx context.Context, d *fsmeta.Dir, prefix string, total *atomic.Int64) bool {
	ents, err := d.List()
	if err != nil {
		return w.emit(ctx, &Item[T]{Rel: prefix, Marker: true})
	}
	kids := make([]child, 0, len(ents)+len(ents)/4)
	for _, e := range ents {
		if w.skipEntry(JoinRel(prefix, e.Name), e.IsDir) {
			continue
		}
		kids = append(kids, child{key: e.Name, ent: e})
		if e.IsDir {
			kids = append(kids, child{key: e.Name + "/", ent: e, subtree: true})
		}
	}
	ents = nil
	slices.SortFunc(kids, func(a, b child) int { return strings.Compare(a.key, b.key) })
	for _, k := range kids {
		if ctx.Err() != nil {
			return false
		}
		rel := JoinRel(prefix, k.ent.Name)
		path := filepath.Join(d.Path(), k.ent.Name)
		if !k.subtree {
			total.Add(1)
			it := &Item[T]{Rel: rel, Dir: d, Name: k.ent.Name, HintReg: k.ent.IsReg, done: make(chan struct{})}
			if k.ent.IsDir {
				// Say now, at the directory's own position, whether its
				// entries can be listed, so that its one alert can say so.
				w.beforeOpen(path)
				if sub, err := d.OpenSubdir(k.ent.Name, path); err == nil {
					sub.Release()
				} else if !fsmeta.IsGone(err) {
					it.ListErr = fsmeta.ErrText(err)
				}
			}
			d.Retain()
			if !w.emit(ctx, it) {
				return false
			}
			continue
		}
		w.beforeOpen(path)
		sub, err := d.OpenSubdir(k.ent.Name, path)
		if err != nil {
			if fsmeta.IsGone(err) {
				continue
			}
			if !w.emit(ctx, &Item[T]{Rel: rel, Marker: true}) {
				return false
			}
			continue
		}
		ok := w.walkDir(ctx, sub, rel, total)
		sub.Release()
		if !ok {
			return false
		}
	}
	return true
}

// Target emits the items of one target, the path rel of root: the path
// (if it exists and is monitored) and, with subtree, everything below it,
// in walk order. The directories on the way are opened with O_NOFOLLOW from
// the root, as [fsmeta.Reader.InspectPath] opens them; one that cannot be
// opened (other than gone) is a marker, as in a scan, so that what is
// below it is kept. If inspect is not nil (a target without subtree), the
// path is inspected here with it, rather than by the walk's workers.
func (w *Run[T]) Target(ctx context.Context, root, rel string, subtree bool, inspect func(*Item[T]) T, total *atomic.Int64) {
	if rel == "" {
		if subtree {
			w.Root(ctx, root, total)
			return
		}
		total.Add(1)
		it := &Item[T]{Rel: "", done: make(chan struct{})}
		if d, err := fsmeta.OpenRoot(root); err == nil {
			d.Release()
		} else if !fsmeta.IsGone(err) {
			it.ListErr = fsmeta.ErrText(err)
		}
		w.emit(ctx, it)
		return
	}
	d, err := fsmeta.OpenRoot(root)
	if err != nil {
		if !fsmeta.IsGone(err) {
			w.emit(ctx, &Item[T]{Rel: "", Marker: true})
		}
		return
	}
	parent, name, _ := cutLast(rel)
	done := ""
	for part := range strings.SplitSeq(parent, "/") {
		if part == "" {
			break
		}
		done = JoinRel(done, part)
		sub, err := d.OpenSubdir(part, filepath.Join(d.Path(), part))
		d.Release()
		if err != nil {
			if !fsmeta.IsGone(err) {
				w.emit(ctx, &Item[T]{Rel: done, Marker: true})
			}
			return
		}
		d = sub
	}
	defer d.Release()
	ent, err := d.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	isDir := ent.IsDir // false after an error
	if w.o.Filter != nil && w.o.Filter.SkipPath(rel, isDir) {
		return
	}
	total.Add(1)
	it := &Item[T]{Rel: rel, Dir: d, Name: name, HintReg: ent.IsReg}
	if inspect != nil && !isDir {
		it.Cur, it.Dir = inspect(it), nil
		w.emit(ctx, it)
		return
	}
	it.done = make(chan struct{})
	var sub *fsmeta.Dir
	if isDir {
		path := filepath.Join(d.Path(), name)
		w.beforeOpen(path)
		if sub, err = d.OpenSubdir(name, path); err != nil {
			sub = nil
			if !fsmeta.IsGone(err) {
				it.ListErr = fsmeta.ErrText(err)
			}
		}
	}
	d.Retain()
	ok := w.emit(ctx, it)
	switch {
	case sub == nil:
		if ok && subtree && it.ListErr != "" {
			w.emit(ctx, &Item[T]{Rel: rel, Marker: true})
		}
	case ok && subtree:
		w.walkDir(ctx, sub, rel, total)
		sub.Release()
	default:
		sub.Release()
	}
}

// cutLast splits a relative path into its parent and last element.
func cutLast(rel string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel, false
	}
	return rel[:i], rel[i+1:], true
}
