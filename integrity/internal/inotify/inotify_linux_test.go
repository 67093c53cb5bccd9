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
