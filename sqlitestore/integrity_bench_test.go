package sqlitestore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
)

var integrityKey = []byte("0123456789abcdef0123456789abcdef")

// makeIntegrityTree writes dirs×files text files of 1 to 8 KiB under a new
// temporary directory and returns it with their total size.
func makeIntegrityTree(tb testing.TB, dirs, files int) (root string, size int64) {
	root = tb.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 8<<10)
	for i := range buf {
		buf[i] = byte('a' + r.IntN(26))
		if i%64 == 63 {
			buf[i] = '\n'
		}
	}
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("pkg%03d", d))
		require.NoError(tb, os.MkdirAll(dir, 0o755))
		for f := range files {
			data := buf[:1<<10+r.IntN(7<<10)]
			require.NoError(tb, os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%04d.go", f)), data, 0o644))
			size += int64(len(data))
		}
	}
	return root, size
}

// skipUnsupported skips tb where the integrity monitor does not run.
func skipUnsupported(tb testing.TB, err error) {
	if errors.Is(err, errors.ErrUnsupported) {
		tb.Skip(err)
	}
}

// newIntegrityMonitor returns a Monitor of root on st.
func newIntegrityMonitor(tb testing.TB, st integrity.Store, root string) *integrity.Monitor {
	mon, err := integrity.New(integrity.Config{Store: st, Key: integrityKey, Roots: []string{root}})
	require.NoError(tb, err)
	tb.Cleanup(func() { mon.Close() })
	return mon
}

// BenchmarkIntegrityScanSQLite records the baseline of a tree of 4,000
// files once, then measures scans that find nothing changed, through
// integrity.Monitor on a SQLite store. BenchmarkIntegrityScanMemstore
// scans the same tree on the in-memory store, for comparison.
func BenchmarkIntegrityScanSQLite(b *testing.B) {
	st, _ := openTemp(b)
	benchScan(b, st)
}

func BenchmarkIntegrityScanMemstore(b *testing.B) { benchScan(b, memstore.New()) }

func benchScan(b *testing.B, st integrity.Store) {
	root, size := makeIntegrityTree(b, 40, 100)
	mon := newIntegrityMonitor(b, st, root)
	_, err := mon.Init(b.Context())
	skipUnsupported(b, err)
	require.NoError(b, err)
	b.SetBytes(size)
	b.ReportAllocs()
	var files int64
	loop(b, func(int) {
		c, err := mon.Scan(b.Context())
		if err != nil || c.ViolationsFound != 0 {
			b.Fatalf("%+v %v", c, err)
		}
		files = c.FilesScanned
	})
	b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkIntegrityInitSQLite measures recording the baseline of the same
// tree (content kept for diffs included) in a new SQLite store.
func BenchmarkIntegrityInitSQLite(b *testing.B) {
	root, size := makeIntegrityTree(b, 40, 100)
	b.SetBytes(size)
	b.ReportAllocs()
	loop(b, func(int) {
		b.StopTimer()
		st, err := Open(b.Context(), filepath.Join(b.TempDir(), "propsec.db"))
		require.NoError(b, err)
		mon, err := integrity.New(integrity.Config{Store: st, Key: integrityKey, Roots: []string{root}})
		require.NoError(b, err)
		b.StartTimer()
		if _, err := mon.Init(b.Context()); err != nil {
			skipUnsupported(b, err)
			b.Fatal(err)
		}
		b.StopTimer()
		mon.Close()
		require.NoError(b, st.Close())
		b.StartTimer()
	})
}

// fillEntries commits n baseline entries of root to st.
func fillEntries(tb testing.TB, st *Store, root string, n int) {
	ctx := tb.Context()
	var b integrity.Batch
	for i := range n {
		e := integrity.Entry{Key: integrity.Key{Root: root, Path: fmt.Sprintf("dir%03d/file%06d.go", i%1000, i)},
			Type: integrity.TypeFile, Size: int64(i), Mode: 0o644, UID: 1000, GID: 1000, Inode: uint64(i)}
		e.Hash[0], e.MAC[0] = byte(i), byte(i>>8)
		b.Put = append(b.Put, e)
		if len(b.Put) == 512 || i == n-1 {
			require.NoError(tb, st.Stage(ctx, "fill", b))
			b = integrity.Batch{}
		}
	}
	seals, err := st.Seals(ctx)
	require.NoError(tb, err)
	var prev integrity.Hash
	for _, s := range seals {
		if s.Root == root {
			prev = s.Sum
		}
	}
	require.NoError(tb, st.Commit(ctx, integrity.Commit{Set: "fill",
		Roots: []integrity.RootCommit{{Previous: prev, Seal: integrity.Seal{Root: root, Sum: integrity.Hash{1}}}}}))
}

// BenchmarkIntegrityEntries measures iterating a baseline of 50,000
// entries with several page sizes (integrityPage is the one Entries uses).
func BenchmarkIntegrityEntries(b *testing.B) {
	const n = 50_000
	st, _ := openTemp(b)
	fillEntries(b, st, "/srv", n)
	for _, size := range []int{64, 256, 1024, 4096} {
		b.Run(fmt.Sprint("page=", size), func(b *testing.B) {
			b.ReportAllocs()
			loop(b, func(int) {
				count := 0
				for _, err := range st.entries(b.Context(), "/srv", size) {
					if err != nil {
						b.Fatal(err)
					}
					count++
				}
				if count != n {
					b.Fatalf("%d entries", count)
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
		})
	}
}
