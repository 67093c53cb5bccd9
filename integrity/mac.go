package integrity

import (
	"github.com/propops/propsec/integrity/internal/record"
	"github.com/zeebo/blake3"
)

// macKeys are the keys derived from the host's key, one per kind of record,
// so that a MAC of one kind can never pass for another (package record).
type macKeys struct {
	entry, seal, observation, deployment record.Key
}

func deriveKeys(key []byte) *macKeys {
	k := &macKeys{}
	k.entry.Derive("propsec integrity v1 entry MAC", key)
	k.seal.Derive("propsec integrity v1 seal MAC", key)
	k.observation.Derive("propsec integrity v1 observation MAC", key)
	k.deployment.Derive("propsec integrity v1 deployment MAC", key)
	return k
}

// encoder writes a canonical, unambiguous encoding (record.Encoder).
type encoder = record.Encoder

func encodeEntry(e *encoder, x *Entry) {
	e.Str(x.Root)
	e.Str(x.Path)
	e.Str(string(x.Type))
	e.U64(uint64(x.Size))
	e.U64(uint64(x.Mode))
	e.U64(uint64(x.UID))
	e.U64(uint64(x.GID))
	e.Time(x.MTime)
	e.Time(x.CTime)
	e.U64(x.Inode)
	e.U64(x.Device)
	e.Str(x.Target)
	e.Hash(x.Hash)
	e.Bool(x.ContentKept)
	if x.Meta {
		// Appended only with Meta: an entry recorded before Meta existed
		// keeps its MAC, and one stripped of Meta fails it.
		e.Bool(true)
		e.B = appendMeta(e.B, x, false)
	}
}

func (k *macKeys) entryMAC(x *Entry) Hash {
	var buf [256]byte // room for most paths: one allocation, not one per growth
	e := encoder{B: buf[:0]}
	encodeEntry(&e, x)
	return k.entry.Sum(e.B)
}

func (k *macKeys) observationMAC(o *Observation) Hash {
	var buf [256]byte
	e := encoder{B: buf[:0]}
	e.Str(o.Root)
	e.Str(o.Path)
	e.Hash(o.State)
	return k.observation.Sum(e.B)
}

func (k *macKeys) deploymentMAC(d *Deployment) Hash {
	var e encoder
	e.Str(d.ID)
	e.Str(d.Description)
	e.Time(d.StartedAt)
	e.U64(uint64(d.ActorUserID))
	return k.deployment.Sum(e.B)
}

// newSealer returns the sealer of root's baseline.
func (k *macKeys) newSealer(root string) *record.Sealer { return k.seal.NewSealer(root) }

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
	e.Str("propsec integrity v1 state")
	if c.StatError != "" {
		e.Str("stat error")
		return blake3.Sum256(e.B)
	}
	x := &c.Entry
	e.Str(string(x.Type))
	e.U64(uint64(x.Mode))
	e.U64(uint64(x.UID))
	e.U64(uint64(x.GID))
	switch x.Type {
	case TypeFile:
		e.Hash(x.Hash)
		if x.Hash.IsZero() {
			e.U64(uint64(x.Size))
			e.Time(x.MTime)
			e.Time(x.CTime)
			e.U64(x.Inode)
		}
	case TypeSymlink:
		e.Str(x.Target)
	case TypeBlockDevice, TypeCharDevice:
		e.U64(x.Device)
	}
	e.Bool(c.Unreadable != "")
	if c.Meta && (old == nil || old.Meta) {
		e.Str("meta")
		e.B = appendMeta(e.B, x, true)
	}
	return blake3.Sum256(e.B)
}
