package integrity_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/propops/propsec/integrity"
	"github.com/zeebo/blake3"
)

// rewriteStore is a Store whose stored copies an attacker with write access
// to the database rewrites on their way out.
type rewriteStore struct {
	integrity.Store
	rewrite func(h integrity.Hash, stored []byte) []byte
}

func (s *rewriteStore) Content(ctx context.Context, h integrity.Hash) ([]byte, error) {
	data, err := s.Store.Content(ctx, h)
	if err != nil || s.rewrite == nil {
		return data, err
	}
	return s.rewrite(h, data), nil
}

const (
	secretConf = "DB_HOST=db\nDB_PASSWORD=hunter2-5f1c9a\nDB_POOL=4\n"
	otherConf  = "LOG_LEVEL=info\n"
)

// TestDiffEncryptedCopies proves that the known-good copies a baseline
// keeps are stored encrypted (the store never sees a watched file's
// content), that diffs read them back, and that a copy moved under another
// file's hash, a copy with an altered byte and a plaintext copy left by an
// earlier version are each refused with a "not diffed:" reason naming the
// cause, never diffed.
func TestDiffEncryptedCopies(t *testing.T) {
	rs := &rewriteStore{}
	e := newEnv(t, map[string]string{"app.conf": secretConf, "other.conf": otherConf},
		func(c *integrity.Config) { rs.Store, c.Store = c.Store, rs })
	stored := map[string][]byte{}
	for ent, err := range e.store.Entries(e.ctx, e.root) {
		must(t, err)
		if ent.Type != integrity.TypeFile {
			continue
		}
		if !ent.ContentKept {
			t.Fatalf("%s: content not kept", ent.Path)
		}
		data, err := e.store.Content(e.ctx, ent.Hash)
		must(t, err)
		if bytes.Contains(data, []byte("hunter2")) || bytes.Contains(data, []byte("LOG_LEVEL")) {
			t.Fatalf("%s stored in the clear: %q", ent.Path, data)
		}
		stored[ent.Path] = data
	}
	e.write("app.conf", strings.Replace(secretConf, "hunter2-5f1c9a", "swordfish-77", 1))
	alerts := e.scan()
	if len(alerts) != 1 {
		t.Fatalf("%s", describeAlerts(alerts))
	}
	hash := integrity.Hash(blake3.Sum256([]byte(secretConf)))
	for _, c := range []struct {
		name    string
		rewrite func(h integrity.Hash, stored []byte) []byte
		want    string // Diff.Text, or a line it must contain
	}{
		{"intact", nil, "-DB_PASSWORD=hunter2-5f1c9a\n+DB_PASSWORD=swordfish-77\n"},
		{"copy of another file moved under this hash", func(integrity.Hash, []byte) []byte {
			return stored["other.conf"]
		}, "not diffed: the stored known-good copy failed decryption"},
		{"altered byte", func(_ integrity.Hash, b []byte) []byte {
			b = bytes.Clone(b)
			b[len(b)/2] ^= 0x80
			return b
		}, "not diffed: the stored known-good copy failed decryption"},
		{"plaintext copy of an earlier version", func(h integrity.Hash, b []byte) []byte {
			if h != hash {
				t.Fatalf("asked for %x", h)
			}
			return []byte(secretConf)
		}, "not diffed: the known-good copy was stored unencrypted by an earlier version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs.rewrite = c.rewrite
			d, err := e.mon.Diff(e.ctx, alerts[0].ID)
			must(t, err)
			if !strings.Contains(d.Text, c.want) {
				t.Fatalf("diff %q, want %q", d.Text, c.want)
			}
			if c.rewrite != nil && (d.LinesAdded != 0 || d.LinesRemoved != 0 || d.Binary || strings.Contains(d.Text, "hunter2")) {
				t.Fatalf("%+v", d)
			}
		})
	}
	rs.rewrite = nil

	// Accepting the change stores the new content, encrypted, and diffs of
	// later changes read it.
	must(t, e.mon.AcceptAlert(e.ctx, integrity.Actor{UserID: 1}, alerts[0].ID))
	newHash := integrity.Hash(blake3.Sum256([]byte(strings.Replace(secretConf, "hunter2-5f1c9a", "swordfish-77", 1))))
	data, err := e.store.Content(e.ctx, newHash)
	must(t, err)
	if bytes.Contains(data, []byte("swordfish")) {
		t.Fatalf("accepted content stored in the clear: %q", data)
	}
	e.write("app.conf", "DB_PASSWORD=third\n")
	alerts = e.scan()
	if len(alerts) != 1 {
		t.Fatalf("%s", describeAlerts(alerts))
	}
	d, err := e.mon.Diff(e.ctx, alerts[0].ID)
	must(t, err)
	if !strings.Contains(d.Text, "-DB_PASSWORD=swordfish-77\n") || d.LinesAdded != 1 || d.LinesRemoved != 3 {
		t.Fatalf("%+v", d)
	}
}
