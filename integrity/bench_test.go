package integrity_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/memstore"
)

// makeTree writes dirs×files files of 1 to 32 KiB (text, some binary).
func makeTree(b *testing.B, dirs, files int) (root string, bytes int64) {
	root = b.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 32<<10)
	for i := range buf {
		buf[i] = byte('a' + r.IntN(26))
		if i%64 == 63 {
			buf[i] = '\n'
		}
	}
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("pkg%03d", d), "src")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range files {
			n := 1<<10 + r.IntN(31<<10)
			data := buf[:n]
			if f%10 == 0 {
				data = append([]byte{0}, data...)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%04d.go", f)), data, 0o644); err != nil {
				b.Fatal(err)
			}
			bytes += int64(len(data))
		}
	}
	return root, bytes
}

func BenchmarkScan(b *testing.B) {
	root, size := makeTree(b, 50, 100)
	mon, err := integrity.New(integrity.Config{Store: memstore.New(), Key: testKey, Roots: []string{root}})
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Init(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	var files int64
	for b.Loop() {
		c, err := mon.Scan(b.Context())
		if err != nil || c.ViolationsFound != 0 {
			b.Fatalf("%+v %v", c, err)
		}
		files = c.FilesScanned
	}
	b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

func BenchmarkInit(b *testing.B) {
	root, size := makeTree(b, 50, 100)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		mon, err := integrity.New(integrity.Config{Store: memstore.New(), Key: testKey, Roots: []string{root}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := mon.Init(b.Context()); err != nil {
			b.Fatal(err)
		}
		mon.Close()
	}
}

// BenchmarkMonitorDiff measures Monitor.Diff of one modified text file
// (the stored known-good copy read back and diffed with the file on
// disk), at several sizes, with a few lines changed.
func BenchmarkMonitorDiff(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 1000 << 10} { // the last under the 1 MiB cap
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			old, new := editedText(size, 10)
			root := b.TempDir()
			file := filepath.Join(root, "app.conf")
			if err := os.WriteFile(file, old, 0o600); err != nil {
				b.Fatal(err)
			}
			mon, err := integrity.New(integrity.Config{Store: memstore.New(), Key: testKey, Roots: []string{root}})
			if err != nil {
				b.Fatal(err)
			}
			defer mon.Close()
			if _, err := mon.Init(b.Context()); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(file, new, 0o600); err != nil {
				b.Fatal(err)
			}
			c, err := mon.Scan(b.Context())
			if err != nil || c.ViolationsFound != 1 {
				b.Fatalf("%+v %v", c, err)
			}
			alerts, _, err := mon.Alerts(b.Context(), integrity.ListOptions{})
			if err != nil || len(alerts) != 1 {
				b.Fatalf("%d alerts, %v", len(alerts), err)
			}
			b.SetBytes(int64(len(old) + len(new)))
			b.ReportAllocs()
			for b.Loop() {
				d, err := mon.Diff(b.Context(), alerts[0].ID)
				if err != nil || d.LinesAdded == 0 {
					b.Fatalf("%+v %v", d, err)
				}
			}
		})
	}
}

// editedText returns about size bytes of source-like lines, and a copy
// with about edits of them changed, spread evenly.
func editedText(size, edits int) (old, new []byte) {
	var a, b bytes.Buffer
	every := max(size/16/edits, 1) // lines are about 16 bytes
	for i := 0; a.Len() < size; i++ {
		line := fmt.Sprintf("%*scall(%d);\n", i%12, "", i*7919%300)
		a.WriteString(line)
		if i%every == every/2 {
			line = fmt.Sprintf("changed(%d);\n", i)
		}
		b.WriteString(line)
	}
	return a.Bytes(), b.Bytes()
}
