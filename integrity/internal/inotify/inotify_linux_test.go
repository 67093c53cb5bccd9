package inotify

import (
	"os"
	"path/filepath"
	"testing"
)

// Events of a real instance decode into what happened, and Close ends Read
// with nil.
func TestWatcherEvents(t *testing.T) {
	dir := t.TempDir()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := w.Add(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := w.Add(dir); err != nil || again != wd {
		t.Fatalf("Add again = %d, %v; want %d", again, err, wd)
	}
	if _, err := w.Add(filepath.Join(dir, "missing")); err == nil || IsLimit(err) {
		t.Fatalf("Add of a missing directory: %v", err)
	}
	events := make(chan Event, 64)
	done := make(chan error, 1)
	go func() { done <- w.Read(func(e Event) { events <- e }) }()

	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	var sawWrite, sawClose, sawDir bool
	for !(sawWrite && sawClose && sawDir) {
		e := <-events
		if e.WD != wd || e.Overflow() || e.Ignored() {
			t.Fatalf("unexpected event %+v", e)
		}
		switch {
		case e.Name == "f" && e.Writing():
			sawWrite = true
		case e.Name == "f" && !e.Writing() && !e.IsDir() && !e.EntriesChanged():
			sawClose = true // IN_CLOSE_WRITE: written and closed
		case e.Name == "d" && e.IsDir() && e.Arrived() && e.EntriesChanged():
			sawDir = true
		}
	}
	if err := os.Remove(filepath.Join(dir, "d")); err != nil {
		t.Fatal(err)
	}
	for e := <-events; !(e.Name == "d" && e.Left()); e = <-events {
	}
	w.Close()
	if err := <-done; err != nil {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestOverflowEvent(t *testing.T) {
	if e := OverflowEvent; !e.Overflow() || e.Ignored() || e.IsDir() {
		t.Fatalf("%+v", e)
	}
}

// Watches knows each watch by its key; a watch whose directory is removed
// is forgotten at its IN_IGNORED, RemoveIf removes by key, and a sweep
// removes what was not added again.
func TestWatches(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", "b", "c"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewWatches[string]()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "b", "c"} {
		if err := s.Add(d, filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 3 {
		t.Fatalf("Len %d", s.Len())
	}
	events := make(chan Event, 64)
	done := make(chan error, 1)
	go func() { done <- s.Read(func(e Event) { events <- e }) }()

	if err := os.WriteFile(filepath.Join(root, "a", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.Name != "f" {
		t.Fatalf("event %+v", e)
	} else if k, ok := s.Key(e); !ok || k != "a" {
		t.Fatalf("Key = %q, %v", k, ok)
	}
	for e := range events { // the rest of a's events
		if e.Name == "f" && !e.Writing() {
			break
		}
	}
	if err := os.Remove(filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	for e := range events {
		if _, ok := s.Key(e); !ok && e.Ignored() {
			break
		}
	}
	if s.Len() != 2 {
		t.Fatalf("after b's IN_IGNORED: Len %d, want 2", s.Len())
	}
	s.RemoveIf(func(k string) bool { return k == "c" })
	if s.Len() != 1 {
		t.Fatalf("after RemoveIf: Len %d, want 1", s.Len())
	}
	if err := s.Add("c", filepath.Join(root, "c")); err != nil {
		t.Fatal(err)
	}
	s.BeginSweep()
	if err := s.Add("c", filepath.Join(root, "c")); err != nil {
		t.Fatal(err)
	}
	s.EndSweep()
	if s.Len() != 1 {
		t.Fatalf("after the sweep: Len %d, want 1 (c)", s.Len())
	}
	if err := os.WriteFile(filepath.Join(root, "c", "g"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for e := range events {
		if k, ok := s.Key(e); ok {
			if k != "c" {
				t.Fatalf("event of %q after the sweep", k)
			}
			break
		}
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
