package breach

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// ImportOptions configures [Import].
type ImportOptions struct {
	// Kind is the kind of hash in the input: [SHA1] (the default) or
	// [NTLM] (the downloader's -n output).
	Kind HashKind
	// Progress, when set, is called from time to time during the import
	// (every 32 MiB of input, or every 4,096 files of a directory) and once
	// at the end with Done set.
	Progress func(ImportProgress)
	// AllowMissingRanges lets a directory import proceed when some of the
	// 2^20 range files are missing (a partial download, or a test). By
	// default a missing file is an error: a corpus with holes would call
	// breached passwords clean.
	AllowMissingRanges bool
}

// ImportProgress says how far an import has got.
type ImportProgress struct {
	// BytesRead and TotalBytes count the input read so far and in all
	// (TotalBytes is 0 when unknown).
	BytesRead, TotalBytes int64
	// Lines is the number of lines read; Hashes the number of hashes
	// written; Padding the number of lines with count 0, which are dropped.
	Lines, Hashes, Padding int64
	// Files and TotalFiles count the range files of a directory import.
	Files, TotalFiles int
	// Done is set on the last call.
	Done bool
}

// Import builds the corpus file dst from src, the output of HIBP's
// official downloader (PwnedPasswordsDownloader): either the single sorted
// file pwnedpasswords.txt, one "HASH:COUNT" line per hash, or the
// directory of per-prefix files (its -s false output), 00000.txt to
// FFFFF.txt of "SUFFIX:COUNT" lines. Lines end in CRLF or LF; hex digits
// may be in either case.
//
// The input is checked as it is read: a malformed line, or a hash not
// strictly after the one before it (unsorted or repeated), stops the import
// with a [*FormatError] naming the file and line. Lines with count 0
// (HIBP's padding) are dropped.
//
// The file is written to a temporary file beside dst, synced, and renamed
// over dst, so dst is either the old corpus or the complete new one; a
// [Corpus] open on the old file keeps reading it.
func Import(ctx context.Context, dst, src string, opts ImportOptions) (ImportProgress, error) {
	st, err := os.Stat(src)
	if err != nil {
		return ImportProgress{}, err
	}
	if dt, err := os.Stat(dst); err == nil && os.SameFile(st, dt) {
		return ImportProgress{}, fmt.Errorf("breach: import: the output %s is the input", dst)
	}
	if st.IsDir() {
		return importDir(ctx, dst, src, opts)
	}
	f, err := os.Open(src)
	if err != nil {
		return ImportProgress{}, err
	}
	defer f.Close()
	return importReader(ctx, dst, f, filepath.Base(src), st.Size(), opts)
}

// ImportReader is [Import] from a stream in the single-file format
// (pwnedpasswords.txt).
func ImportReader(ctx context.Context, dst string, r io.Reader, opts ImportOptions) (ImportProgress, error) {
	return importReader(ctx, dst, r, "", 0, opts)
}

func importReader(ctx context.Context, dst string, r io.Reader, name string, total int64, opts ImportOptions) (ImportProgress, error) {
	im, err := newImporter(dst, opts)
	if err != nil {
		return ImportProgress{}, err
	}
	im.prog.TotalBytes = total
	if err := im.feed(ctx, r, name, -1); err != nil {
		return im.abort(err)
	}
	return im.finish(name)
}

func importDir(ctx context.Context, dst, dir string, opts ImportOptions) (ImportProgress, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ImportProgress{}, err
	}
	type rangeFile struct {
		p    uint32
		name string
	}
	var files []rangeFile
	for _, e := range ents {
		n := e.Name()
		if len(n) != PrefixLen+4 || n[PrefixLen:] != ".txt" || e.IsDir() {
			continue
		}
		if p, ok := prefixValue(n[:PrefixLen]); ok {
			files = append(files, rangeFile{p, n})
		}
	}
	if len(files) == 0 {
		return ImportProgress{}, &FormatError{File: dir, Reason: "no range files (00000.txt … FFFFF.txt)"}
	}
	slices.SortFunc(files, func(a, b rangeFile) int { return int(a.p) - int(b.p) })
	for i, f := range files {
		if i > 0 && f.p == files[i-1].p {
			return ImportProgress{}, &FormatError{File: dir, Reason: "range " + prefixString(f.p) + " given twice: " + files[i-1].name + ", " + f.name}
		}
		if uint32(i) != f.p && !opts.AllowMissingRanges {
			return ImportProgress{}, &FormatError{File: dir, Reason: fmt.Sprintf(
				"range file %s.txt is missing (%d of %d present); pass AllowMissingRanges for a partial set",
				prefixString(uint32(i)), len(files), Buckets)}
		}
	}
	im, err := newImporter(dst, opts)
	if err != nil {
		return ImportProgress{}, err
	}
	im.prog.TotalFiles = len(files)
	for _, rf := range files {
		if err := im.feedFile(ctx, filepath.Join(dir, rf.name), rf.name, int64(rf.p)); err != nil {
			return im.abort(err)
		}
		im.prog.Files++
		if im.prog.Files%4096 == 0 {
			im.report()
		}
	}
	return im.finish(dir)
}

func (im *importer) feedFile(ctx context.Context, path, name string, prefix int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return im.feed(ctx, f, name, prefix)
}

// importer turns lines into a corpus file.
type importer struct {
	opts        ImportOptions
	kind        HashKind
	size        int
	dst, tmp    string
	f           *os.File
	out         []byte
	crc         uint32
	sizes       []uint32
	over        []overflow
	n           uint64
	last        [maxRecSize]byte
	lastP       int64
	prog        ImportProgress
	buf         []byte
	nextReport  int64
	recScratch  [maxRecSize]byte
	suffixDigit int
}

const (
	importBuf    = 4 << 20
	reportEvery  = 32 << 20
	maxLineBytes = 256
)

func newImporter(dst string, opts ImportOptions) (*importer, error) {
	if opts.Kind == 0 {
		opts.Kind = SHA1
	}
	if !opts.Kind.valid() {
		return nil, fmt.Errorf("breach: import: unknown hash kind %d", opts.Kind)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return nil, err
	}
	im := &importer{opts: opts, kind: opts.Kind, size: opts.Kind.recSize(), dst: dst, tmp: f.Name(), f: f,
		out: make([]byte, 0, 1<<20), sizes: make([]uint32, Buckets), lastP: -1,
		buf: make([]byte, importBuf), nextReport: reportEvery, suffixDigit: opts.Kind.SuffixLen()}
	if _, err := f.Seek(recordsOff, io.SeekStart); err != nil {
		_, err = im.abort(err)
		return nil, err
	}
	return im, nil
}

// abort removes the temporary file.
func (im *importer) abort(err error) (ImportProgress, error) {
	im.f.Close()
	os.Remove(im.tmp)
	return im.prog, err
}

func (im *importer) report() {
	if im.opts.Progress != nil {
		im.opts.Progress(im.prog)
	}
}

// feed reads lines from r: "HASH:COUNT" when prefix < 0, else
// "SUFFIX:COUNT" of that prefix.
func (im *importer) feed(ctx context.Context, r io.Reader, name string, prefix int64) error {
	buf := im.buf
	var start, end int
	var line int64
	for eof := false; ; {
		for {
			i := bytes.IndexByte(buf[start:end], '\n')
			if i < 0 {
				break
			}
			line++
			if err := im.line(buf[start:start+i], prefix); err != "" {
				return &FormatError{File: name, Line: line, Reason: err}
			}
			start += i + 1
		}
		if eof {
			if start < end {
				line++
				if err := im.line(buf[start:end], prefix); err != "" {
					return &FormatError{File: name, Line: line, Reason: err}
				}
			}
			break
		}
		if end-start > maxLineBytes {
			return &FormatError{File: name, Line: line + 1, Reason: "line too long: " + quote(buf[start:end])}
		}
		end = copy(buf, buf[start:end])
		start = 0
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadAtLeast(r, buf[end:], 1)
		end += n
		im.prog.BytesRead += int64(n)
		switch {
		case errors.Is(err, io.EOF):
			eof = true
		case err != nil:
			return err
		}
		if im.prog.BytesRead >= im.nextReport {
			im.nextReport = im.prog.BytesRead + reportEvery
			im.report()
		}
	}
	im.prog.Lines += line
	return nil
}

// line takes one line (without its LF) and says what is wrong with it, if
// anything.
func (im *importer) line(l []byte, prefix int64) string {
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	if len(l) == 0 {
		return "empty line"
	}
	orig, sl := l, im.suffixDigit
	p := uint32(prefix)
	if prefix < 0 {
		var ok bool
		if p, ok = prefixValue(l[:min(len(l), PrefixLen)]); !ok {
			return im.malformed(orig, prefix)
		}
		l = l[PrefixLen:]
	}
	if len(l) < sl+2 || l[sl] != ':' {
		return im.malformed(orig, prefix)
	}
	count, ok := parseCount(l[sl+1:])
	if !ok {
		return "count is not a decimal integer: " + quote(l[sl+1:])
	}
	rec := im.recScratch[:im.size]
	if !packSuffix(rec, l[:sl], inlineField(count)) {
		return "hash is not hexadecimal: " + quote(l[:sl])
	}
	if count == 0 {
		im.prog.Padding++
		return ""
	}
	if int64(p) < im.lastP {
		return "not sorted: range " + prefixString(p) + " after " + prefixString(uint32(im.lastP))
	}
	if int64(p) == im.lastP {
		switch compareSuffix(im.last[:im.size], rec) {
		case 0:
			return "hash repeated: " + prefixString(p) + string(appendSuffixHex(nil, rec))
		case 1:
			return "not sorted: " + prefixString(p) + string(appendSuffixHex(nil, rec)) +
				" after " + prefixString(p) + string(appendSuffixHex(nil, im.last[:im.size]))
		}
	}
	if im.sizes[p] == math.MaxUint32 {
		return "too many hashes in range " + prefixString(p)
	}
	if count > maxInline {
		im.over = append(im.over, overflow{im.n, count})
	}
	copy(im.last[:], rec)
	im.lastP = int64(p)
	im.sizes[p]++
	im.n++
	im.prog.Hashes++
	im.out = append(im.out, rec...)
	if len(im.out) > cap(im.out)-maxRecSize {
		if err := im.flush(); err != nil {
			return "writing: " + err.Error()
		}
	}
	return ""
}

func (im *importer) malformed(l []byte, prefix int64) string {
	if prefix < 0 {
		return fmt.Sprintf("not HASH:COUNT with a %d-digit hash: %s", im.kind.HexLen(), quote(l))
	}
	return fmt.Sprintf("not SUFFIX:COUNT with a %d-digit suffix: %s", im.suffixDigit, quote(l))
}

func (im *importer) flush() error {
	im.crc = crc32.Update(im.crc, castagnoli, im.out)
	_, err := im.f.Write(im.out)
	im.out = im.out[:0]
	return err
}

// finish writes the overflow table, index and header, syncs and renames.
func (im *importer) finish(name string) (ImportProgress, error) {
	if im.n == 0 {
		return im.abort(&FormatError{File: name, Reason: "no hashes in the input"})
	}
	if err := im.flush(); err != nil {
		return im.abort(err)
	}
	ov := make([]byte, len(im.over)*overflowSize)
	for i, o := range im.over {
		binary.LittleEndian.PutUint64(ov[i*overflowSize:], o.rec)
		binary.LittleEndian.PutUint64(ov[i*overflowSize+8:], uint64(o.count))
	}
	meta := make([]byte, recordsOff)
	h := meta[:headerSize]
	copy(h, corpusMagic)
	binary.LittleEndian.PutUint32(h[8:], corpusVersion)
	h[12], h[13], h[14] = byte(im.kind), byte(im.size), countBits
	binary.LittleEndian.PutUint64(h[16:], im.n)
	binary.LittleEndian.PutUint64(h[24:], uint64(len(im.over)))
	for i, s := range im.sizes {
		binary.LittleEndian.PutUint32(meta[indexOff+4*i:], s)
	}
	crc := crc32.Update(crc32.Checksum(h[:32], castagnoli), castagnoli, meta[indexOff:])
	binary.LittleEndian.PutUint32(h[32:], crc32.Update(crc, castagnoli, ov))
	binary.LittleEndian.PutUint32(h[36:], im.crc)
	if _, err := im.f.Write(ov); err != nil {
		return im.abort(err)
	}
	if _, err := im.f.WriteAt(meta, 0); err != nil {
		return im.abort(err)
	}
	if err := im.f.Chmod(0o644); err != nil {
		return im.abort(err)
	}
	if err := im.f.Sync(); err != nil {
		return im.abort(err)
	}
	if err := im.f.Close(); err != nil {
		os.Remove(im.tmp)
		return im.prog, err
	}
	if err := os.Rename(im.tmp, im.dst); err != nil {
		os.Remove(im.tmp)
		return im.prog, err
	}
	if d, err := os.Open(filepath.Dir(im.dst)); err == nil {
		d.Sync() // make the rename durable; not every platform can
		d.Close()
	}
	im.prog.Done = true
	im.report()
	return im.prog, nil
}
