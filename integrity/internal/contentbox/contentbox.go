// Package contentbox encrypts the known-good copies integrity keeps for
// diffs, so that the store only ever holds them encrypted (see "Content at
// rest" in integrity's package doc).
//
// # Format
//
// A stored copy is
//
//	XChaCha20-Poly1305(content) || tag (16 bytes) || nonce (24 bytes) || version (1 byte)
//
// under a key derived from the host's key (BLAKE3 derive-key, context
// "propsec integrity v1 content encryption"), with a random nonce per copy
// and associated data "propsec integrity v1 content copy" || version ||
// the content's BLAKE3 hash: a copy is bound to the hash it is stored
// under. The nonce and version come last so that a copy can be sealed in
// place, in the buffer the content was read into, when it has [Overhead]
// bytes of room after it.
//
// # Refusals
//
// [Box.Open] refuses a copy that fails to decrypt ([ErrRefused]: altered,
// moved from another hash, or stored under another key), and tells a
// plaintext copy stored by an earlier version ([ErrPlain]).
package contentbox

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
)

// The format's version byte and associated-data domain.
const (
	contentVersion = 1
	contentAD      = "propsec integrity v1 content copy"
)

// Overhead is how many bytes a stored copy takes beyond its content.
const Overhead = chacha20poly1305.Overhead + chacha20poly1305.NonceSizeX + 1

// The reasons a stored copy is not used; integrity's Monitor.Diff says
// them after "not diffed: ".
var (
	ErrRefused = errors.New("the stored known-good copy failed decryption (altered, moved from another hash, or stored under another key)")
	ErrPlain   = errors.New("the known-good copy was stored unencrypted by an earlier version and is not used; it is stored again, encrypted, when the file's content is next accepted")
)

// Box encrypts and decrypts known-good copies under a key derived from the
// host's key.
type Box struct{ aead cipher.AEAD }

// New returns the Box of the host's key.
func New(key []byte) Box {
	var k [chacha20poly1305.KeySize]byte
	blake3.DeriveKey("propsec integrity v1 content encryption", key, k[:])
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		panic(err) // unreachable: the key is always KeySize bytes
	}
	return Box{aead: aead}
}

func contentAssociatedData(h [32]byte) []byte {
	ad := make([]byte, 0, len(contentAD)+1+len(h))
	ad = append(ad, contentAD...)
	ad = append(ad, contentVersion)
	return append(ad, h[:]...)
}

// Seal returns the stored form of data, whose hash is h. When data has
// room for Overhead more bytes, it is sealed in place: data's bytes are
// overwritten and the result shares its array.
func (b Box) Seal(h [32]byte, data []byte) []byte {
	if cap(data)-len(data) < Overhead {
		data = append(make([]byte, 0, len(data)+Overhead), data...)
	}
	var nonce [chacha20poly1305.NonceSizeX]byte
	rand.Read(nonce[:]) // never fails (crypto/rand)
	out := b.aead.Seal(data[:0], nonce[:], data, contentAssociatedData(h))
	out = append(out, nonce[:]...)
	return append(out, contentVersion)
}

// Open returns the content of stored, the stored form of content whose hash
// is h, or ErrRefused or ErrPlain. stored is left as it is.
func (b Box) Open(h [32]byte, stored []byte) ([]byte, error) {
	if n := len(stored); n >= Overhead && stored[n-1] == contentVersion {
		sealed, nonce := stored[:n-1-chacha20poly1305.NonceSizeX], stored[n-1-chacha20poly1305.NonceSizeX:n-1]
		data, err := b.aead.Open(nil, nonce, sealed, contentAssociatedData(h))
		if err == nil {
			return data, nil
		}
	}
	if blake3.Sum256(stored) == h {
		return nil, ErrPlain
	}
	return nil, ErrRefused
}
