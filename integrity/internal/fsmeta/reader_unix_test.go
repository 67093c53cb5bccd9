//go:build linux || darwin || freebsd || netbsd || openbsd

package fsmeta

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/zeebo/blake3"
)

// A Reader records each kind of path from a listing: a text file's hash
// and (kept) content with room after it, a symlink's target without
// following it, a FIFO by type without blocking on it, and nothing for a
// path that does not exist.
func TestReaderInspect(t *testing.T) {
	root := t.TempDir()
	text := []byte("hello\n")
	must(t, os.WriteFile(filepath.Join(root, "f.txt"), text, 0o640))
	must(t, os.WriteFile(filepath.Join(root, "big"), bytes.Repeat([]byte("x"), 100), 0o600))
	must(t, os.Symlink("/etc/passwd", filepath.Join(root, "link")))
	must(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	must(t, os.Mkdir(filepath.Join(root, "sub"), 0o750))

	var reads []string
	r := NewReader(Options{MaxHash: 50, MaxKeep: 10, Keep: true, ContentRoom: 41, MaxXAttrs: 4, MaxXAttrValue: 8,
		Hook: func(root, rel string, pass int) { reads = append(reads, rel) }})
	d, err := OpenRoot(root)
	must(t, err)
	defer d.Release()
	ents, err := d.List()
	must(t, err)
	hint := map[string]bool{}
	for _, e := range ents {
		hint[e.Name] = e.IsReg
	}

	inspect := func(name string, hintRegular bool) *Info {
		var in Info
		if !r.Inspect(d, name, root, name, hintRegular, &in) {
			return nil
		}
		return &in
	}
	inspectPath := func(rel string) *Info {
		var in Info
		if !r.InspectPath(root, rel, &in) {
			return nil
		}
		return &in
	}
	in := inspect("f.txt", hint["f.txt"])
	if in == nil || in.Type != TypeFile || in.Size != int64(len(text)) || in.Mode != 0o640 || in.Hash != blake3.Sum256(text) ||
		!in.Text || !bytes.Equal(in.Content, text) || cap(in.Content) < len(text)+41 || !in.Meta || in.Links != 1 {
		t.Fatalf("f.txt: %+v", in)
	}
	if in := inspect("big", true); in == nil || in.Hash != ([32]byte{}) || in.Content != nil || in.Size != 100 {
		t.Fatalf("big (over MaxHash): %+v", in)
	}
	// Listed as a regular file, it is a symlink when opened: not followed.
	if in := inspect("link", true); in == nil || in.Type != TypeSymlink || in.Target != "/etc/passwd" || in.Hash != ([32]byte{}) {
		t.Fatalf("link: %+v", in)
	}
	// Listed as a regular file, it is a FIFO when opened: never read.
	if in := inspect("fifo", true); in == nil || in.Type != TypeFIFO || in.Unreadable != "" {
		t.Fatalf("fifo: %+v", in)
	}
	if in := inspect("sub", false); in == nil || in.Type != TypeDir || in.Size != 0 || in.Mode != 0o750 {
		t.Fatalf("sub: %+v", in)
	}
	if in := inspect("missing", true); in != nil {
		t.Fatalf("missing: %+v", in)
	}
	if in := inspectPath("link/x"); in != nil {
		t.Fatalf("below a symlink: %+v", in)
	}
	if in := inspectPath("f.txt"); in == nil || in.Hash != blake3.Sum256(text) {
		t.Fatalf("InspectPath: %+v", in)
	}
	if len(reads) != 2 || reads[0] != "f.txt" || reads[1] != "f.txt" {
		t.Fatalf("read hook saw %q", reads)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
