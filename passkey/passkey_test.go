package passkey_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/internal/webauthntest"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

const origin = "https://login.example.com"

var (
	alice  = session.Auth{Session: session.Session{ID: "sess_aaaaaaaaaaaaaaaaaaaa", UserID: 1}, Principal: security.Principal{UserID: 1, Name: "Alice", Email: "alice@example.com"}}
	bob    = session.Auth{Session: session.Session{ID: "sess_bbbbbbbbbbbbbbbbbbbb", UserID: 2}, Principal: security.Principal{UserID: 2, Name: "Bob", Email: "bob@example.com"}}
	client = passkey.Client{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: "Mozilla/5.0 (test)"}
	t0     = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
)

type fixture struct {
	svc   *passkey.Service
	store *memstore.Store
	clock *fakeclock.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := memstore.New()
	clk := fakeclock.New(t0)
	svc, err := passkey.New(passkey.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{origin},
		Store: st, Clock: clk})
	require.NoError(t, err)
	return &fixture{svc: svc, store: st, clock: clk}
}

// register registers a passkey of a on auth and returns it.
func (f *fixture) register(t testing.TB, a session.Auth, auth *webauthntest.Authenticator) passkey.Credential {
	t.Helper()
	opts, err := f.svc.BeginRegistration(context.Background(), a.Principal, a.Session.ID, client)
	require.NoError(t, err)
	resp, err := auth.Create(opts.PublicKey)
	require.NoError(t, err)
	c, err := f.svc.FinishRegistration(context.Background(), passkey.Registration{CeremonyID: opts.CeremonyID, Actor: a,
		Client: client, Name: "laptop", Response: resp})
	require.NoError(t, err)
	return c
}

func (f *fixture) events(t *testing.T, typ security.EventType) []security.Event {
	evs, err := f.store.Events(context.Background())
	require.NoError(t, err)
	var out []security.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestRegisterAndAssert(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	auth := webauthntest.New(origin)
	has, err := f.svc.HasPasskey(ctx, 1)
	require.NoError(t, err)
	assert.False(t, has)

	c := f.register(t, alice, auth)
	assert.Equal(t, "laptop", c.Name)
	assert.Equal(t, int64(1), c.UserID)
	assert.Equal(t, []string{"internal"}, c.Transports)
	assert.Equal(t, "none", c.AttestationFormat)
	assert.Len(t, c.AAGUID, 16)
	assert.True(t, c.UserVerified)
	assert.NotEmpty(t, c.PublicKey)
	assert.NotEmpty(t, c.Attestation)
	assert.True(t, c.CreatedAt.Equal(t0))
	has, err = f.svc.HasPasskey(ctx, 1)
	require.NoError(t, err)
	assert.True(t, has)
	list, err := f.svc.List(ctx, 1)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, c.ID, list[0].ID)
	require.Len(t, f.events(t, passkey.EventRegistered), 1)

	f.clock.Advance(time.Minute)
	opts, err := f.svc.BeginAssertion(ctx, 1, "ver_1", client)
	require.NoError(t, err)
	assert.Contains(t, string(opts.PublicKey), `"allowCredentials"`)
	resp, err := auth.Get(opts.PublicKey)
	require.NoError(t, err)
	used, err := f.svc.FinishAssertion(ctx, passkey.Assertion{CeremonyID: opts.CeremonyID, Binding: "ver_1", Client: client, Response: resp})
	require.NoError(t, err)
	assert.Equal(t, uint32(1), used.SignCount)
	assert.True(t, used.LastUsedAt.Equal(t0.Add(time.Minute)))
	assert.Len(t, f.events(t, passkey.EventUsed), 1)
}

// begin starts an assertion of alice bound to ver_1.
func begin(t *testing.T, f *fixture) passkey.Options {
	opts, err := f.svc.BeginAssertion(context.Background(), 1, "ver_1", client)
	require.NoError(t, err)
	return opts
}

// prepared begins an assertion of alice bound to ver_1 and has auth answer
// it.
func prepared(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
	opts := begin(t, f)
	resp, err := auth.Get(opts.PublicKey)
	require.NoError(t, err)
	return passkey.Assertion{CeremonyID: opts.CeremonyID, Binding: "ver_1", Client: client, Response: resp}
}

func TestAssertionRefusals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		reason string
		// run returns the finish to try, after any set-up.
		run func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion
	}{
		{"wrong origin", "origin", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			auth.Origin = "https://evil.example.net"
			return prepared(t, f, auth)
		}},
		{"replayed", "unknown or used ceremony", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			a := prepared(t, f, auth)
			_, err := f.svc.FinishAssertion(ctx, a)
			require.NoError(t, err)
			return a
		}},
		{"replayed on a new ceremony", "challenge", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			a := prepared(t, f, auth)
			_, err := f.svc.FinishAssertion(ctx, a)
			require.NoError(t, err)
			a.CeremonyID = begin(t, f).CeremonyID
			return a
		}},
		{"expired", "ceremony expired", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			a := prepared(t, f, auth)
			f.clock.Advance(passkey.DefaultCeremonyTimeout)
			return a
		}},
		{"other verification", "another verification", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			a := prepared(t, f, auth)
			a.Binding = "ver_2"
			return a
		}},
		{"other IP", "another IP", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			a := prepared(t, f, auth)
			a.Client.IP = netip.MustParseAddr("198.51.100.1")
			return a
		}},
		{"other user agent", "another IP or user agent", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			a := prepared(t, f, auth)
			a.Client.UserAgent = "curl/8"
			return a
		}},
		{"another user's credential", "not verify", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			mallory := webauthntest.New(origin)
			f.register(t, bob, mallory)
			opts := begin(t, f)
			var o struct {
				PublicKey struct {
					Challenge string `json:"challenge"`
				} `json:"publicKey"`
			}
			require.NoError(t, json.Unmarshal(opts.PublicKey, &o))
			resp, err := mallory.Sign(mallory.Keys()[0], o.PublicKey.Challenge)
			require.NoError(t, err)
			return passkey.Assertion{CeremonyID: opts.CeremonyID, Binding: "ver_1", Client: client, Response: resp}
		}},
		{"registration ceremony", "another kind", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			opts, err := f.svc.BeginRegistration(ctx, alice.Principal, "ver_1", client)
			require.NoError(t, err)
			resp, err := auth.Get(begin(t, f).PublicKey)
			require.NoError(t, err)
			return passkey.Assertion{CeremonyID: opts.CeremonyID, Binding: "ver_1", Client: client, Response: resp}
		}},
		{"counter went back", "counter", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Assertion {
			_, err := f.svc.FinishAssertion(ctx, prepared(t, f, auth))
			require.NoError(t, err)
			auth.Keys()[0].Counter = 0 // the next assertion says 1 again: a copy of the key
			return prepared(t, f, auth)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			auth := webauthntest.New(origin)
			f.register(t, alice, auth)
			a := tc.run(t, f, auth)
			before, err := f.svc.List(ctx, 1)
			require.NoError(t, err)
			_, err = f.svc.FinishAssertion(ctx, a)
			require.ErrorIs(t, err, passkey.ErrRefused)
			assert.Contains(t, passkey.RefusalReason(err), tc.reason)
			after, err := f.svc.List(ctx, 1)
			require.NoError(t, err)
			if tc.name == "counter went back" {
				assert.True(t, after[0].CloneWarning, "the clone warning is set")
				assert.Equal(t, before[0].SignCount, after[0].SignCount)
				assert.Len(t, f.events(t, passkey.EventCloneWarning), 1)
				// Flagged: even a fresh, higher counter is refused now.
				auth.Keys()[0].Counter = 100
				_, err = f.svc.FinishAssertion(ctx, prepared(t, f, auth))
				require.ErrorIs(t, err, passkey.ErrCloned)
				return
			}
			assert.Equal(t, before, after, "a refusal changes no passkey")
			refused := f.events(t, passkey.EventRefused)
			require.NotEmpty(t, refused)
			assert.Contains(t, refused[len(refused)-1].Details["reason"], tc.reason)
		})
	}
}

func TestZeroCountersAreAccepted(t *testing.T) {
	// Synced passkeys (iCloud Keychain, Google Password Manager) always
	// report 0: both zero is not a regression.
	f := newFixture(t)
	auth := webauthntest.New(origin)
	f.register(t, alice, auth)
	auth.Keys()[0].ZeroCounter = true
	for range 2 {
		_, err := f.svc.FinishAssertion(context.Background(), prepared(t, f, auth))
		require.NoError(t, err)
	}
}

func TestAssertionBadInput(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	auth := webauthntest.New(origin)
	f.register(t, alice, auth)
	_, err := f.svc.BeginAssertion(ctx, 2, "ver_1", client)
	require.ErrorIs(t, err, passkey.ErrNoPasskey)
	require.ErrorIs(t, err, security.ErrNotFound)

	opts := begin(t, f)
	for name, a := range map[string]passkey.Assertion{
		"malformed ceremony id": {CeremonyID: "ver_1", Binding: "ver_1", Client: client, Response: []byte(`{}`)},
		"not an assertion":      {CeremonyID: opts.CeremonyID, Binding: "ver_1", Client: client, Response: []byte(`{"id":"x"}`)},
		"too large":             {CeremonyID: opts.CeremonyID, Binding: "ver_1", Client: client, Response: make([]byte, passkey.MaxAssertionBytes+1)},
	} {
		_, err := f.svc.FinishAssertion(ctx, a)
		require.ErrorIs(t, err, security.ErrInvalid, name)
	}
}

func TestRegistrationRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	auth := webauthntest.New(origin)

	// Another session of the same user cannot finish it.
	opts, err := f.svc.BeginRegistration(ctx, alice.Principal, alice.Session.ID, client)
	require.NoError(t, err)
	resp, err := auth.Create(opts.PublicKey)
	require.NoError(t, err)
	other := alice
	other.Session.ID = "sess_cccccccccccccccccccc"
	_, err = f.svc.FinishRegistration(ctx, passkey.Registration{CeremonyID: opts.CeremonyID, Actor: other, Client: client, Response: resp})
	require.ErrorIs(t, err, passkey.ErrRefused)
	assert.Contains(t, passkey.RefusalReason(err), "another session")

	// A wrong origin.
	opts, err = f.svc.BeginRegistration(ctx, alice.Principal, alice.Session.ID, client)
	require.NoError(t, err)
	auth.Origin = "https://evil.example.net"
	resp, err = auth.Create(opts.PublicKey)
	require.NoError(t, err)
	_, err = f.svc.FinishRegistration(ctx, passkey.Registration{CeremonyID: opts.CeremonyID, Actor: alice, Client: client, Response: resp})
	require.ErrorIs(t, err, passkey.ErrRefused)
	assert.Contains(t, passkey.RefusalReason(err), "rigin")
	auth.Origin = origin

	// Expired.
	opts, err = f.svc.BeginRegistration(ctx, alice.Principal, alice.Session.ID, client)
	require.NoError(t, err)
	resp, err = auth.Create(opts.PublicKey)
	require.NoError(t, err)
	f.clock.Advance(passkey.DefaultCeremonyTimeout)
	_, err = f.svc.FinishRegistration(ctx, passkey.Registration{CeremonyID: opts.CeremonyID, Actor: alice, Client: client, Response: resp})
	require.ErrorIs(t, err, passkey.ErrRefused)

	// A name too long, and a malformed response.
	opts, err = f.svc.BeginRegistration(ctx, alice.Principal, alice.Session.ID, client)
	require.NoError(t, err)
	_, err = f.svc.FinishRegistration(ctx, passkey.Registration{CeremonyID: opts.CeremonyID, Actor: alice, Client: client,
		Name: strings.Repeat("x", passkey.MaxNameRunes+1), Response: resp})
	require.ErrorIs(t, err, security.ErrInvalid)
	_, err = f.svc.FinishRegistration(ctx, passkey.Registration{CeremonyID: opts.CeremonyID, Actor: alice, Client: client, Response: []byte(`[]`)})
	require.ErrorIs(t, err, security.ErrInvalid)

	list, err := f.svc.List(ctx, 1)
	require.NoError(t, err)
	assert.Empty(t, list, "no refusal stored a passkey")
	assert.GreaterOrEqual(t, len(f.events(t, passkey.EventRefused)), 3)
}

func TestRegistrationLimitAndExclusion(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	svc, err := passkey.New(passkey.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{origin},
		Store: st, MaxPerUser: 2})
	require.NoError(t, err)
	f := &fixture{svc: svc, store: st}
	auth := webauthntest.New(origin)
	f.register(t, alice, auth)
	// The same authenticator is told its passkey exists already.
	opts, err := svc.BeginRegistration(ctx, alice.Principal, alice.Session.ID, client)
	require.NoError(t, err)
	_, err = auth.Create(opts.PublicKey)
	require.ErrorContains(t, err, "excluded")
	f.register(t, alice, webauthntest.New(origin))
	_, err = svc.BeginRegistration(ctx, alice.Principal, alice.Session.ID, client)
	require.ErrorIs(t, err, passkey.ErrTooMany)
}

func TestRemove(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.register(t, alice, webauthntest.New(origin))
	require.ErrorIs(t, f.svc.Remove(ctx, bob, c.ID, client), security.ErrNotFound, "bob cannot remove alice's passkey")
	require.NoError(t, f.svc.Remove(ctx, alice, c.ID, client))
	require.ErrorIs(t, f.svc.Remove(ctx, alice, c.ID, client), security.ErrNotFound)
	has, err := f.svc.HasPasskey(ctx, 1)
	require.NoError(t, err)
	assert.False(t, has)
	assert.Len(t, f.events(t, passkey.EventRemoved), 1)
}

func TestConcurrentFinishOneWins(t *testing.T) {
	f := newFixture(t)
	auth := webauthntest.New(origin)
	f.register(t, alice, auth)
	a := prepared(t, f, auth)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = f.svc.FinishAssertion(context.Background(), a)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, passkey.ErrRefused)
		}
	}
	assert.Equal(t, 1, ok)
}

func TestConfig(t *testing.T) {
	st := memstore.New()
	for _, tc := range []struct {
		cfg  passkey.Config
		want string
	}{
		{passkey.Config{RPDisplayName: "x", RPOrigins: []string{origin}, Store: st}, "RPID is required"},
		{passkey.Config{RPID: "127.0.0.1", RPDisplayName: "x", RPOrigins: []string{"https://127.0.0.1"}, Store: st}, "IP address"},
		{passkey.Config{RPID: "https://example.com", RPDisplayName: "x", RPOrigins: []string{origin}, Store: st}, "without scheme"},
		{passkey.Config{RPID: "example.com", RPOrigins: []string{origin}, Store: st}, "RPDisplayName is required"},
		{passkey.Config{RPID: "example.com", RPDisplayName: "x", Store: st}, "RPOrigins is required"},
		{passkey.Config{RPID: "example.com", RPDisplayName: "x", RPOrigins: []string{"https://example.org"}, Store: st}, "neither RPID"},
		{passkey.Config{RPID: "example.com", RPDisplayName: "x", RPOrigins: []string{"http://example.com"}, Store: st}, "must use https"},
		{passkey.Config{RPID: "example.com", RPDisplayName: "x", RPOrigins: []string{"https://example.com/app"}, Store: st}, "not an origin"},
		{passkey.Config{RPID: "example.com", RPDisplayName: "x", RPOrigins: []string{origin}}, "Store is required"},
		{passkey.Config{RPID: "example.com", RPDisplayName: "x", RPOrigins: []string{origin}, Store: st, UserVerification: "always"}, "UserVerification"},
	} {
		_, err := passkey.New(tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
	_, err := passkey.New(passkey.Config{RPID: "localhost", RPDisplayName: "dev", RPOrigins: []string{"http://localhost:8080"}, Store: st})
	require.NoError(t, err)
}

func TestPurge(t *testing.T) {
	f := newFixture(t)
	f.register(t, alice, webauthntest.New(origin))
	opts := begin(t, f)
	f.clock.Advance(passkey.DefaultCeremonyTimeout + time.Second)
	require.NoError(t, f.svc.Purge(context.Background()))
	_, err := f.store.TakeCeremony(context.Background(), opts.CeremonyID)
	require.True(t, errors.Is(err, security.ErrNotFound))
}
