package unidiff_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/propops/propsec/integrity/unidiff"
)

// applyUnified applies a unified diff made by Unified to old, checking
// every context and removed line against it.
func applyUnified(t testing.TB, old []byte, diff string) []byte {
	t.Helper()
	if diff == "" {
		return old
	}
	lines := strings.SplitAfter(diff, "\n")
	if !strings.HasPrefix(lines[0], "--- ") || !strings.HasPrefix(lines[1], "+++ ") {
		t.Fatalf("no header: %q", diff)
	}
	src := splitAfter(old)
	var out []string
	pos := 0 // next line of src
	for i := 2; i < len(lines) && lines[i] != ""; {
		h := lines[i]
		var os, oc, ns, nc int
		if !parseHunk(h, &os, &oc, &ns, &nc) {
			t.Fatalf("bad hunk header %q", h)
		}
		start := os - 1
		if oc == 0 {
			start = os
		}
		if start < pos {
			t.Fatalf("hunks overlap at %q", h)
		}
		out = append(out, src[pos:start]...)
		pos = start
		i++
		gotOld, gotNew := 0, 0
		for i < len(lines) && lines[i] != "" && !strings.HasPrefix(lines[i], "@@") {
			l := lines[i]
			i++
			body := l[1:]
			if i < len(lines) && lines[i] == "\\ No newline at end of file\n" {
				body = strings.TrimSuffix(body, "\n")
				i++
			}
			switch l[0] {
			case ' ', '-':
				if pos >= len(src) || src[pos] != body {
					t.Fatalf("line %d: have %q, diff says %q", pos+1, at(src, pos), body)
				}
				pos++
				gotOld++
				if l[0] == ' ' {
					out = append(out, body)
					gotNew++
				}
			case '+':
				out = append(out, body)
				gotNew++
			default:
				t.Fatalf("bad line %q", l)
			}
		}
		if gotOld != oc || gotNew != nc {
			t.Fatalf("hunk %q has %d/%d lines", h, gotOld, gotNew)
		}
	}
	out = append(out, src[pos:]...)
	return []byte(strings.Join(out, ""))
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<eof>"
}

func splitAfter(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	s := strings.SplitAfter(string(b), "\n")
	if s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	return s
}

func parseHunk(h string, os, oc, ns, nc *int) bool {
	var a, b string
	if _, err := fmt.Sscanf(h, "@@ -%s +%s @@\n", &a, &b); err != nil {
		return false
	}
	return parseRange(a, os, oc) && parseRange(b, ns, nc)
}

func parseRange(s string, start, count *int) bool {
	x, y, found := strings.Cut(s, ",")
	var err1, err2 error
	*start, err1 = strconv.Atoi(x)
	*count = 1
	if found {
		*count, err2 = strconv.Atoi(y)
	}
	return err1 == nil && err2 == nil
}

func checkDiff(t testing.TB, a, b []byte) (string, int, int) {
	t.Helper()
	text, added, removed := unidiff.Unified("a/f", "b/f", a, b)
	if bytes.Equal(a, b) != (text == "") {
		t.Fatalf("equal=%v but diff %q", bytes.Equal(a, b), text)
	}
	if got := applyUnified(t, a, text); !bytes.Equal(got, b) {
		t.Fatalf("applying the diff gives %q, want %q\n%s", got, b, text)
	}
	plus, minus := 0, 0
	for _, l := range strings.Split(text, "\n")[min(2, len(text)):] {
		switch {
		case strings.HasPrefix(l, "+"):
			plus++
		case strings.HasPrefix(l, "-"):
			minus++
		}
	}
	if plus != added || minus != removed {
		t.Fatalf("counts %d/%d, diff has %d/%d", added, removed, plus, minus)
	}
	return text, added, removed
}

func TestUnified(t *testing.T) {
	for _, c := range []struct {
		a, b, want string
	}{
		{"", "", ""},
		{"a\n", "a\n", ""},
		{"a\nb\nc\n", "a\nB\nc\n", "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{"a", "a\n", "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"},
		{"", "x\n", "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\nfourteen\n15\n",
			"--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n@@ -11,5 +11,5 @@\n 11\n 12\n 13\n-14\n+fourteen\n 15\n"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\nfour\n5\n6\n7\n8\nnine\n", // changes 6 lines apart share a hunk
			"--- a/f\n+++ b/f\n@@ -1,9 +1,9 @@\n 1\n 2\n 3\n-4\n+four\n 5\n 6\n 7\n 8\n-9\n+nine\n"},
	} {
		text, _, _ := checkDiff(t, []byte(c.a), []byte(c.b))
		if text != c.want {
			t.Errorf("diff(%q, %q) =\n%s\nwant\n%s", c.a, c.b, text, c.want)
		}
	}
}

// TestUnifiedIsShortest checks that scattered edits of a file whose lines
// repeat (so no line can be set aside) give the shortest diff.
func TestUnifiedIsShortest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b bytes.Buffer
	changes := 0
	for i := range 20000 {
		line := fmt.Sprintf("token %d\n", r.IntN(50))
		a.WriteString(line)
		if i%40 == 7 {
			b.WriteString(fmt.Sprintf("token %d\n", 50+r.IntN(50)))
			changes++
		} else {
			b.WriteString(line)
		}
	}
	_, added, removed := checkDiff(t, a.Bytes(), b.Bytes())
	if added > changes || removed > changes {
		t.Fatalf("%d changes: +%d -%d", changes, added, removed)
	}
}

func TestUnifiedLarge(t *testing.T) {
	a, b := diffInput(1<<20, 4000)
	checkDiff(t, a, b)
	checkDiff(t, a, nil)
	checkDiff(t, nil, b)
	checkDiff(t, a, bytes.ToUpper(a))
}

// diffInput makes a text of about size bytes from a small vocabulary (like
// source code, lines repeat) and a copy with about edits random line edits:
// replacements, insertions, deletions and lines moved further down.
func diffInput(size, edits int) ([]byte, []byte) {
	r := rand.New(rand.NewPCG(3, 4))
	vocab := make([]string, 400)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("%*s%s(%d);\n", r.IntN(12), "", []string{"call", "return", "x =", "if"}[r.IntN(4)], r.IntN(300))
	}
	var lines []string
	n := 0
	for n < size {
		l := vocab[r.IntN(len(vocab))]
		lines = append(lines, l)
		n += len(l)
	}
	var a, b strings.Builder
	var moved []string
	for _, l := range lines {
		a.WriteString(l)
		if r.IntN(len(lines)) >= edits {
			b.WriteString(l)
			continue
		}
		switch r.IntN(4) {
		case 0:
			b.WriteString(vocab[r.IntN(len(vocab))])
		case 1:
			b.WriteString(vocab[r.IntN(len(vocab))])
			b.WriteString(l)
		case 2:
		case 3:
			moved = append(moved, l)
		}
		if len(moved) > 0 && r.IntN(8) == 0 {
			b.WriteString(strings.Join(moved, ""))
			moved = moved[:0]
		}
	}
	b.WriteString(strings.Join(moved, ""))
	return []byte(a.String()), []byte(b.String())
}

func BenchmarkDiff1MiB(b *testing.B) {
	for _, edits := range []int{100, 4000, 40000} {
		old, new := diffInput(1<<20, edits)
		b.Run(fmt.Sprintf("edits=%d", edits), func(b *testing.B) {
			b.SetBytes(int64(len(old) + len(new)))
			var added, removed int
			for b.Loop() {
				_, added, removed = unidiff.Unified("a", "b", old, new)
			}
			b.ReportMetric(float64(added+removed), "lines-changed")
		})
	}
	// Nothing in common: every line differs.
	old, _ := diffInput(1<<20, 0)
	b.Run("rewritten", func(b *testing.B) {
		new := bytes.ToUpper(old)
		for b.Loop() {
			unidiff.Unified("a", "b", old, new)
		}
	})
}

func FuzzUnified(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), []byte("a\nc\nd"))
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("x\n\n\ny\n"), []byte("\n\nx\ny\n\n"))
	f.Add([]byte("a\x00b\n"), []byte("a\x00c\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a)+len(b) > 1<<16 {
			return
		}
		checkDiff(t, a, b)
	})
}
