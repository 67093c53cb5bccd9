package passkey_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/webauthntest"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
)

// login begins a usernameless login and has auth answer it.
func login(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
	t.Helper()
	opts, err := f.svc.BeginLogin(context.Background(), client)
	require.NoError(t, err)
	assert.NotContains(t, string(opts.PublicKey), "allowCredentials", "a usernameless login names no credential")
	assert.Contains(t, string(opts.PublicKey), `"userVerification":"required"`)
	resp, err := auth.Get(opts.PublicKey)
	require.NoError(t, err)
	return passkey.Login{CeremonyID: opts.CeremonyID, Client: client, Response: resp}
}

func TestUsernamelessLogin(t *testing.T) {
	f := newFixture(t)
	auth := webauthntest.New(origin)
	f.register(t, bob, webauthntest.New(origin)) // someone else's passkey, elsewhere
	c := f.register(t, alice, auth)
	used, err := f.svc.FinishLogin(context.Background(), login(t, f, auth))
	require.NoError(t, err)
	assert.Equal(t, int64(1), used.UserID, "the user handle names who logged in")
	assert.Equal(t, c.ID, used.ID)
	assert.Equal(t, uint32(1), used.SignCount)
}

func TestUsernamelessLoginRefusals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, reason string
		run          func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login
	}{
		{"no user verification", "login did not verify", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
			auth.UserVerified = false
			return login(t, f, auth)
		}},
		{"wrong origin", "login did not verify", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
			auth.Origin = "https://evil.example.net"
			return login(t, f, auth)
		}},
		{"replayed", "unknown or used ceremony", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
			l := login(t, f, auth)
			_, err := f.svc.FinishLogin(ctx, l)
			require.NoError(t, err)
			return l
		}},
		{"expired", "ceremony expired", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
			l := login(t, f, auth)
			f.clock.Advance(passkey.DefaultCeremonyTimeout)
			return l
		}},
		{"other IP", "another IP", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
			l := login(t, f, auth)
			l.Client.IP = netip.MustParseAddr("198.51.100.9")
			return l
		}},
		{"an assertion ceremony", "another kind", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
			l := login(t, f, auth)
			l.CeremonyID = begin(t, f).CeremonyID
			return l
		}},
		{"a removed passkey", "login did not verify", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
			require.NoError(t, f.svc.Remove(ctx, alice, auth.Keys()[0].ID, client))
			return login(t, f, auth)
		}},
		{"counter went back", "counter", func(t *testing.T, f *fixture, auth *webauthntest.Authenticator) passkey.Login {
			_, err := f.svc.FinishLogin(ctx, login(t, f, auth))
			require.NoError(t, err)
			auth.Keys()[0].Counter = 0
			return login(t, f, auth)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			auth := webauthntest.New(origin)
			f.register(t, alice, auth)
			l := tc.run(t, f, auth)
			_, err := f.svc.FinishLogin(ctx, l)
			require.ErrorIs(t, err, passkey.ErrRefused)
			assert.Contains(t, passkey.RefusalReason(err), tc.reason)
		})
	}
	f := newFixture(t)
	_, err := f.svc.FinishLogin(ctx, passkey.Login{CeremonyID: "pkc_x", Client: client, Response: []byte(`{}`)})
	require.ErrorIs(t, err, security.ErrInvalid)
	opts, err := f.svc.BeginLogin(ctx, client)
	require.NoError(t, err)
	_, err = f.svc.FinishLogin(ctx, passkey.Login{CeremonyID: opts.CeremonyID, Client: client, Response: []byte(`{"id":1}`)})
	require.ErrorIs(t, err, security.ErrInvalid)
}
