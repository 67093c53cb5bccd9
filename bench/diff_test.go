package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	udiff "github.com/aymanbagabas/go-udiff"
	"github.com/pmezard/go-difflib/difflib"

	"github.com/propops/propsec/integrity"
)

// The unified diff of a 1 MiB text file, side by side: propsec's
// integrity.UnifiedDiff, github.com/aymanbagabas/go-udiff (gopls's diff) and
// github.com/pmezard/go-difflib (a port of Python's difflib). Each output is
// checked to be a valid unified diff that turns the old file into the new
// one, and the lines it adds and removes are counted: the fewer, the closer
// to the shortest diff (which reviewers read).
//
//	go test -run TestDiffSideBySide -v ./
//	go test -run '^$' -bench DiffSideBySide -benchtime 5x ./

// diffChangedLines are the numbers of changed lines benchmarked.
var diffChangedLines = []int{100, 4000, 40000}

type differ struct {
	name string
	diff func(old, new []byte) string
}

var differs = []differ{
	{"propsec", func(old, new []byte) string {
		text, _, _ := integrity.UnifiedDiff("a/f", "b/f", old, new)
		return text
	}},
	{"go-udiff", func(old, new []byte) string {
		return udiff.Unified("a/f", "b/f", string(old), string(new))
	}},
	{"go-difflib", func(old, new []byte) string {
		text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: splitKeep(old), B: splitKeep(new),
			FromFile: "a/f", ToFile: "b/f", Context: 3})
		if err != nil {
			panic(err)
		}
		return text
	}},
}

// splitKeep splits text into lines that keep their "\n" (difflib.SplitLines
// would add an empty last line).
func splitKeep(text []byte) []string {
	lines := strings.SplitAfter(string(text), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// sourceLike returns about size bytes of text shaped like source code: half
// its lines are common ("}", "return err", …, drawn from 300), half unique;
// and a copy in which exactly changed lines were changed: replaced,
// preceded by an inserted line, deleted, or moved further down.
func sourceLike(size, changed int) (old, new []byte) {
	r := rand.New(rand.NewPCG(11, uint64(changed)))
	common := make([]string, 300)
	for i := range common {
		common[i] = strings.Repeat("\t", 1+r.IntN(3)) + []string{"}", "return err", "if err != nil {", "i++", "x := y"}[r.IntN(5)] +
			strings.Repeat(" ", r.IntN(3)) + "\n"
	}
	line := func(n int) string {
		if r.IntN(2) == 0 {
			return common[r.IntN(len(common))]
		}
		return fmt.Sprintf("\tv%d := call(%d, %q)\n", n, r.IntN(1000), "s")
	}
	var lines []string
	for n := 0; n < size; {
		lines = append(lines, line(len(lines)))
		n += len(lines[len(lines)-1])
	}
	if changed > len(lines) {
		panic(fmt.Sprintf("%d changed lines of %d", changed, len(lines)))
	}
	kind := make([]int8, len(lines)) // 0: kept; 1..4: how it changes
	for _, i := range r.Perm(len(lines))[:changed] {
		kind[i] = int8(1 + r.IntN(4))
	}
	var a, b bytes.Buffer
	var moved []string
	for i, l := range lines {
		a.WriteString(l)
		switch kind[i] {
		case 0:
			b.WriteString(l)
		case 1:
			b.WriteString(line(len(lines) + i))
		case 2:
			b.WriteString(line(len(lines) + i))
			b.WriteString(l)
		case 3:
		case 4:
			moved = append(moved, l)
		}
		if len(moved) > 0 && kind[i] == 0 && r.IntN(16) == 0 {
			b.WriteString(strings.Join(moved, ""))
			moved = moved[:0]
		}
	}
	b.WriteString(strings.Join(moved, ""))
	return a.Bytes(), b.Bytes()
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// checkUnified checks that text is a unified diff (two file lines, hunks
// whose headers agree with their bodies, context that matches old) that
// turns old into new, and returns the lines it adds and removes. old and
// new end with a newline.
func checkUnified(old, new []byte, text string) (added, removed int, err error) {
	a, b := splitKeep(old), splitKeep(new)
	rows := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(rows) < 2 || !strings.HasPrefix(rows[0], "--- ") || !strings.HasPrefix(rows[1], "+++ ") {
		return 0, 0, fmt.Errorf("no file lines")
	}
	var out []string
	next := 0 // next line of a to copy
	rows = rows[2:]
	for len(rows) > 0 {
		m := hunkHeader.FindStringSubmatch(rows[0])
		if m == nil {
			return 0, 0, fmt.Errorf("want a hunk header, got %q", rows[0])
		}
		count := func(s string) int {
			if s == "" {
				return 1
			}
			n, _ := strconv.Atoi(s)
			return n
		}
		start, oldN, newStart, newN := count(m[1]), count(m[2]), count(m[3]), count(m[4])
		if oldN > 0 {
			start-- // 1-based, except that an empty range names the line before it
		}
		if start < next || start > len(a) {
			return 0, 0, fmt.Errorf("hunk %q out of order", rows[0])
		}
		out = append(out, a[next:start]...)
		next = start
		if want := len(out) + 1; newN > 0 && newStart != want || newN == 0 && newStart != want-1 {
			return 0, 0, fmt.Errorf("hunk %q: new side starts at %d", rows[0], want)
		}
		rows = rows[1:]
		for oldN > 0 || newN > 0 {
			if len(rows) == 0 || rows[0] == "" {
				return 0, 0, fmt.Errorf("hunk ends early")
			}
			l := rows[0][1:] + "\n"
			switch rows[0][0] {
			case ' ', '-':
				if next >= len(a) || a[next] != l || oldN == 0 {
					return 0, 0, fmt.Errorf("line %d of the old file is not %q", next+1, l)
				}
				next++
				oldN--
				if rows[0][0] == '-' {
					removed++
					break
				}
				out = append(out, l)
				newN--
			case '+':
				out = append(out, l)
				newN--
				added++
			default:
				return 0, 0, fmt.Errorf("unexpected line %q", rows[0])
			}
			if oldN < 0 || newN < 0 {
				return 0, 0, fmt.Errorf("hunk longer than its header says")
			}
			rows = rows[1:]
		}
	}
	out = append(out, a[next:]...)
	if strings.Join(out, "") != strings.Join(b, "") {
		return 0, 0, fmt.Errorf("applying the diff does not give the new file")
	}
	if added-removed != len(b)-len(a) {
		return 0, 0, fmt.Errorf("adds %d and removes %d lines: %d → %d lines", added, removed, len(a), len(b))
	}
	return added, removed, nil
}

// countUnified counts the lines a unified diff adds and removes, without
// checking it.
func countUnified(text string) (added, removed int) {
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "+++ "), strings.HasPrefix(l, "--- "):
		case strings.HasPrefix(l, "+"):
			added++
		case strings.HasPrefix(l, "-"):
			removed++
		}
	}
	return added, removed
}

// peakHeap runs f once and returns the most heap it held live (sampled
// every 200 µs, after a GC), in MiB, and how long it took.
func peakHeap(f func()) (float64, time.Duration) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s := []metrics.Sample{{Name: sample[0].Name}}
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	f()
	took := time.Since(start)
	close(done)
	<-stopped
	return float64(peak.Load()-min(base, peak.Load())) / (1 << 20), took
}

// TestDiffSideBySide checks every library's diff of each input and prints,
// for each, the time of one run, the lines changed and the peak live heap.
func TestDiffSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds per library")
	}
	for _, changed := range diffChangedLines {
		old, new := sourceLike(1<<20, changed)
		t.Logf("changed=%d: %d → %d bytes, %d → %d lines", changed, len(old), len(new), bytes.Count(old, []byte("\n")), bytes.Count(new, []byte("\n")))
		for _, d := range differs {
			var text string
			peak, took := peakHeap(func() { text = d.diff(old, new) })
			added, removed, err := checkUnified(old, new, text)
			verdict := "valid"
			switch {
			case err != nil && d.name == "propsec":
				t.Errorf("propsec, changed=%d: %v", changed, err)
			case err != nil:
				// Another library's bug is a finding, not a failure here.
				verdict = "INVALID: " + err.Error()
				added, removed = countUnified(text)
			case d.name == "propsec":
				if _, a, r := integrity.UnifiedDiff("a/f", "b/f", old, new); a != added || r != removed {
					t.Errorf("propsec reports +%d -%d, its diff has +%d -%d", a, r, added, removed)
				}
			}
			t.Logf("  %-10s %8.1f ms  +%-6d -%-6d  peak heap %6.1f MiB  diff %7d bytes  %s", d.name,
				float64(took.Microseconds())/1000, added, removed, peak, len(text), verdict)
		}
	}
}

func BenchmarkDiffSideBySide(b *testing.B) {
	for _, changed := range diffChangedLines {
		old, new := sourceLike(1<<20, changed)
		for _, d := range differs {
			b.Run(fmt.Sprintf("changed=%d/%s", changed, d.name), func(b *testing.B) {
				text := d.diff(old, new)
				added, removed, err := checkUnified(old, new, text)
				if err != nil {
					if d.name == "propsec" {
						b.Fatal(err)
					}
					b.Logf("%s: not a valid diff: %v", d.name, err)
					added, removed = countUnified(text)
				}
				b.SetBytes(int64(len(old) + len(new)))
				b.ReportAllocs()
				for b.Loop() {
					d.diff(old, new)
				}
				b.ReportMetric(float64(added+removed), "lines-changed")
			})
		}
	}
}
