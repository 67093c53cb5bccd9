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
//	version (1 byte) || nonce (24 bytes) || XChaCha20-Poly1305(content) || tag (16 bytes)
//
// with associated data contentAD || version || the content's hash.
const (
	contentVersion  = 1
	contentAD       = "propsec integrity v1 content copy"
	contentOverhead = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
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

// seal returns the stored form of data, whose hash is h.
func (b contentBox) seal(h Hash, data []byte) []byte {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, len(data)+contentOverhead)
	out[0] = contentVersion
	nonce := out[1:]
	rand.Read(nonce) // never fails (crypto/rand)
	return b.aead.Seal(out, nonce, data, contentAssociatedData(h))
}

// open returns the content of stored, the stored form of content whose hash
// is h, or errContentRefused or errContentPlain.
func (b contentBox) open(h Hash, stored []byte) ([]byte, error) {
	if len(stored) >= contentOverhead && stored[0] == contentVersion {
		nonce := stored[1 : 1+chacha20poly1305.NonceSizeX]
		data, err := b.aead.Open(nil, nonce, stored[1+chacha20poly1305.NonceSizeX:], contentAssociatedData(h))
		if err == nil {
			return data, nil
		}
	}
	if Hash(blake3.Sum256(stored)) == h {
		return nil, errContentPlain
	}
	return nil, errContentRefused
}
