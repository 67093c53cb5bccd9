package record

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// The encoding and the MACs are stored formats: the encoding below is
// the golden one, the MAC keyed BLAKE3 under the derive-key of the
// context, and the seal keyed BLAKE3 (seal key) over the root's encoding,
// the MACs and their number.
func TestGolden(t *testing.T) {
	var k Key
	k.Derive("propsec record test", []byte("0123456789abcdef0123456789abcdef"))
	var e Encoder
	e.Str("a")
	e.U64(7)
	e.Time(time.Time{})
	e.Time(time.Unix(1, 2))
	e.Hash([32]byte{1})
	e.Bool(true)
	e.Bool(false)
	const enc = "00000000000000016100000000000000070000000000000000000000003b9aca02" +
		"0100000000000000000000000000000000000000000000000000000000000000" + "0100"
	if got := hex.EncodeToString(e.B); got != enc {
		t.Fatalf("encoding %s, want %s", got, enc)
	}
	mac := k.Sum(e.B)
	var dk [32]byte
	blake3.DeriveKey("propsec record test", []byte("0123456789abcdef0123456789abcdef"), dk[:])
	h, _ := blake3.NewKeyed(dk[:])
	h.Write(e.B)
	if want := h.Sum(nil); hex.EncodeToString(mac[:]) != hex.EncodeToString(want) {
		t.Fatalf("MAC %x, want %x", mac, want)
	}
	if again := k.Sum(e.B); again != mac {
		t.Fatal("Sum differs for the same data (a pooled hasher kept state)")
	}
	var other Key
	other.Derive("propsec record test 2", []byte("0123456789abcdef0123456789abcdef"))
	if other.Sum(e.B) == mac {
		t.Fatal("two contexts gave one MAC")
	}
	s := k.NewSealer("/r")
	empty := s.Sum()
	s.Add(mac)
	one := s.Sum()
	if s.Entries() != 1 || one == empty || k.NewSealer("/other").Sum() == empty {
		t.Fatalf("seal: %d entries, %x %x", s.Entries(), one, empty)
	}
	if s.Sum() != one {
		t.Fatal("Sum is not idempotent")
	}
	h, _ = blake3.NewKeyed(dk[:])
	h.Write([]byte("\x00\x00\x00\x00\x00\x00\x00\x02/r"))
	h.Write(mac[:])
	h.Write([]byte("\x00\x00\x00\x00\x00\x00\x00\x01"))
	if want := h.Sum(nil); hex.EncodeToString(one[:]) != hex.EncodeToString(want) {
		t.Fatalf("seal %x, want %x", one, want)
	}
}
