package session_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// heldFactor is a FactorMethod every user holds.
type heldFactor struct{}

func (heldFactor) Name() string                                  { return "passkey" }
func (heldFactor) Enrolled(context.Context, int64) (bool, error) { return true, nil }

func TestLoginWithFactor(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	for _, u := range []session.User{
		{Principal: security.Principal{UserID: 1, Name: "Ada", Email: "ada@example.com", AccountType: security.AccountStaff,
			Permissions: security.AllPermissions}},
		{Principal: security.Principal{UserID: 2, Name: "Bob", Email: "bob@example.com", AccountType: security.AccountCustomer}},
	} {
		require.NoError(t, st.UpsertUser(ctx, u))
	}
	mgr, err := session.New(session.Config{Store: st, Users: st, Methods: []session.FactorMethod{heldFactor{}},
		RequireStaffSecondFactor: true})
	require.NoError(t, err)
	req := session.FactorLogin{UserID: 1, Method: "passkey", Kind: session.KindWeb,
		IP: netip.MustParseAddr("192.0.2.1"), UserAgent: "test"}

	res, err := mgr.LoginWithFactor(ctx, req)
	require.NoError(t, err)
	assert.Nil(t, res.Verification, "no second step after a factor that stands alone")
	assert.False(t, res.Restricted, "a staff user with a factor is not restricted")
	a, err := mgr.Authenticate(ctx, res.Token)
	require.NoError(t, err)
	assert.Equal(t, int64(1), a.Principal.UserID)
	assert.NotEmpty(t, a.Principal.Permissions)

	req.IP = netip.MustParseAddr("198.51.100.1")
	req.Kind = session.KindMobile
	res, err = mgr.LoginWithFactor(ctx, req)
	require.NoError(t, err)
	assert.True(t, res.NewIP, "a new address is detected as at a password login")
	assert.Equal(t, session.KindMobile, res.Session.Kind)

	for name, tc := range map[string]struct {
		req  session.FactorLogin
		want error
	}{
		"unknown method": {session.FactorLogin{UserID: 1, Method: "totp", Kind: session.KindWeb}, security.ErrInvalid},
		"bad kind":       {session.FactorLogin{UserID: 1, Method: "passkey", Kind: "desktop"}, security.ErrInvalid},
		"unknown user":   {session.FactorLogin{UserID: 99, Method: "passkey", Kind: session.KindWeb}, security.ErrInvalidCredentials},
	} {
		_, err := mgr.LoginWithFactor(ctx, tc.req)
		require.ErrorIs(t, err, tc.want, name)
	}

	_, err = mgr.Blacklist(ctx, a, 2, "spam", netip.Addr{})
	require.NoError(t, err)
	_, err = mgr.LoginWithFactor(ctx, session.FactorLogin{UserID: 2, Method: "passkey", Kind: session.KindWeb})
	require.ErrorIs(t, err, security.ErrBlacklisted)
	evs, err := st.Events(ctx)
	require.NoError(t, err)
	last := evs[len(evs)-1]
	assert.Equal(t, security.EventLoginFailed, last.Type)
	assert.Equal(t, "blacklisted", last.Details["reason"])
}
