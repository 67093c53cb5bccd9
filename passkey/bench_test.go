package passkey_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/propops/propsec/internal/webauthntest"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/sqlitestore"
)

// benchFinish measures FinishAssertion: taking the ceremony, parsing the
// response, verifying the ES256 signature, client data and flags, and
// recording the use. Beginning the ceremony and signing (the browser's
// work) are outside the timer.
func benchFinish(b *testing.B, st passkey.Store) {
	ctx := context.Background()
	svc, err := passkey.New(passkey.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{origin},
		Store: st})
	if err != nil {
		b.Fatal(err)
	}
	auth := webauthntest.New(origin)
	opts, err := svc.BeginRegistration(ctx, alice.Principal, alice.Session.ID, client)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := auth.Create(opts.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.FinishRegistration(ctx, passkey.Registration{CeremonyID: opts.CeremonyID, Actor: alice,
		Client: client, Response: resp}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		opts, err := svc.BeginAssertion(ctx, 1, "ver_bench", client)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := auth.Get(opts.PublicKey)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := svc.FinishAssertion(ctx, passkey.Assertion{CeremonyID: opts.CeremonyID, Binding: "ver_bench",
			Client: client, Response: resp}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFinishAssertion(b *testing.B) {
	b.Run("memstore", func(b *testing.B) { benchFinish(b, memstore.New()) })
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchFinish(b, st)
	})
}

// BenchmarkBeginAssertion measures the server's part of starting one: the
// user's passkeys read, a challenge made and the ceremony stored.
func BenchmarkBeginAssertion(b *testing.B) {
	ctx := context.Background()
	st := memstore.New()
	svc, err := passkey.New(passkey.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{origin}, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{svc: svc, store: st}
	f.register(b, alice, webauthntest.New(origin))
	for b.Loop() {
		opts, err := svc.BeginAssertion(ctx, 1, "ver_bench", client)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := st.TakeCeremony(ctx, opts.CeremonyID); err != nil { // keep the store small
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
