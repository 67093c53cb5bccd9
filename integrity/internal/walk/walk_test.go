package walk

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/propops/propsec/integrity/internal/glob"
)

// tree makes the files (and their directories) under a new root.
func tree(t *testing.T, files ...string) string {
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// collect runs body and returns "rel=cur" for each item in order
// (markers as "rel!").
func collect(t *testing.T, o Options, body func(context.Context, *Run[string])) []string {
	t.Helper()
	w := Start(t.Context(), o, body)
	for range 3 {
		w.Go(func() { w.Work(func(*Item[string]) string { return "seen" }) })
	}
	defer w.Stop()
	var out []string
	for {
		it, ok, err := w.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		if it.Marker {
			out = append(out, it.Rel+"!")
		} else {
			out = append(out, it.Rel+"="+it.Cur)
		}
	}
}

// The walk yields the baseline's byte order, a directory's subtree sorted
// as if its name ended in "/", every item inspected, and nothing excluded.
func TestRootOrder(t *testing.T) {
	root := tree(t, "a/x", "a.b", "a0", "b/c/d", "skip/y", "z.log")
	exc, err := glob.CompileAll("Exclude", []string{"skip", "*.log"})
	if err != nil {
		t.Fatal(err)
	}
	var total atomic.Int64
	got := collect(t, Options{Filter: &glob.Filter{Exclude: exc}}, func(ctx context.Context, w *Run[string]) {
		w.Root(ctx, root, &total)
	})
	want := []string{"=seen", "a=seen", "a.b=seen", "a/x=seen", "a0=seen", "b=seen", "b/c=seen", "b/c/d=seen"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if total.Load() != int64(len(want)) {
		t.Fatalf("total %d, want %d", total.Load(), len(want))
	}
}

// A target is its path alone (inspected by the walker when inspect is
// given), or with subtree everything below it; a target below a symlink
// is not followed, and a missing one yields nothing.
func TestTarget(t *testing.T) {
	root := tree(t, "d/e/f", "d/g", "h")
	if err := os.Symlink(filepath.Join(root, "d"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rel     string
		subtree bool
		inline  bool
		want    []string
	}{
		{"d/e/f", false, true, []string{"d/e/f=inline"}},
		{"d/e/f", false, false, []string{"d/e/f=seen"}},
		{"d", true, false, []string{"d=seen", "d/e=seen", "d/e/f=seen", "d/g=seen"}},
		{"link/g", false, true, nil},
		{"missing", true, false, nil},
	} {
		var inspect func(*Item[string]) string
		if c.inline {
			inspect = func(*Item[string]) string { return "inline" }
		}
		var total atomic.Int64
		got := collect(t, Options{}, func(ctx context.Context, w *Run[string]) {
			w.Target(ctx, root, c.rel, c.subtree, inspect, &total)
		})
		if !slices.Equal(got, c.want) {
			t.Errorf("%s subtree=%v: got %q, want %q", c.rel, c.subtree, got, c.want)
		}
	}
}

// Stop ends a walk early without leaking its goroutines or directories.
func TestStopEarly(t *testing.T) {
	root := tree(t, "a/1", "a/2", "b/3", "c/4")
	ctx, cancel := context.WithCancel(t.Context())
	var total atomic.Int64
	w := Start(ctx, Options{}, func(ctx context.Context, w *Run[string]) { w.Root(ctx, root, &total) })
	for range 2 {
		w.Go(func() { w.Work(func(*Item[string]) string { return "" }) })
	}
	if _, ok, err := w.Next(ctx); !ok || err != nil {
		t.Fatalf("first item: %v %v", ok, err)
	}
	cancel()
	if _, _, err := w.Next(ctx); err == nil {
		t.Fatal("Next after cancel: no error")
	}
	w.Stop()
}
