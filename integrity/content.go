package integrity

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
)

// The known-good copies kept for diffs are stored encrypted (see "Content
// at rest" in the package doc). A stored copy is
//
//	XChaCha20-Poly1305(content) || tag (16 bytes) || nonce (24 bytes) || version (1 byte)
//
// with associated data contentAD || version || the content's hash. The
// nonce and version come last so that a copy can be sealed in place, in
// the buffer the content was read into (see fsmeta.Options.ContentRoom).
const (
	contentVersion  = 1
	contentAD       = "propsec integrity v1 content copy"
	contentOverhead = chacha20poly1305.Overhead + chacha20poly1305.NonceSizeX + 1
)

// The reasons a stored copy is not used; [Monitor.Diff] says them after
// "not diffed: ".
var (
	errContentRefused = errors.New("the stored known-good copy failed decryption (altered, moved from another hash, or stored under another key)")
	errContentPlain   = errors.New("the known-good copy was stored unencrypted by an earlier version and is not used; it is stored again, encrypted, when the file's content is next accepted")
)

// contentBox encrypts and decrypts known-good copies under a key derived
// from the host's key.
type contentBox struct{ aead cipher.AEAD }

func newContentBox(key []byte) contentBox {
	var k [chacha20poly1305.KeySize]byte
	blake3.DeriveKey("propsec integrity v1 content encryption", key, k[:])
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		panic(err) // unreachable: the key is always KeySize bytes
	}
	return contentBox{aead: aead}
}

func contentAssociatedData(h Hash) []byte {
	ad := make([]byte, 0, len(contentAD)+1+len(h))
	ad = append(ad, contentAD...)
	ad = append(ad, contentVersion)
	return append(ad, h[:]...)
}

// seal returns the stored form of data, whose hash is h. When data has
// room for contentOverhead more bytes, it is sealed in place: data's bytes
// are overwritten and the result shares its array.
func (b contentBox) seal(h Hash, data []byte) []byte {
	if cap(data)-len(data) < contentOverhead {
		data = append(make([]byte, 0, len(data)+contentOverhead), data...)
	}
	var nonce [chacha20poly1305.NonceSizeX]byte
	rand.Read(nonce[:]) // never fails (crypto/rand)
	out := b.aead.Seal(data[:0], nonce[:], data, contentAssociatedData(h))
	out = append(out, nonce[:]...)
	return append(out, contentVersion)
}

// open returns the content of stored, the stored form of content whose hash
// is h, or errContentRefused or errContentPlain. stored is left as it is.
func (b contentBox) open(h Hash, stored []byte) ([]byte, error) {
	if n := len(stored); n >= contentOverhead && stored[n-1] == contentVersion {
		sealed, nonce := stored[:n-1-chacha20poly1305.NonceSizeX], stored[n-1-chacha20poly1305.NonceSizeX:n-1]
		data, err := b.aead.Open(nil, nonce, sealed, contentAssociatedData(h))
		if err == nil {
			return data, nil
		}
	}
	if Hash(blake3.Sum256(stored)) == h {
		return nil, errContentPlain
	}
	return nil, errContentRefused
}
