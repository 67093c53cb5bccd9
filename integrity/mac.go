package integrity

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/zeebo/blake3"
)

// macKeys are the keys derived from the host's key, one per kind of record,
// so that a MAC of one kind can never pass for another.
type macKeys struct {
	entry, seal, observation, deployment macKey
}

// macKey is one derived key, with a pool of hashers keyed with it (a
// hasher is several KiB: a scan computes two MACs per path).
type macKey struct {
	key  [32]byte
	pool sync.Pool
}

func (k *macKey) derive(context string, material []byte) {
	blake3.DeriveKey(context, material, k.key[:])
	k.pool.New = func() any {
		h, _ := blake3.NewKeyed(k.key[:]) // the key is always 32 bytes
		return h
	}
}

func deriveKeys(key []byte) *macKeys {
	k := &macKeys{}
	k.entry.derive("propsec integrity v1 entry MAC", key)
	k.seal.derive("propsec integrity v1 seal MAC", key)
	k.observation.derive("propsec integrity v1 observation MAC", key)
	k.deployment.derive("propsec integrity v1 deployment MAC", key)
	return k
}

// encoder writes a canonical, unambiguous encoding: every string is length
// prefixed and every number fixed width.
type encoder struct{ b []byte }

func (e *encoder) str(s string) {
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) u64(v uint64)     { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) time(t time.Time) { e.u64(uint64(unixNano(t))) }
func (e *encoder) hash(h Hash)      { e.b = append(e.b, h[:]...) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func keyedSum(k *macKey, data []byte) Hash {
	h := k.pool.Get().(*blake3.Hasher)
	h.Reset()
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	k.pool.Put(h)
	return out
}

func encodeEntry(e *encoder, x *Entry) {
	e.str(x.Root)
	e.str(x.Path)
	e.str(string(x.Type))
	e.u64(uint64(x.Size))
	e.u64(uint64(x.Mode))
	e.u64(uint64(x.UID))
	e.u64(uint64(x.GID))
	e.time(x.MTime)
	e.time(x.CTime)
	e.u64(x.Inode)
	e.u64(x.Device)
	e.str(x.Target)
	e.hash(x.Hash)
	e.bool(x.ContentKept)
	if x.Meta {
		// Appended only with Meta: an entry recorded before Meta existed
		// keeps its MAC, and one stripped of Meta fails it.
		e.bool(true)
		e.b = appendMeta(e.b, x, false)
	}
}

func (k *macKeys) entryMAC(x *Entry) Hash {
	var buf [256]byte // room for most paths: one allocation, not one per growth
	e := encoder{b: buf[:0]}
	encodeEntry(&e, x)
	return keyedSum(&k.entry, e.b)
}

func (k *macKeys) observationMAC(o *Observation) Hash {
	var buf [256]byte
	e := encoder{b: buf[:0]}
	e.str(o.Root)
	e.str(o.Path)
	e.hash(o.State)
	return keyedSum(&k.observation, e.b)
}

func (k *macKeys) deploymentMAC(d *Deployment) Hash {
	var e encoder
	e.str(d.ID)
	e.str(d.Description)
	e.time(d.StartedAt)
	e.u64(uint64(d.ActorUserID))
	return keyedSum(&k.deployment, e.b)
}

// sealer computes a root's seal from its entries' MACs, in path order.
type sealer struct {
	h *blake3.Hasher
	n int64
}

func (k *macKeys) newSealer(root string) *sealer {
	h, _ := blake3.NewKeyed(k.seal.key[:])
	var e encoder
	e.str(root)
	h.Write(e.b)
	return &sealer{h: h}
}

func (s *sealer) add(mac Hash) {
	s.h.Write(mac[:])
	s.n++
}

func (s *sealer) sum() Hash {
	var e encoder
	e.u64(uint64(s.n))
	h := s.h.Clone()
	h.Write(e.b)
	var out Hash
	h.Sum(out[:0])
	return out
}

// absentState is the state digest of a path that does not exist.
var absentState = blake3.Sum256([]byte("propsec integrity v1 absent"))

// stateDigest condenses what is compared about a current state, so that "the
// same changed state" can be recognised later; old is the path's baseline
// entry (nil: none). Times and inode count for files that were not hashed,
// and the extended attributes, link count and times when they are
// compared, the same rules as [compare]. A path whose entry
// lacks Meta gets the digest it had before Meta existed.
func stateDigest(old *Entry, c *current) Hash {
	if c == nil {
		return absentState
	}
	var e encoder
	e.str("propsec integrity v1 state")
	if c.StatError != "" {
		e.str("stat error")
		return blake3.Sum256(e.b)
	}
	x := &c.Entry
	e.str(string(x.Type))
	e.u64(uint64(x.Mode))
	e.u64(uint64(x.UID))
	e.u64(uint64(x.GID))
	switch x.Type {
	case TypeFile:
		e.hash(x.Hash)
		if x.Hash.IsZero() {
			e.u64(uint64(x.Size))
			e.time(x.MTime)
			e.time(x.CTime)
			e.u64(x.Inode)
		}
	case TypeSymlink:
		e.str(x.Target)
	case TypeBlockDevice, TypeCharDevice:
		e.u64(x.Device)
	}
	e.bool(c.Unreadable != "")
	if c.Meta && (old == nil || old.Meta) {
		e.str("meta")
		e.b = appendMeta(e.b, x, true)
	}
	return blake3.Sum256(e.b)
}
