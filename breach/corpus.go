package breach

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/propops/propsec/security"
)

// The corpus file, version 1. All integers are little-endian.
//
//	offset          size            what
//	0               64              header (see below)
//	64              4 × 2^20        index: the number of records of each prefix, uint32
//	64 + 4 MiB      N × R           records, sorted by hash (R = 20 for SHA-1, 16 for NTLM)
//	…               M × 16          overflow: (record number uint64, count uint64), by record number
//
// Header:
//
//	0   magic "PSPWNED\x00"
//	8   version uint32 (1)
//	12  kind uint8 (1 SHA-1, 2 NTLM)
//	13  record size uint8
//	14  count bits uint8 (20)
//	15  zero
//	16  N, the number of records, uint64
//	24  M, the number of overflow entries, uint64
//	32  CRC-32C of bytes 0–31, the index and the overflow
//	36  CRC-32C of the records
//	40  zero up to 64
//
// A record is the hash without its 5-digit prefix (which the index
// implies), shifted to the front, with its count in the 20 bits the prefix
// left free: 17.5 + 2.5 bytes for SHA-1. A count that does not fit (more
// than 1,048,574) is stored as 0xFFFFF and found in the overflow table.
const (
	corpusMagic   = "PSPWNED\x00"
	corpusVersion = 1
	headerSize    = 64
	indexOff      = headerSize
	indexSize     = 4 * Buckets
	recordsOff    = indexOff + indexSize
	overflowSize  = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by the errors [OpenCorpus] and [Corpus.Verify]
// return for a file that is not a well-formed corpus.
var ErrCorrupt = errors.New("breach: corrupt corpus file")

func corrupt(path, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrCorrupt, path, fmt.Sprintf(format, args...))
}

// overflow is a count too large for its record.
type overflow struct {
	rec   uint64
	count int64
}

// Corpus is an offline copy of Pwned Passwords in propsec's compact file
// format, made by [Import]. It is a [Source]: a range is one contiguous
// run of records, found through an in-memory index, so a lookup reads the
// file once. Where the platform allows, the file is memory-mapped, and a
// warm lookup makes no system call.
//
// The file must not be modified in place while open (a truncated mapping
// faults); [Import] replaces a file by renaming over it, which is safe. A
// Corpus is safe for concurrent use.
type Corpus struct {
	path    string
	kind    HashKind
	size    int // record size
	n       uint64
	starts  []uint64 // Buckets+1 record numbers
	over    []overflow
	dataCRC uint32

	f      *os.File
	m      atomic.Pointer[mapping] // nil when not mapped, or closed
	closed atomic.Bool
}

// mapping is the memory-mapped file. Readers hold a pointer to it while
// they read the mapped memory (runtime.KeepAlive); it is unmapped by a
// cleanup once unreachable, so Close never pulls the memory from under a
// lookup in progress, and lookups take no lock.
type mapping struct {
	data []byte // the whole file
	recs []byte // the records
}

// OpenCorpus opens a corpus file. It checks the header, the index and the
// overflow table (and their checksum) and loads the index, 8 MiB, into
// memory; [Corpus.Verify] also checks the records.
func OpenCorpus(path string) (*Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c, err := openCorpus(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func openCorpus(f *os.File, path string) (*Corpus, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var magic [len(corpusMagic)]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != corpusMagic {
		return nil, corrupt(path, "not a propsec breach corpus (bad magic)")
	}
	if st.Size() < recordsOff {
		return nil, corrupt(path, "%d bytes is too short for a corpus", st.Size())
	}
	meta := make([]byte, recordsOff)
	if _, err := f.ReadAt(meta, 0); err != nil {
		return nil, err
	}
	h := meta[:headerSize]
	if v := binary.LittleEndian.Uint32(h[8:]); v != corpusVersion {
		return nil, corrupt(path, "format version %d, this code reads %d", v, corpusVersion)
	}
	kind := HashKind(h[12])
	if !kind.valid() || int(h[13]) != kind.recSize() || h[14] != countBits || h[15] != 0 ||
		!allZero(h[40:headerSize]) {
		return nil, corrupt(path, "bad header fields")
	}
	c := &Corpus{path: path, kind: kind, size: kind.recSize(), f: f,
		n: binary.LittleEndian.Uint64(h[16:]), dataCRC: binary.LittleEndian.Uint32(h[36:])}
	m := binary.LittleEndian.Uint64(h[24:])
	rest := uint64(st.Size() - recordsOff)
	if c.n > rest/uint64(c.size) || m > c.n || (rest-c.n*uint64(c.size)) != m*overflowSize {
		return nil, corrupt(path, "size %d does not match %d records and %d overflow entries", st.Size(), c.n, m)
	}
	ov := make([]byte, m*overflowSize)
	if _, err := f.ReadAt(ov, recordsOff+int64(c.n)*int64(c.size)); err != nil {
		return nil, err
	}
	crc := crc32.Update(crc32.Checksum(h[:32], castagnoli), castagnoli, meta[indexOff:])
	if crc32.Update(crc, castagnoli, ov) != binary.LittleEndian.Uint32(h[32:]) {
		return nil, corrupt(path, "header, index or overflow checksum mismatch")
	}
	c.starts = make([]uint64, Buckets+1)
	for i := range Buckets {
		c.starts[i+1] = c.starts[i] + uint64(binary.LittleEndian.Uint32(meta[indexOff+4*i:]))
	}
	if c.starts[Buckets] != c.n {
		return nil, corrupt(path, "index counts %d records, header %d", c.starts[Buckets], c.n)
	}
	c.over = make([]overflow, m)
	for i := range c.over {
		e := ov[i*overflowSize:]
		c.over[i] = overflow{binary.LittleEndian.Uint64(e), int64(binary.LittleEndian.Uint64(e[8:]))}
		if c.over[i].rec >= c.n || c.over[i].count <= maxInline || (i > 0 && c.over[i].rec <= c.over[i-1].rec) {
			return nil, corrupt(path, "bad overflow entry %d", i)
		}
	}
	if data, err := mmapFile(f, st.Size()); err == nil && data != nil {
		m := &mapping{data: data, recs: data[recordsOff : recordsOff+c.n*uint64(c.size)]}
		runtime.AddCleanup(m, func(b []byte) { munmap(b) }, data)
		c.m.Store(m)
	}
	return c, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Kind returns the kind of hash the corpus holds.
func (c *Corpus) Kind() HashKind { return c.kind }

// Len returns the number of hashes in the corpus.
func (c *Corpus) Len() int64 { return int64(c.n) }

var errClosed = errors.New("corpus closed")

// Range returns every hash of the corpus with prefix (5 hex digits).
func (c *Corpus) Range(ctx context.Context, prefix string) (*Range, error) {
	p, ok := prefixValue(prefix)
	if !ok {
		return nil, security.Invalid("hash_prefix", "must be exactly 5 hexadecimal digits")
	}
	lo, hi := c.starts[p], c.starts[p+1]
	r := &Range{prefix: upperHex(prefix), kind: c.kind, recs: make([]byte, (hi-lo)*uint64(c.size))}
	if err := c.read(r.recs, lo); err != nil {
		return nil, err
	}
	for i := range r.Len() {
		if countField(r.rec(i)) == countEscape {
			n, err := c.overflowCount(lo + uint64(i))
			if err != nil {
				return nil, err
			}
			if r.big == nil {
				r.big = make(map[int]int64)
			}
			r.big[i] = n
		}
	}
	return r, nil
}

var bucketPool = sync.Pool{New: func() any { b := make([]byte, 0, 64*1024); return &b }}

// countKey finds one hash without copying its range when the file is
// mapped.
func (c *Corpus) countKey(_ context.Context, p uint32, key [maxRecSize]byte) (int64, error) {
	lo, hi := c.starts[p], c.starts[p+1]
	var recs []byte
	if m := c.m.Load(); m != nil {
		defer runtime.KeepAlive(m)
		recs = m.recs[lo*uint64(c.size) : hi*uint64(c.size)]
	} else {
		bp := bucketPool.Get().(*[]byte)
		defer bucketPool.Put(bp)
		recs = slices.Grow((*bp)[:0], int((hi-lo)*uint64(c.size)))[:(hi-lo)*uint64(c.size)]
		*bp = recs
		if err := c.read(recs, lo); err != nil {
			return 0, err
		}
	}
	i := searchRecs(recs, c.size, key[:c.size])
	if i < 0 {
		return 0, nil
	}
	if f := countField(recs[i*c.size : i*c.size+c.size]); f != countEscape {
		return int64(f), nil
	}
	return c.overflowCount(lo + uint64(i))
}

// read copies records from record number first into dst.
func (c *Corpus) read(dst []byte, first uint64) error {
	if m := c.m.Load(); m != nil {
		copy(dst, m.recs[first*uint64(c.size):])
		runtime.KeepAlive(m)
		return nil
	}
	if c.closed.Load() {
		return errClosed
	}
	_, err := c.f.ReadAt(dst, recordsOff+int64(first)*int64(c.size))
	return err
}

func (c *Corpus) overflowCount(rec uint64) (int64, error) {
	i, ok := slices.BinarySearchFunc(c.over, rec, func(o overflow, r uint64) int {
		switch {
		case o.rec < r:
			return -1
		case o.rec > r:
			return 1
		}
		return 0
	})
	if !ok {
		return 0, corrupt(c.path, "record %d has no overflow entry", rec)
	}
	return c.over[i].count, nil
}

// Verify reads the whole file and checks the records' checksum, their
// order, and that the overflow table matches them. It takes a while on a
// large corpus (it reads every byte) and is safe to run while the corpus
// serves lookups.
func (c *Corpus) Verify(ctx context.Context) error {
	if c.closed.Load() {
		return errClosed
	}
	var r io.Reader = io.NewSectionReader(c.f, recordsOff, int64(c.n)*int64(c.size))
	if m := c.m.Load(); m != nil {
		defer runtime.KeepAlive(m)
		r = bytes.NewReader(m.recs)
	}
	block := make([]byte, (1<<20)/c.size*c.size)
	var buf []byte
	prev := make([]byte, c.size)
	var crc uint32
	var rec, escapes uint64
	for p := range uint32(Buckets) {
		if p%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		for ; rec < c.starts[p+1]; rec++ {
			if len(buf) == 0 {
				n, err := io.ReadFull(r, block)
				if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
					return err
				}
				if n < c.size {
					return corrupt(c.path, "records end early")
				}
				buf = block[:n]
				crc = crc32.Update(crc, castagnoli, buf)
			}
			cur := buf[:c.size]
			buf = buf[c.size:]
			if rec > c.starts[p] && compareSuffix(prev, cur) >= 0 {
				return corrupt(c.path, "record %d is out of order", rec)
			}
			switch f := countField(cur); f {
			case 0:
				return corrupt(c.path, "record %d has count 0", rec)
			case countEscape:
				if escapes >= uint64(len(c.over)) || c.over[escapes].rec != rec {
					return corrupt(c.path, "record %d has no overflow entry", rec)
				}
				escapes++
			}
			copy(prev, cur)
		}
	}
	if escapes != uint64(len(c.over)) {
		return corrupt(c.path, "%d overflow entries for %d escaped counts", len(c.over), escapes)
	}
	if crc != c.dataCRC {
		return corrupt(c.path, "records checksum mismatch")
	}
	return nil
}

// Close releases the file. Lookups after Close fail; lookups in progress
// finish safely, and the mapping is released once the last of them is done
// (by the garbage collector: reopening corpora often holds address space,
// not memory, a little longer).
func (c *Corpus) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.m.Store(nil)
	return c.f.Close()
}
