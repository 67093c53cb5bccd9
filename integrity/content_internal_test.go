package integrity

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zeebo/blake3"
)

// TestContentBox proves that a stored copy does not hold its content,
// opens only under the hash it was sealed for and the key it was sealed
// with, and that any altered byte, truncation or old plaintext copy is
// refused with the error that says which.
func TestContentBox(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	box := newContentBox(key)
	data := []byte("DB_USER=app\nDB_PASSWORD=hunter2-correct-horse\n")
	h := Hash(blake3.Sum256(data))
	other := Hash(blake3.Sum256([]byte("something else\n")))
	stored := box.seal(h, data)
	if bytes.Contains(stored, []byte("hunter2")) || len(stored) != len(data)+contentOverhead {
		t.Fatalf("stored copy %q", stored)
	}
	if again := box.seal(h, data); bytes.Equal(again[1:25], stored[1:25]) {
		t.Fatal("two copies share a nonce")
	}
	flip := func(i int) []byte {
		b := bytes.Clone(stored)
		b[i] ^= 0x01
		return b
	}
	for _, c := range []struct {
		name   string
		box    contentBox
		hash   Hash
		stored []byte
		want   error
	}{
		{"intact", box, h, stored, nil},
		{"empty content", box, Hash(blake3.Sum256(nil)), box.seal(Hash(blake3.Sum256(nil)), nil), nil},
		{"under another hash", box, other, stored, errContentRefused},
		{"another key", newContentBox([]byte("another key, also of 32 bytes!!!")), h, stored, errContentRefused},
		{"version byte", box, h, flip(0), errContentRefused},
		{"nonce byte", box, h, flip(3), errContentRefused},
		{"ciphertext byte", box, h, flip(30), errContentRefused},
		{"tag byte", box, h, flip(len(stored) - 1), errContentRefused},
		{"truncated", box, h, stored[:len(stored)-1], errContentRefused},
		{"header only", box, h, stored[:25], errContentRefused},
		{"empty", box, h, nil, errContentRefused},
		{"plaintext of an earlier version", box, h, data, errContentPlain},
		{"plaintext under another hash", box, other, data, errContentRefused},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.box.open(c.hash, c.stored)
			if !errors.Is(err, c.want) {
				t.Fatalf("open: %v, want %v", err, c.want)
			}
			if err == nil && Hash(blake3.Sum256(got)) != c.hash {
				t.Fatalf("opened %q", got)
			}
		})
	}
}
