package bench

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/sqlitestore"
)

// CSRF issue + consume: issuing writes nothing; consuming records the
// token's nonce (on SQLite, one write transaction on the nonce connection,
// synchronous=NORMAL: no fsync).
//
//	go test -run '^$' -bench CSRFIssueConsume -count 6 .
func BenchmarkCSRFIssueConsume(b *testing.B) {
	b.Run("memstore", func(b *testing.B) { benchCSRF(b, memstore.New()) })
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchCSRF(b, st)
	})
}

func benchCSRF(b *testing.B, nonces security.NonceStore) {
	c, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Nonces: nonces})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(ctx, "sess_abcdefghijklmnopqrst", c.Issue("sess_abcdefghijklmnopqrst")); err != nil {
			b.Fatal(err)
		}
	}
}

// The same with 16 goroutines per CPU consuming at once, as a busy host's
// POSTs would: on SQLite every consumption is still its own transaction,
// one at a time.
//
//	go test -run '^$' -bench CSRFConsumeParallel -count 6 .
func BenchmarkCSRFConsumeParallel(b *testing.B) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Nonces: st})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.Check(ctx, "sess_abcdefghijklmnopqrst", c.Issue("sess_abcdefghijklmnopqrst")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
