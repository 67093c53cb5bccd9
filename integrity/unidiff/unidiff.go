// Package unidiff writes unified diffs of text, as GNU diff -u does: the
// line diff behind the file-integrity monitor's known-good/current diffs
// (package integrity), in a package of its own because it depends on
// nothing else there.
package unidiff

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// Context is the number of unchanged lines shown around each change.
const Context = 3

// Unified returns the unified diff (3 lines of context) that turns old
// into new, and how many lines it adds and removes; "" when they are equal.
// Lines end at "\n"; a last line without one is marked "\ No newline at end
// of file", as GNU diff does.
//
// The algorithm is Myers' O(ND) with linear space (divide and conquer on
// the middle snake), after setting aside the common prefix and suffix and
// the lines found on one side only (which cannot be in common). Like GNU
// diff and git, it stops seeking the shortest edit past a cost bound and
// splits at the furthest point reached instead, and a work budget bounds
// the whole computation: the diff stays correct, but may be longer than the
// shortest one on pathological inputs.
//
// It is not a library's: side by side on 1 MiB files (bench/README.md),
// go-udiff gave up on all but a few edits (whole regions replaced) and wrote
// wrong hunk headers, and go-difflib took over a second.
func Unified(oldLabel, newLabel string, old, new []byte) (text string, added, removed int) {
	la, lb := splitLines(old), splitLines(new)
	del, add := lineDiff(la, lb)
	return formatUnified(oldLabel, newLabel, la, lb, del, add, Context)
}

func splitLines(s []byte) [][]byte {
	n := bytes.Count(s, []byte{'\n'})
	out := make([][]byte, 0, n+1)
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// diffBudget bounds the work of one diff (diagonal steps and snake moves).
const diffBudget = 50_000_000

// lineDiff marks the lines of a removed and the lines of b added.
func lineDiff(la, lb [][]byte) (del, add []bool) {
	del, add = make([]bool, len(la)), make([]bool, len(lb))
	ids := make(map[string]int32, len(la)+len(lb))
	intern := func(ls [][]byte) []int32 {
		out := make([]int32, len(ls))
		for i, l := range ls {
			id, ok := ids[string(l)]
			if !ok {
				id = int32(len(ids))
				ids[string(l)] = id
			}
			out[i] = id
		}
		return out
	}
	ha, hb := intern(la), intern(lb)
	pre := 0
	for pre < len(ha) && pre < len(hb) && ha[pre] == hb[pre] {
		pre++
	}
	suf := 0
	for suf < len(ha)-pre && suf < len(hb)-pre && ha[len(ha)-1-suf] == hb[len(hb)-1-suf] {
		suf++
	}
	ha, hb = ha[pre:len(ha)-suf], hb[pre:len(hb)-suf]
	// Lines found on one side only are changes; set them aside.
	inA, inB := make([]bool, len(ids)), make([]bool, len(ids))
	for _, v := range ha {
		inA[v] = true
	}
	for _, v := range hb {
		inB[v] = true
	}
	reduce := func(h []int32, other []bool, mark []bool) ([]int32, []int) {
		var vals []int32
		var idx []int
		for i, v := range h {
			if other[v] {
				vals = append(vals, v)
				idx = append(idx, i)
			} else {
				mark[pre+i] = true
			}
		}
		return vals, idx
	}
	ra, ia := reduce(ha, inB, del)
	rb, ib := reduce(hb, inA, add)
	d := newDiffer(ra, rb)
	d.compare(0, len(ra), 0, len(rb), false)
	for i, c := range d.ca {
		if c {
			del[pre+ia[i]] = true
		}
	}
	for i, c := range d.cb {
		if c {
			add[pre+ib[i]] = true
		}
	}
	return del, add
}

// differ is Myers' linear-space algorithm as in xdiff (git, libxdiff).
type differ struct {
	a, b       []int32
	ca, cb     []bool
	kvdf, kvdb []int // furthest x on each diagonal, forward and backward
	off        int   // index of diagonal 0 in kvdf, kvdb
	maxCost    int
	budget     int
}

func newDiffer(a, b []int32) *differ {
	n := len(a) + len(b) + 3
	return &differ{a: a, b: b, ca: make([]bool, len(a)), cb: make([]bool, len(b)),
		kvdf: make([]int, n), kvdb: make([]int, n), off: len(b) + 1,
		maxCost: max(256, int(math.Sqrt(float64(n)))), budget: diffBudget}
}

func (d *differ) compare(off1, lim1, off2, lim2 int, needMin bool) {
	for off1 < lim1 && off2 < lim2 && d.a[off1] == d.b[off2] {
		off1++
		off2++
	}
	for off1 < lim1 && off2 < lim2 && d.a[lim1-1] == d.b[lim2-1] {
		lim1--
		lim2--
	}
	switch {
	case off1 == lim1:
		fill(d.cb[off2:lim2])
		return
	case off2 == lim2:
		fill(d.ca[off1:lim1])
		return
	case d.budget <= 0:
		fill(d.ca[off1:lim1])
		fill(d.cb[off2:lim2])
		return
	}
	i1, i2, minLo, minHi := d.split(off1, lim1, off2, lim2, needMin)
	if (i1 == off1 && i2 == off2) || (i1 == lim1 && i2 == lim2) {
		// No progress (cannot happen by Myers' argument; be safe).
		fill(d.ca[off1:lim1])
		fill(d.cb[off2:lim2])
		return
	}
	d.compare(off1, i1, off2, i2, minLo)
	d.compare(i1, lim1, i2, lim2, minHi)
}

func fill(b []bool) {
	for i := range b {
		b[i] = true
	}
}

// split finds where an (approximately) shortest edit script of
// a[off1:lim1] → b[off2:lim2] crosses its middle.
func (d *differ) split(off1, lim1, off2, lim2 int, needMin bool) (int, int, bool, bool) {
	a, b, kvdf, kvdb, o := d.a, d.b, d.kvdf, d.kvdb, d.off
	dmin, dmax := off1-lim2, lim1-off2
	fmid, bmid := off1-off2, lim1-lim2
	odd := (fmid-bmid)&1 != 0
	fmin, fmax, bmin, bmax := fmid, fmid, bmid, bmid
	kvdf[fmid+o] = off1
	kvdb[bmid+o] = lim1
	for ec := 1; ; ec++ {
		if fmin > dmin {
			fmin--
			kvdf[fmin-1+o] = -1
		} else {
			fmin++
		}
		if fmax < dmax {
			fmax++
			kvdf[fmax+1+o] = -1
		} else {
			fmax--
		}
		work := 0
		for k := fmax; k >= fmin; k -= 2 {
			var i1 int
			if kvdf[k-1+o] >= kvdf[k+1+o] {
				i1 = kvdf[k-1+o] + 1
			} else {
				i1 = kvdf[k+1+o]
			}
			start := i1
			i2 := i1 - k
			for i1 < lim1 && i2 < lim2 && a[i1] == b[i2] {
				i1++
				i2++
			}
			work += 1 + i1 - start
			kvdf[k+o] = i1
			if odd && bmin <= k && k <= bmax && kvdb[k+o] <= i1 {
				d.budget -= work
				return i1, i2, true, true
			}
		}
		if bmin > dmin {
			bmin--
			kvdb[bmin-1+o] = math.MaxInt
		} else {
			bmin++
		}
		if bmax < dmax {
			bmax++
			kvdb[bmax+1+o] = math.MaxInt
		} else {
			bmax--
		}
		for k := bmax; k >= bmin; k -= 2 {
			var i1 int
			if kvdb[k-1+o] < kvdb[k+1+o] {
				i1 = kvdb[k-1+o]
			} else {
				i1 = kvdb[k+1+o] - 1
			}
			start := i1
			i2 := i1 - k
			for i1 > off1 && i2 > off2 && a[i1-1] == b[i2-1] {
				i1--
				i2--
			}
			work += 1 + start - i1
			kvdb[k+o] = i1
			if !odd && fmin <= k && k <= fmax && i1 <= kvdf[k+o] {
				d.budget -= work
				return i1, i2, true, true
			}
		}
		d.budget -= work
		if needMin && d.budget > 0 {
			continue
		}
		if ec < d.maxCost && d.budget > 0 {
			continue
		}
		// Too expensive: split at the furthest-reaching path, forward or
		// backward, whichever went further.
		fbest, fbest1 := -1, -1
		for k := fmax; k >= fmin; k -= 2 {
			i1 := min(kvdf[k+o], lim1)
			i2 := i1 - k
			if lim2 < i2 {
				i1, i2 = lim2+k, lim2
			}
			if fbest < i1+i2 {
				fbest, fbest1 = i1+i2, i1
			}
		}
		bbest, bbest1 := math.MaxInt, math.MaxInt
		for k := bmax; k >= bmin; k -= 2 {
			i1 := max(off1, kvdb[k+o])
			i2 := i1 - k
			if i2 < off2 {
				i1, i2 = off2+k, off2
			}
			if i1+i2 < bbest {
				bbest, bbest1 = i1+i2, i1
			}
		}
		if (lim1+lim2)-bbest < fbest-(off1+off2) {
			return fbest1, fbest - fbest1, true, false
		}
		return bbest1, bbest - bbest1, false, true
	}
}

// formatUnified writes the unified diff of the marked lines.
func formatUnified(oldLabel, newLabel string, la, lb [][]byte, del, add []bool, context int) (string, int, int) {
	type block struct{ i1, i2, j1, j2 int }
	var blocks []block
	added, removed := 0, 0
	for i, j := 0, 0; i < len(la) || j < len(lb); {
		if (i < len(la) && del[i]) || (j < len(lb) && add[j]) {
			b := block{i1: i, j1: j}
			for i < len(la) && del[i] {
				i++
			}
			for j < len(lb) && add[j] {
				j++
			}
			b.i2, b.j2 = i, j
			removed += b.i2 - b.i1
			added += b.j2 - b.j1
			blocks = append(blocks, b)
			continue
		}
		i++
		j++
	}
	if len(blocks) == 0 {
		return "", 0, 0
	}
	var sb strings.Builder
	sb.WriteString("--- " + oldLabel + "\n+++ " + newLabel + "\n")
	line := func(prefix byte, l []byte) {
		sb.WriteByte(prefix)
		sb.Write(l)
		if len(l) == 0 || l[len(l)-1] != '\n' {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
	for h := 0; h < len(blocks); {
		last := h
		for last+1 < len(blocks) && blocks[last+1].i1-blocks[last].i2 <= 2*context {
			last++
		}
		first, end := blocks[h], blocks[last]
		hs := max(0, first.i1-context)
		he := min(len(la), end.i2+context)
		js := first.j1 - (first.i1 - hs)
		je := end.j2 + (he - end.i2)
		sb.WriteString("@@ -" + hunkRange(hs, he-hs) + " +" + hunkRange(js, je-js) + " @@\n")
		i := hs
		for _, b := range blocks[h : last+1] {
			for ; i < b.i1; i++ {
				line(' ', la[i])
			}
			for _, l := range la[b.i1:b.i2] {
				line('-', l)
			}
			for _, l := range lb[b.j1:b.j2] {
				line('+', l)
			}
			i = b.i2
		}
		for ; i < he; i++ {
			line(' ', la[i])
		}
		h = last + 1
	}
	return sb.String(), added, removed
}

// hunkRange writes a hunk's line range as GNU diff does: "start,count",
// "start" when count is 1, and the line before the hunk when it is empty.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return strconv.Itoa(start) + ",0"
	case 1:
		return strconv.Itoa(start + 1)
	}
	return strconv.Itoa(start+1) + "," + strconv.Itoa(count)
}
