package breach

import (
	"bytes"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"

	"github.com/propops/propsec/security"
)

// Range is every breached hash that shares one prefix: their suffixes and
// counts, ordered by suffix (HIBP's order), without padding. A Range is
// immutable and safe for concurrent use.
type Range struct {
	prefix string
	kind   HashKind
	recs   []byte        // packed records, kind.recSize() bytes each
	big    map[int]int64 // counts too large for a record, by index
}

// Entry is one breached hash of a [Range]: the suffix (uppercase hex) and
// how many times it was seen in breaches. It marshals to JSON as
// {"suffix": "…", "count": n}.
type Entry struct {
	Suffix string `json:"suffix"`
	Count  int64  `json:"count"`
}

// Prefix returns the range's prefix: 5 uppercase hex digits.
func (r *Range) Prefix() string { return r.prefix }

// Kind returns the kind of hash the range holds.
func (r *Range) Kind() HashKind { return r.kind }

// Len returns the number of breached hashes in the range.
func (r *Range) Len() int { return len(r.recs) / r.kind.recSize() }

// At returns the i-th entry, 0 ≤ i < Len().
func (r *Range) At(i int) Entry {
	rec := r.rec(i)
	var buf [40]byte
	return Entry{Suffix: string(appendSuffixHex(buf[:0], rec)), Count: r.countAt(i, rec)}
}

// All yields the entries in order.
func (r *Range) All() iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		for i := range r.Len() {
			if !yield(r.At(i)) {
				return
			}
		}
	}
}

// Entries returns the entries in order, in a new slice.
func (r *Range) Entries() []Entry {
	out := make([]Entry, r.Len())
	for i := range out {
		out[i] = r.At(i)
	}
	return out
}

// Count returns how many times the hash with this suffix (either case) was
// seen in breaches: 0 when it is not in the range or suffix is not a
// suffix of the range's kind.
func (r *Range) Count(suffix string) int64 {
	if len(suffix) != r.kind.SuffixLen() {
		return 0
	}
	var key [maxRecSize]byte
	if !packSuffix(key[:r.kind.recSize()], suffix, 0) {
		return 0
	}
	return r.countKey(key[:r.kind.recSize()])
}

// countKey looks up a packed key of the range's kind.
func (r *Range) countKey(key []byte) int64 {
	i := searchRecs(r.recs, len(key), key)
	if i < 0 {
		return 0
	}
	return r.countAt(i, r.rec(i))
}

// WriteTo writes the range as the HIBP range API does: one
// "SUFFIX:COUNT" line per hash, each ended by CRLF.
func (r *Range) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 0, 64*1024)
	var total int64
	for i := range r.Len() {
		rec := r.rec(i)
		buf = appendSuffixHex(buf, rec)
		buf = append(buf, ':')
		buf = strconv.AppendInt(buf, r.countAt(i, rec), 10)
		buf = append(buf, '\r', '\n')
		if len(buf) > cap(buf)-64 {
			n, err := w.Write(buf)
			total += int64(n)
			if err != nil {
				return total, err
			}
			buf = buf[:0]
		}
	}
	n, err := w.Write(buf)
	return total + int64(n), err
}

func (r *Range) rec(i int) []byte {
	s := r.kind.recSize()
	return r.recs[i*s : i*s+s]
}

func (r *Range) countAt(i int, rec []byte) int64 {
	f := countField(rec)
	if f == countEscape {
		return r.big[i]
	}
	return int64(f)
}

// FormatError is malformed input: a range body or an importer's input
// line. It wraps [security.ErrInvalid]. The reason never quotes more than a
// short, escaped piece of the input.
type FormatError struct {
	// File names the input file, when there is one.
	File string
	// Line is the 1-based line number, or 0 when the error is not about one
	// line.
	Line int64
	// Reason says what is wrong.
	Reason string
}

// Error returns "file:line: reason", leaving out what is unknown.
func (e *FormatError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	case e.File != "":
		return e.File + ": " + e.Reason
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return e.Reason
}

// Is makes errors.Is(err, security.ErrInvalid) true.
func (e *FormatError) Is(target error) bool { return target == security.ErrInvalid }

// quote shows at most 48 bytes of untrusted input, escaped.
func quote(b []byte) string {
	if len(b) > 48 {
		return strconv.Quote(string(b[:48])) + "…"
	}
	return strconv.Quote(string(b))
}

// ParseRange parses a body of the HIBP range API for prefix: lines of
// "SUFFIX:COUNT", separated by CRLF or LF, the last one with or without a
// line ending. The suffix has kind.SuffixLen() hex digits (either case) and
// the count is a decimal integer. Padding rows (count 0, as sent for
// "Add-Padding: true") are dropped. Parsing is strict: an empty body, an
// empty or malformed line, or a suffix given twice is a [*FormatError],
// never an empty range. Rows out of order are sorted.
func ParseRange(kind HashKind, prefix string, body []byte) (*Range, error) {
	if !kind.valid() {
		return nil, fmt.Errorf("breach: unknown hash kind %d", kind)
	}
	p, err := ParsePrefix(prefix)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, &FormatError{Reason: "empty range body"}
	}
	size, sl := kind.recSize(), kind.SuffixLen()
	r := &Range{prefix: p, kind: kind, recs: make([]byte, 0, size*(len(body)/(sl+4)+1))}
	var rec [maxRecSize]byte
	sorted := true
	for line := int64(1); len(body) > 0; line++ {
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		l = bytes.TrimSuffix(l, []byte{'\r'})
		suffix, count, reason := splitRow(l, sl)
		if reason != "" {
			return nil, &FormatError{Line: line, Reason: reason}
		}
		if !packSuffix(rec[:size], suffix, inlineField(count)) {
			return nil, &FormatError{Line: line, Reason: "suffix is not hexadecimal: " + quote(l)}
		}
		if count == 0 {
			continue // padding
		}
		if n := len(r.recs); n > 0 && sorted {
			switch compareSuffix(r.recs[n-size:], rec[:size]) {
			case 0:
				return nil, &FormatError{Line: line, Reason: "suffix repeated: " + quote(suffix)}
			case 1:
				sorted = false
			}
		}
		if count > maxInline {
			if r.big == nil {
				r.big = make(map[int]int64)
			}
			r.big[r.Len()] = count
		}
		r.recs = append(r.recs, rec[:size]...)
	}
	if !sorted {
		if err := r.sort(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// splitRow splits "SUFFIX:COUNT" with a suffix of sl characters (checked
// for hex by the caller), or says what is wrong.
func splitRow(l []byte, sl int) (suffix []byte, count int64, reason string) {
	if len(l) == 0 {
		return nil, 0, "empty line"
	}
	if len(l) < sl+2 || l[sl] != ':' {
		return nil, 0, fmt.Sprintf("not SUFFIX:COUNT with a %d-digit suffix: %s", sl, quote(l))
	}
	count, ok := parseCount(l[sl+1:])
	if !ok {
		return nil, 0, "count is not a decimal integer: " + quote(l)
	}
	return l[:sl], count, ""
}

// parseCount parses a non-negative decimal int64 made of digits only.
func parseCount(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + uint64(d)
	}
	return int64(n), n <= 1<<63-1
}

// sort orders the records by suffix and refuses duplicates.
func (r *Range) sort() error {
	size, n := r.kind.recSize(), r.Len()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return compareSuffix(r.rec(a), r.rec(b)) })
	recs := make([]byte, 0, len(r.recs))
	var big map[int]int64
	for j, i := range idx {
		rec := r.rec(i)
		if j > 0 && compareSuffix(recs[len(recs)-size:], rec) == 0 {
			return &FormatError{Reason: "suffix repeated: " + string(appendSuffixHex(nil, rec))}
		}
		if c, ok := r.big[i]; ok {
			if big == nil {
				big = make(map[int]int64)
			}
			big[j] = c
		}
		recs = append(recs, rec...)
	}
	r.recs, r.big = recs, big
	return nil
}
