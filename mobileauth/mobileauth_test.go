package mobileauth_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/mobileauth"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/stretchr/testify/require"
)

var ip = netip.MustParseAddr("203.0.113.10")

func setup(t *testing.T) (*mobileauth.Service, *session.Manager) {
	t.Helper()
	st := memstore.New()
	h := session.Hasher{Memory: 64, Time: 1, Threads: 1}
	phc, err := h.Hash("pw")
	require.NoError(t, err)
	require.NoError(t, st.UpsertUser(context.Background(), session.User{Principal: security.Principal{UserID: 7,
		Name: "M", Email: "m@example.com", AccountType: security.AccountCustomer}, PasswordHash: phc}))
	mgr, err := session.New(session.Config{Store: st, Users: st, Hasher: h})
	require.NoError(t, err)
	return mobileauth.New(mgr), mgr
}

func TestIssueAndRevoke(t *testing.T) {
	ctx := context.Background()
	svc, mgr := setup(t)
	tok, err := svc.Issue(ctx, "m@example.com", "pw", ip, "app/2.0")
	require.NoError(t, err)
	require.True(t, security.ValidTokenFormat(tok.Token))
	a, err := mgr.Authenticate(ctx, tok.Token)
	require.NoError(t, err)
	require.Equal(t, session.KindMobile, a.Session.Kind)
	require.Equal(t, tok.SessionID, a.Session.ID)

	require.NoError(t, svc.Revoke(ctx, a, ip))
	_, err = mgr.Authenticate(ctx, tok.Token)
	require.ErrorIs(t, err, security.ErrUnauthenticated)
	require.ErrorIs(t, svc.Revoke(ctx, a, ip), security.ErrNotFound, "revoking twice")
}

func TestIssueRefusals(t *testing.T) {
	ctx := context.Background()
	svc, _ := setup(t)
	_, err := svc.Issue(ctx, "m@example.com", "wrong", ip, "")
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	_, err = svc.Issue(ctx, "who@example.com", "pw", ip, "")
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	_, err = svc.Issue(ctx, "", "pw", ip, "")
	require.ErrorIs(t, err, security.ErrInvalid)
}

func TestRevokeNeedsBearer(t *testing.T) {
	ctx := context.Background()
	svc, mgr := setup(t)
	res, err := mgr.Login(ctx, session.LoginRequest{Email: "m@example.com", Password: "pw", Kind: session.KindWeb, IP: ip})
	require.NoError(t, err)
	a, err := mgr.Authenticate(ctx, res.Token)
	require.NoError(t, err)
	err = svc.Revoke(ctx, a, ip)
	require.ErrorIs(t, err, mobileauth.ErrNotBearer)
	require.ErrorIs(t, err, security.ErrUnauthenticated)
	_, err = mgr.Authenticate(ctx, res.Token)
	require.NoError(t, err, "the web session was left alone")
}
