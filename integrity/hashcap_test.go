package integrity_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
)

// Files over Config.MaxHashBytes are not read: size, mtime, inode and (when
// nothing else changed, mode and owner included) ctime stand in for their
// content, and every such alert says the file was not hashed.
func TestHashSizeCap(t *testing.T) {
	const notHashed = "(not hashed: over 16 bytes)"
	e := newEnv(t, map[string]string{"small.txt": "12345678", "big.txt": strings.Repeat("b", 32), "touched.txt": "t\n"},
		func(c *integrity.Config) { c.MaxHashBytes = 16 })
	entry := func(rel string) integrity.Entry {
		t.Helper()
		x, err := e.store.Entry(e.ctx, integrity.Key{Root: e.root, Path: rel})
		must(t, err)
		return x
	}
	if x := entry("small.txt"); x.Hash.IsZero() {
		t.Fatalf("small.txt not hashed: %+v", x)
	}
	if x := entry("big.txt"); !x.Hash.IsZero() || x.ContentKept || x.Size != 32 {
		t.Fatalf("big.txt hashed: %+v", x)
	}
	// Files over the cap are not read at all.
	var mu sync.Mutex
	var read []string
	integrity.SetReadHook(e.mon, func(path string, _ int) {
		mu.Lock()
		read = append(read, path)
		mu.Unlock()
	})
	wantNone(t, e.scan())
	if len(read) != 2 || slices.Contains(read, e.path("big.txt")) {
		t.Fatalf("read %q", read)
	}
	one := func(rel string, change integrity.Change) integrity.Alert {
		t.Helper()
		got := e.scan()
		if len(got) != 1 || got[0].Path != rel || got[0].Change != change {
			t.Fatalf("want one %s alert on %s, got:\n%s", change, rel, describeAlerts(got))
		}
		return got[0]
	}

	// A hashed file that grows past the cap.
	e.write("small.txt", strings.Repeat("s", 40))
	read = nil
	a := one("small.txt", integrity.ChangeModified)
	if len(read) != 1 || read[0] != e.path("touched.txt") {
		t.Fatalf("read %q", read)
	}
	if !strings.HasPrefix(a.Details, "size 8 → 40 bytes") || !strings.HasSuffix(a.Details, notHashed) {
		t.Errorf("grown: %q", a.Details)
	}

	// A file over the cap rewritten with the same size and a new mtime.
	big := e.path("big.txt")
	mtime := entry("big.txt").MTime.Add(time.Hour)
	e.write("big.txt", strings.Repeat("B", 32))
	must(t, os.Chtimes(big, mtime, mtime))
	a = one("big.txt", integrity.ChangeModified)
	if !strings.HasPrefix(a.Details, "mtime changed ") || !strings.HasSuffix(a.Details, notHashed) ||
		strings.Contains(a.Details, "size") || strings.Contains(a.Details, "ctime") {
		t.Errorf("same size, new mtime: %q", a.Details)
	}
	must(t, e.mon.AcceptAlert(e.ctx, integrity.Actor{}, a.ID))
	wantNone(t, e.scan())

	// Only its ctime changes (the times set to what they are; a write that
	// restores the mtime looks the same): the ctime stands in.
	time.Sleep(20 * time.Millisecond) // past the file system clock's tick
	must(t, os.Chtimes(big, mtime, mtime))
	a = one("big.txt", integrity.ChangeModified)
	if !strings.HasPrefix(a.Details, "ctime changed ") || !strings.HasSuffix(a.Details, notHashed) ||
		strings.Contains(a.Details, "mtime") {
		t.Errorf("ctime only: %q", a.Details)
	}
	must(t, e.mon.AcceptAlert(e.ctx, integrity.Actor{}, a.ID))

	// A mode change moves the ctime too, which it explains: one metadata
	// alert, no mention of the ctime.
	time.Sleep(20 * time.Millisecond)
	mode := entry("big.txt").Mode
	must(t, os.Chmod(big, 0o600))
	if a = one("big.txt", integrity.ChangeMetadata); a.Details != fmt.Sprintf("mode changed %04o → 0600", mode) {
		t.Errorf("mode: %q", a.Details)
	}

	// A hashed file's content speaks for itself: a change of its times
	// alone is a low metadata alert that says so.
	must(t, os.Chtimes(e.path("touched.txt"), mtime, mtime))
	a = one("touched.txt", integrity.ChangeMetadata)
	if a.Severity != integrity.SeverityLow || !strings.HasPrefix(a.Details, "mtime changed, content unchanged (") {
		t.Errorf("hashed, new mtime: %s %q", a.Severity, a.Details)
	}
}
