package hostsetup

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// TestLoadUsersSignsOutReplacedUsers: restarting with the same users file
// changes nothing and signs nobody out; a file that replaces a user's
// password or email revokes that user's sessions (and only theirs), with
// an audit event, and the old password stops working.
func TestLoadUsersSignsOutReplacedUsers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, filepath.Join(dir, "p.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	h := session.Hasher{Memory: 1024, Time: 1, Threads: 1}
	mgr, err := session.New(session.Config{Store: st, Users: st, Hasher: h})
	require.NoError(t, err)

	file := filepath.Join(dir, "users.json")
	load := func(body string) string {
		t.Helper()
		require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
		var out bytes.Buffer
		require.NoError(t, LoadUsers(ctx, st, h, file, &out))
		return out.String()
	}
	const (
		ann  = `{"id":1,"name":"Ann","email":"ann@example.com","password":"ann's passphrase","account_type":"staff","permissions":["api.security.sessions.list"]}`
		bob  = `{"id":2,"name":"Bob","email":"bob@example.com","password":"bob's passphrase","account_type":"customer"}`
		ann2 = `{"id":1,"name":"Ann B","email":"ann@example.com","password":"ann's passphrase","account_type":"staff"}`
		ann3 = `{"id":1,"name":"Ann B","email":"ann@example.com","password":"a new passphrase","account_type":"staff"}`
		ann4 = `{"id":1,"name":"Ann B","email":"ann.b@example.com","password":"a new passphrase","account_type":"staff"}`
	)
	require.Empty(t, load("["+ann+","+bob+"]"))
	login := func(email, pw string) (string, error) {
		r, err := mgr.Login(ctx, session.LoginRequest{Email: email, Password: pw, Kind: session.KindMobile,
			IP: netip.MustParseAddr("192.0.2.1")})
		return r.Token, err
	}
	live := func(token string) bool {
		_, err := mgr.Authenticate(ctx, token)
		return err == nil
	}
	annTok, err := login("ann@example.com", "ann's passphrase")
	require.NoError(t, err)
	bobTok, err := login("bob@example.com", "bob's passphrase")
	require.NoError(t, err)
	hash0, err := st.UserByID(ctx, 1)
	require.NoError(t, err)

	// The same file again: no rehash, nobody signed out.
	require.Empty(t, load("["+ann+","+bob+"]"))
	u, err := st.UserByID(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, hash0.PasswordHash, u.PasswordHash)
	require.True(t, live(annTok) && live(bobTok))

	// A new name and fewer permissions: applied, still signed in.
	require.Empty(t, load("["+ann2+","+bob+"]"))
	a, err := mgr.Authenticate(ctx, annTok)
	require.NoError(t, err)
	require.Equal(t, "Ann B", a.Principal.Name)
	require.False(t, a.Principal.Can(security.PermSessionsList))

	// A new password: Ann's sessions end, Bob's do not.
	out := load("[" + ann3 + "," + bob + "]")
	require.Contains(t, out, "user 1: password or email replaced")
	require.Contains(t, out, "1 session(s) revoked")
	require.False(t, live(annTok), "a session opened with a replaced password must end")
	require.True(t, live(bobTok))
	_, err = login("ann@example.com", "ann's passphrase")
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	annTok, err = login("ann@example.com", "a new passphrase")
	require.NoError(t, err)

	// A new email with the same password: signed out too.
	require.Contains(t, load("["+ann4+","+bob+"]"), "1 session(s) revoked")
	require.False(t, live(annTok))
	_, err = login("ann.b@example.com", "a new passphrase")
	require.NoError(t, err)

	var resets []security.Event
	for e, err := range st.ChainedEvents(ctx, 0) {
		require.NoError(t, err)
		if e.Type == session.EventPasswordChanged {
			resets = append(resets, e.Event)
		}
	}
	require.Len(t, resets, 2)
	for _, e := range resets {
		require.Equal(t, "users_file", e.Details["reset_by"])
		require.Equal(t, "1", e.Details["sessions_revoked"])
		require.Equal(t, int64(1), e.SubjectUserID)
		require.Zero(t, e.ActorUserID)
	}
}
