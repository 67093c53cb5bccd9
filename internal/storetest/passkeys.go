package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
)

func newCeremony(kind string, userID int64, expires time.Time) passkey.Ceremony {
	return passkey.Ceremony{ID: security.NewID(passkey.CeremonyPrefix), Kind: kind, UserID: userID,
		Binding: "sess_binding", IP: "203.0.113.10", UserAgent: "Mozilla/5.0 (storetest)",
		Data: []byte(`{"challenge":"abc"}`), ExpiresAt: expires}
}

func normCeremony(c passkey.Ceremony) passkey.Ceremony {
	c.ExpiresAt = utc(c.ExpiresAt)
	return c
}

func testPasskeyCeremonies(t *testing.T, open func(*testing.T) Store) {
	t.Run("take once", func(t *testing.T) {
		st := open(t)
		c := newCeremony(passkey.KindAssertion, 42, t0.Add(5*time.Minute))
		require.NoError(t, st.CreateCeremony(t.Context(), c))
		require.ErrorIs(t, st.CreateCeremony(t.Context(), c), security.ErrConflict)
		got, err := st.TakeCeremony(t.Context(), c.ID)
		require.NoError(t, err)
		assert.Equal(t, normCeremony(c), normCeremony(got))
		_, err = st.TakeCeremony(t.Context(), c.ID)
		require.ErrorIs(t, err, security.ErrNotFound, "a ceremony is taken once")
		_, err = st.TakeCeremony(t.Context(), security.NewID(passkey.CeremonyPrefix))
		require.ErrorIs(t, err, security.ErrNotFound)
	})
	t.Run("expired is still returned", func(t *testing.T) {
		st := open(t)
		c := newCeremony(passkey.KindRegistration, 42, t0.Add(-time.Hour))
		require.NoError(t, st.CreateCeremony(t.Context(), c))
		got, err := st.TakeCeremony(t.Context(), c.ID)
		require.NoError(t, err)
		assert.True(t, got.ExpiresAt.Equal(c.ExpiresAt))
	})
	t.Run("concurrent take: exactly one wins", func(t *testing.T) {
		st := open(t)
		c := newCeremony(passkey.KindAssertion, 42, t0.Add(5*time.Minute))
		require.NoError(t, st.CreateCeremony(t.Context(), c))
		results := parallel(20, func(int) (passkey.Ceremony, error) { return st.TakeCeremony(t.Context(), c.ID) })
		won := 0
		for _, r := range results {
			if r.err == nil {
				won++
				assert.Equal(t, c.ID, r.v.ID)
			} else {
				require.ErrorIs(t, r.err, security.ErrNotFound)
			}
		}
		assert.Equal(t, 1, won)
	})
	t.Run("purge", func(t *testing.T) {
		st := open(t)
		old := newCeremony(passkey.KindAssertion, 42, t0.Add(-time.Second))
		live := newCeremony(passkey.KindAssertion, 42, t0)
		require.NoError(t, st.CreateCeremony(t.Context(), old))
		require.NoError(t, st.CreateCeremony(t.Context(), live))
		require.NoError(t, st.PurgeCeremonies(t.Context(), t0))
		_, err := st.TakeCeremony(t.Context(), old.ID)
		require.ErrorIs(t, err, security.ErrNotFound)
		_, err = st.TakeCeremony(t.Context(), live.ID)
		require.NoError(t, err, "a ceremony expiring at the purge time is kept")
	})
}

func newPasskey(userID int64, id string, created time.Time) passkey.Credential {
	return passkey.Credential{ID: []byte(id), UserID: userID, Name: "laptop " + id, PublicKey: []byte("cose key " + id),
		AttestationType: "none", AttestationFormat: "packed", Attestation: []byte(`{"object":"AA"}`),
		Transports: []string{"internal", "hybrid"}, AAGUID: bytes.Repeat([]byte{0xad}, 16), SignCount: 3,
		UserPresent: true, UserVerified: false, BackupEligible: true, BackupState: false, CreatedAt: created}
}

func normPasskey(c passkey.Credential) passkey.Credential {
	c.CreatedAt, c.LastUsedAt = utc(c.CreatedAt), utc(c.LastUsedAt)
	if len(c.Transports) == 0 {
		c.Transports = nil
	}
	if len(c.AAGUID) == 0 {
		c.AAGUID = nil
	}
	if len(c.Attestation) == 0 {
		c.Attestation = nil
	}
	return c
}

func normPasskeys(cs []passkey.Credential) []passkey.Credential {
	out := make([]passkey.Credential, len(cs))
	for i, c := range cs {
		out[i] = normPasskey(c)
	}
	return out
}

func eventsOf(t *testing.T, st Store, typ security.EventType) []security.Event {
	t.Helper()
	evs, err := st.Events(t.Context())
	require.NoError(t, err)
	var out []security.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func testPasskeys(t *testing.T, open func(*testing.T) Store) {
	st := open(t)
	a := newPasskey(42, "cred-a", t0)
	b := newPasskey(42, "cred-b", t0.Add(time.Second))
	b.Transports, b.AAGUID = nil, nil
	c := newPasskey(43, "cred-c", t0)
	for _, p := range []passkey.Credential{a, b, c} {
		require.NoError(t, st.AddCredential(t.Context(), p, []security.Event{event(passkey.EventRegistered, string(p.ID))}))
	}
	got, err := st.Credentials(t.Context(), 42)
	require.NoError(t, err)
	assert.Equal(t, normPasskeys([]passkey.Credential{a, b}), normPasskeys(got), "every field round-trips, oldest first")
	n, err := st.CountCredentials(t.Context(), 42)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	n, err = st.CountCredentials(t.Context(), 44)
	require.NoError(t, err)
	assert.Zero(t, n)
	none, err := st.Credentials(t.Context(), 44)
	require.NoError(t, err)
	assert.Empty(t, none)
	require.Len(t, eventsOf(t, st, passkey.EventRegistered), 3, "events are written with the credential")

	t.Run("duplicate id", func(t *testing.T) {
		dup := newPasskey(44, "cred-a", t0)
		require.ErrorIs(t, st.AddCredential(t.Context(), dup, []security.Event{event(passkey.EventRegistered, "dup")}),
			security.ErrConflict)
		n, err := st.CountCredentials(t.Context(), 44)
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.Len(t, eventsOf(t, st, passkey.EventRegistered), 3, "a refused add writes no event")
	})
	t.Run("remove", func(t *testing.T) {
		require.ErrorIs(t, st.RemoveCredential(t.Context(), 43, a.ID, []security.Event{event(passkey.EventRemoved, "x")}),
			security.ErrNotFound, "another user's passkey")
		require.ErrorIs(t, st.RemoveCredential(t.Context(), 42, []byte("nope"), nil), security.ErrNotFound)
		assert.Empty(t, eventsOf(t, st, passkey.EventRemoved))
		require.NoError(t, st.RemoveCredential(t.Context(), 42, a.ID, []security.Event{event(passkey.EventRemoved, "a")}))
		got, err := st.Credentials(t.Context(), 42)
		require.NoError(t, err)
		assert.Equal(t, normPasskeys([]passkey.Credential{b}), normPasskeys(got))
		assert.Len(t, eventsOf(t, st, passkey.EventRemoved), 1)
		// The id is free again.
		require.NoError(t, st.AddCredential(t.Context(), a, nil))
	})
}

func testPasskeyUse(t *testing.T, open func(*testing.T) Store) {
	use := func(st Store, p passkey.Credential, count uint32, at time.Time) (passkey.Credential, error) {
		return st.UseCredential(t.Context(), passkey.Use{UserID: p.UserID, ID: p.ID, SignCount: count, UserVerified: true,
			BackupState: true, At: at}, []security.Event{event(passkey.EventUsed, fmt.Sprint(count))})
	}
	t.Run("counter grows", func(t *testing.T) {
		st := open(t)
		p := newPasskey(42, "cred", t0)
		require.NoError(t, st.AddCredential(t.Context(), p, nil))
		got, err := use(st, p, 4, t0.Add(time.Minute))
		require.NoError(t, err)
		want := p
		want.SignCount, want.UserVerified, want.BackupState, want.LastUsedAt = 4, true, true, t0.Add(time.Minute)
		assert.Equal(t, normPasskey(want), normPasskey(got))
		stored, err := st.Credentials(t.Context(), 42)
		require.NoError(t, err)
		assert.Equal(t, normPasskeys([]passkey.Credential{want}), normPasskeys(stored))
		// UV never turns off again.
		_, err = st.UseCredential(t.Context(), passkey.Use{UserID: 42, ID: p.ID, SignCount: 5, At: t0.Add(2 * time.Minute)}, nil)
		require.NoError(t, err)
		stored, err = st.Credentials(t.Context(), 42)
		require.NoError(t, err)
		assert.True(t, stored[0].UserVerified)
		assert.False(t, stored[0].BackupState, "BS follows the last assertion")
		assert.Len(t, eventsOf(t, st, passkey.EventUsed), 1)
	})
	t.Run("counter regression", func(t *testing.T) {
		st := open(t)
		p := newPasskey(42, "cred", t0)
		require.NoError(t, st.AddCredential(t.Context(), p, nil))
		for _, count := range []uint32{3, 2, 0} {
			_, err := use(st, p, count, t0.Add(time.Minute))
			require.ErrorIs(t, err, passkey.ErrCloned, "counter %d after 3", count)
		}
		stored, err := st.Credentials(t.Context(), 42)
		require.NoError(t, err)
		want := p
		want.CloneWarning = true
		assert.Equal(t, normPasskeys([]passkey.Credential{want}), normPasskeys(stored), "only the warning changed")
		_, err = use(st, p, 100, t0.Add(time.Minute))
		require.ErrorIs(t, err, passkey.ErrCloned, "a flagged credential stays refused")
		assert.Empty(t, eventsOf(t, st, passkey.EventUsed), "a refused use writes no event")
	})
	t.Run("both zero", func(t *testing.T) {
		st := open(t)
		p := newPasskey(42, "cred", t0)
		p.SignCount = 0
		require.NoError(t, st.AddCredential(t.Context(), p, nil))
		for range 2 {
			_, err := use(st, p, 0, t0.Add(time.Minute))
			require.NoError(t, err)
		}
	})
	t.Run("unknown or another user's", func(t *testing.T) {
		st := open(t)
		p := newPasskey(42, "cred", t0)
		require.NoError(t, st.AddCredential(t.Context(), p, nil))
		other := p
		other.UserID = 43
		_, err := use(st, other, 9, t0)
		require.ErrorIs(t, err, security.ErrNotFound)
		other = p
		other.ID = []byte("nope")
		_, err = use(st, other, 9, t0)
		require.ErrorIs(t, err, security.ErrNotFound)
		assert.Empty(t, eventsOf(t, st, passkey.EventUsed))
	})
	t.Run("concurrent uses of one counter: one wins", func(t *testing.T) {
		st := open(t)
		p := newPasskey(42, "cred", t0)
		require.NoError(t, st.AddCredential(t.Context(), p, nil))
		results := parallel(20, func(int) (passkey.Credential, error) { return use(st, p, 7, t0.Add(time.Minute)) })
		won := 0
		for _, r := range results {
			switch {
			case r.err == nil:
				won++
			case !errors.Is(r.err, passkey.ErrCloned):
				t.Fatalf("unexpected error: %v", r.err)
			}
		}
		assert.Equal(t, 1, won)
		assert.Len(t, eventsOf(t, st, passkey.EventUsed), 1)
	})
}
