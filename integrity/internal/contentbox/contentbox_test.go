package contentbox

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/zeebo/blake3"
)

// TestContentBox proves that a stored copy does not hold its content,
// opens only under the hash it was sealed for and the key it was sealed
// with, and that any altered byte, truncation or old plaintext copy is
// refused with the error that says which.
func TestContentBox(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	box := New(key)
	data := []byte("DB_USER=app\nDB_PASSWORD=hunter2-correct-horse\n")
	h := blake3.Sum256(data)
	other := blake3.Sum256([]byte("something else\n"))
	stored := box.Seal(h, data)
	if bytes.Contains(stored, []byte("hunter2")) || len(stored) != len(data)+Overhead {
		t.Fatalf("stored copy %q", stored)
	}
	if blake3.Sum256(data) != h {
		t.Fatal("seal altered content that had no room to be sealed in place")
	}
	nonce := func(b []byte) []byte { return b[len(b)-25 : len(b)-1] }
	if again := box.Seal(h, data); bytes.Equal(nonce(again), nonce(stored)) {
		t.Fatal("two copies share a nonce")
	}
	// With room after it, content is sealed in its own array.
	roomy := append(make([]byte, 0, len(data)+Overhead), data...)
	if inPlace := box.Seal(h, roomy); &inPlace[0] != &roomy[0] || bytes.Contains(roomy, []byte("hunter2")) {
		t.Fatal("not sealed in place")
	} else if got, err := box.Open(h, inPlace); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("open after sealing in place: %q %v", got, err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(stored)
		b[i] ^= 0x01
		return b
	}
	for _, c := range []struct {
		name   string
		box    Box
		hash   [32]byte
		stored []byte
		want   error
	}{
		{"intact", box, h, stored, nil},
		{"empty content", box, blake3.Sum256(nil), box.Seal(blake3.Sum256(nil), nil), nil},
		{"under another hash", box, other, stored, ErrRefused},
		{"another key", New([]byte("another key, also of 32 bytes!!!")), h, stored, ErrRefused},
		{"version byte", box, h, flip(len(stored) - 1), ErrRefused},
		{"nonce byte", box, h, flip(len(stored) - 10), ErrRefused},
		{"ciphertext byte", box, h, flip(3), ErrRefused},
		{"tag byte", box, h, flip(len(data) + 2), ErrRefused},
		{"truncated", box, h, stored[1:], ErrRefused},
		{"no ciphertext", box, h, stored[len(data):], ErrRefused},
		{"empty", box, h, nil, ErrRefused},
		{"plaintext of an earlier version", box, h, data, ErrPlain},
		{"plaintext under another hash", box, other, data, ErrRefused},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.box.Open(c.hash, c.stored)
			if !errors.Is(err, c.want) {
				t.Fatalf("open: %v, want %v", err, c.want)
			}
			if err == nil && blake3.Sum256(got) != c.hash {
				t.Fatalf("opened %q", got)
			}
		})
	}
}

// BenchmarkContentBox measures sealing a copy (in place, as a scan does)
// and opening it, per size.
func BenchmarkContentBox(b *testing.B) {
	box := New([]byte("0123456789abcdef0123456789abcdef"))
	for _, size := range []int{8 << 10, 1 << 20} {
		data := bytes.Repeat([]byte("DB_PASSWORD=hunter2\n"), size/20)
		h := blake3.Sum256(data)
		buf := make([]byte, len(data), len(data)+Overhead)
		b.Run(fmt.Sprintf("seal/size=%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				copy(buf, data)
				box.Seal(h, buf)
			}
		})
		stored := box.Seal(h, bytes.Clone(data))
		b.Run(fmt.Sprintf("open/size=%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := box.Open(h, stored); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
