package fsmeta

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"
)

// Extended attributes are recorded sorted, a long value as its
// digest and those past MaxXAttrs by name only.
func TestReaderXAttrs(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "f")
	must(t, os.WriteFile(p, nil, 0o600))
	long := bytes.Repeat([]byte("v"), 9)
	for _, a := range []struct {
		name  string
		value []byte
	}{{"user.b", []byte("2")}, {"user.a", []byte("1")}, {"user.c", long}, {"user.d", []byte("4")}} {
		if err := unix.Setxattr(p, a.name, a.value, 0); err != nil {
			t.Skipf("user xattrs not supported here: %v", err)
		}
	}
	r := NewReader(Options{MaxHash: 1 << 20, MaxKeep: -1, MaxXAttrs: 3, MaxXAttrValue: 8})
	var in Info
	ok := r.InspectPath(root, "f", &in)
	sum := blake3.Sum256(long)
	want := []XAttr{{"user.a", "1", false}, {"user.b", "2", false}, {"user.c", string(sum[:]), true}, {"user.d", "", true}}
	if !ok || !in.Meta || len(in.XAttrs) != len(want) {
		t.Fatalf("%+v", in)
	}
	for i := range want {
		if in.XAttrs[i] != want[i] {
			t.Errorf("xattr %d = %+v, want %+v", i, in.XAttrs[i], want[i])
		}
	}
}
