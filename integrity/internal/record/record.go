// Package record is the canonical encoding and the keyed BLAKE3 MACs of
// the records integrity stores: baseline entries, seals, observations and
// deployments. What each record's encoding holds is integrity's; this
// package gives the primitives.
//
// # Encoding
//
// An [Encoder] writes a canonical, unambiguous encoding: every string is
// length prefixed and every number fixed width (big-endian), a time is its
// Unix nanoseconds (0 for the zero time), so that two different records
// never encode alike.
//
// # Keys
//
// Each kind of record has its own [Key], derived from the host's key with
// BLAKE3 derive-key and a context naming the kind, so that a MAC of one
// kind can never pass for another. A Key keeps a pool of hashers keyed
// with it: a hasher is several KiB, and a scan computes two MACs per path.
//
// # Seals
//
// A [Sealer] computes a root's seal: a MAC over the root's name, its
// entries' MACs in path order, and their number, which catches records
// removed, added or replayed.
package record

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/zeebo/blake3"
)

// Key is one derived key, with a pool of hashers keyed with it.
type Key struct {
	key  [32]byte
	pool sync.Pool
}

// Derive sets k to the key derived from material for context.
func (k *Key) Derive(context string, material []byte) {
	blake3.DeriveKey(context, material, k.key[:])
	k.pool.New = func() any {
		h, _ := blake3.NewKeyed(k.key[:]) // the key is always 32 bytes
		return h
	}
}

// Sum returns the MAC of data under k.
func (k *Key) Sum(data []byte) [32]byte {
	h := k.pool.Get().(*blake3.Hasher)
	h.Reset()
	h.Write(data)
	var out [32]byte
	h.Sum(out[:0])
	k.pool.Put(h)
	return out
}

// Encoder appends a canonical encoding to B.
type Encoder struct{ B []byte }

// Str appends s, length prefixed.
func (e *Encoder) Str(s string) {
	e.B = binary.BigEndian.AppendUint64(e.B, uint64(len(s)))
	e.B = append(e.B, s...)
}

// U64 appends v.
func (e *Encoder) U64(v uint64) { e.B = binary.BigEndian.AppendUint64(e.B, v) }

// Time appends t's Unix nanoseconds (0 for the zero time).
func (e *Encoder) Time(t time.Time) { e.U64(uint64(unixNano(t))) }

// Hash appends h.
func (e *Encoder) Hash(h [32]byte) { e.B = append(e.B, h[:]...) }

// Bool appends v as one byte.
func (e *Encoder) Bool(v bool) {
	if v {
		e.B = append(e.B, 1)
	} else {
		e.B = append(e.B, 0)
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Sealer computes a root's seal from its entries' MACs, in path order.
type Sealer struct {
	h *blake3.Hasher
	n int64
}

// NewSealer returns the Sealer of root under k.
func (k *Key) NewSealer(root string) *Sealer {
	h, _ := blake3.NewKeyed(k.key[:])
	var e Encoder
	e.Str(root)
	h.Write(e.B)
	return &Sealer{h: h}
}

// Add adds the next entry's MAC.
func (s *Sealer) Add(mac [32]byte) {
	s.h.Write(mac[:])
	s.n++
}

// Entries returns how many MACs were added.
func (s *Sealer) Entries() int64 { return s.n }

// Sum returns the seal of the MACs added so far.
func (s *Sealer) Sum() [32]byte {
	var e Encoder
	e.U64(uint64(s.n))
	h := s.h.Clone()
	h.Write(e.B)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
