package integrity_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
)

// TestDiffOverLimitReadsNothing: when either side of a diff is over
// MaxDiffBytes, the answer comes from fstat alone; the current file is
// never read (the read hook, which runs after every read, stays silent).
func TestDiffOverLimitReadsNothing(t *testing.T) {
	const limit = 64
	tests := []struct {
		name     string
		baseline int64 // size of the known-good file (sparse)
		current  int64 // size of the current file (sparse)
	}{
		{"current over", 10, 1 << 20},
		{"known-good over", 1 << 20, 10},
		{"both over", 1 << 20, 2 << 20},
		{"current one byte over", 10, limit + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"big.txt": ""}, func(c *integrity.Config) { c.MaxDiffBytes = limit })
			must(t, os.Truncate(e.path("big.txt"), tt.baseline))
			e.rebaseline(nil)
			must(t, os.Truncate(e.path("big.txt"), tt.current))
			a := byPath(t, e.scan())["big.txt"]
			var mu sync.Mutex
			var reads []string
			integrity.SetReadHook(e.mon, func(path string, pass int) {
				mu.Lock()
				defer mu.Unlock()
				reads = append(reads, path)
			})
			d, err := e.mon.Diff(e.ctx, a.ID)
			must(t, err)
			if !d.TooLarge || d.Text != "not diffed: over 64 bytes" {
				t.Errorf("diff = %+v", d)
			}
			if len(reads) != 0 {
				t.Errorf("the current file was read %d time(s) before the size limit applied", len(reads))
			}
		})
	}
}

// BenchmarkDiffOverLimit is GET /api/security/file-diff's domain call for
// an alert on an 800 MB file (sparse: the test writes no data), with the
// default 1 MiB diff limit: the answer is "not diffed: over 1048576 bytes".
func BenchmarkDiffOverLimit(b *testing.B) {
	root := b.TempDir()
	p := filepath.Join(root, "huge.log")
	if err := os.WriteFile(p, []byte("small\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	store := memstore.New()
	mon, err := integrity.New(integrity.Config{Store: store, Key: testKey, Roots: []string{root}})
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Init(b.Context()); err != nil {
		b.Fatal(err)
	}
	if err := os.Truncate(p, 800<<20); err != nil {
		b.Fatal(err)
	}
	if c, err := mon.Scan(b.Context()); err != nil || c.ViolationsFound != 1 {
		b.Fatalf("%+v %v", c, err)
	}
	as, _, err := mon.Alerts(b.Context(), integrity.ListOptions{Page: 1, Limit: 1})
	if err != nil || len(as) != 1 {
		b.Fatalf("%v %v", as, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := mon.Diff(b.Context(), as[0].ID)
		if err != nil || !d.TooLarge {
			b.Fatalf("%+v %v", d, err)
		}
	}
}
