package integritysql

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/sqlrow"
)

// Record layout, version 1:
//
//	byte     version (1)
//	uvarint  len(Type), then Type
//	varint   Size
//	uvarint  Mode, UID, GID
//	varint   MTime, CTime ([sqlrow.Nanos])
//	uvarint  Inode, Device
//	uvarint  len(Target), then Target
//	byte     flags: 1 ContentKept, 2 Hash not zero
//	[32]byte Hash, when flag 2
//	[32]byte MAC
//
// Version 2, written for entries with Meta, has the same fields and
// then:
//
//	uvarint  Links
//	uvarint  len(XAttrs), then for each:
//	           uvarint len(Name), then Name
//	           byte    flags: 1 Digest
//	           uvarint len(Value), then Value
//
// A layout change gets a new version byte; Parse keeps reading the old
// ones. A version 1 record is an entry without Meta.
const (
	recordV1 = 1
	recordV2 = 2
)

// Bounds a version 2 record is held to, well above what a scan records.
const (
	maxXAttrs     = 1 << 16
	maxXAttrBytes = 64 << 10
)

// Append appends e's record to dst.
func Append(dst []byte, e *integrity.Entry) []byte {
	if e.Meta {
		dst = append(dst, recordV2)
	} else {
		dst = append(dst, recordV1)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Type)))
	dst = append(dst, e.Type...)
	dst = binary.AppendVarint(dst, e.Size)
	dst = binary.AppendUvarint(dst, uint64(e.Mode))
	dst = binary.AppendUvarint(dst, uint64(e.UID))
	dst = binary.AppendUvarint(dst, uint64(e.GID))
	dst = binary.AppendVarint(dst, sqlrow.Nanos(e.MTime))
	dst = binary.AppendVarint(dst, sqlrow.Nanos(e.CTime))
	dst = binary.AppendUvarint(dst, e.Inode)
	dst = binary.AppendUvarint(dst, e.Device)
	dst = binary.AppendUvarint(dst, uint64(len(e.Target)))
	dst = append(dst, e.Target...)
	var flags byte
	if e.ContentKept {
		flags |= 1
	}
	if !e.Hash.IsZero() {
		flags |= 2
	}
	dst = append(dst, flags)
	if flags&2 != 0 {
		dst = append(dst, e.Hash[:]...)
	}
	if e.Meta {
		dst = binary.AppendUvarint(dst, e.Links)
		dst = binary.AppendUvarint(dst, uint64(len(e.XAttrs)))
		for _, a := range e.XAttrs {
			dst = binary.AppendUvarint(dst, uint64(len(a.Name)))
			dst = append(dst, a.Name...)
			var f byte
			if a.Digest {
				f = 1
			}
			dst = append(dst, f)
			dst = binary.AppendUvarint(dst, uint64(len(a.Value)))
			dst = append(dst, a.Value...)
		}
	}
	return append(dst, e.MAC[:]...)
}

// ErrMalformed is the error of a record that is not one.
var ErrMalformed = errors.New("malformed baseline record")

// recordReader reads the fields of a record, remembering the first error.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) fail() {
	if r.err == nil {
		r.err = ErrMalformed
	}
	r.b = nil
}

// skip drops the n bytes a varint took, or fails when n says it was
// malformed.
func (r *recordReader) skip(n int) bool {
	if n <= 0 {
		r.fail()
		return false
	}
	r.b = r.b[n:]
	return true
}

func (r *recordReader) uvarint() uint64 {
	if v, n := binary.Uvarint(r.b); r.skip(n) {
		return v
	}
	return 0
}

func (r *recordReader) varint() int64 {
	if v, n := binary.Varint(r.b); r.skip(n) {
		return v
	}
	return 0
}

func (r *recordReader) uint32() uint32 {
	v := r.uvarint()
	if v > 1<<32-1 {
		r.fail()
	}
	return uint32(v)
}

func (r *recordReader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *recordReader) hash(h *integrity.Hash) {
	copy(h[:], r.bytes(uint64(len(h))))
}

// Parse fills the fields of e other than its key from record b. It fails
// with an error wrapping [ErrMalformed] if b is not a record.
func Parse(b []byte, e *integrity.Entry) error {
	if len(b) == 0 || (b[0] != recordV1 && b[0] != recordV2) {
		return fmt.Errorf("%w: unknown version", ErrMalformed)
	}
	r := recordReader{b: b[1:]}
	e.Type = fileType(r.bytes(r.uvarint()))
	e.Size = r.varint()
	e.Mode, e.UID, e.GID = r.uint32(), r.uint32(), r.uint32()
	e.MTime, e.CTime = sqlrow.FromNanos(r.varint()), sqlrow.FromNanos(r.varint())
	e.Inode, e.Device = r.uvarint(), r.uvarint()
	e.Target = string(r.bytes(r.uvarint()))
	flags := r.bytes(1)
	if len(flags) == 1 {
		if flags[0]&^3 != 0 {
			r.fail()
		}
		e.ContentKept = flags[0]&1 != 0
		if flags[0]&2 != 0 {
			r.hash(&e.Hash)
		}
	}
	e.Meta, e.Links, e.XAttrs = b[0] == recordV2, 0, nil
	if e.Meta {
		r.meta(e)
	}
	r.hash(&e.MAC)
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	return r.err
}

// fileType returns b as a FileType, without allocating for the known ones.
func fileType(b []byte) integrity.FileType {
	for _, t := range fileTypes {
		if string(t) == string(b) {
			return t
		}
	}
	return integrity.FileType(b)
}

var fileTypes = []integrity.FileType{integrity.TypeFile, integrity.TypeDir, integrity.TypeSymlink,
	integrity.TypeFIFO, integrity.TypeSocket, integrity.TypeBlockDevice, integrity.TypeCharDevice}

// Content is the content column of e: its hash when its content is kept,
// else nil (NULL).
func Content(e *integrity.Entry) []byte {
	if !e.ContentKept {
		return nil
	}
	return e.Hash[:]
}

// meta reads the fields of a version 2 record.
func (r *recordReader) meta(e *integrity.Entry) {
	e.Links = r.uvarint()
	n := r.uvarint()
	if n > maxXAttrs {
		r.fail()
		return
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		name := r.uvarint()
		if name > maxXAttrBytes {
			r.fail()
			return
		}
		a := integrity.XAttr{Name: string(r.bytes(name))}
		if f := r.bytes(1); len(f) == 1 {
			if f[0]&^1 != 0 {
				r.fail()
			}
			a.Digest = f[0] == 1
		}
		size := r.uvarint()
		if size > maxXAttrBytes {
			r.fail()
			return
		}
		a.Value = string(r.bytes(size))
		if r.err == nil {
			e.XAttrs = append(e.XAttrs, a)
		}
	}
}
