package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

var (
	alice = session.User{Principal: security.Principal{UserID: 1, Name: "Alice", Email: "Alice@Example.com",
		AccountType: security.AccountStaff,
		Permissions: []security.Permission{security.PermSessionsList, security.PermSessionsManage}},
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$YWxpY2U$aGFzaA"}
	bob = session.User{Principal: security.Principal{UserID: 2, Name: "Bob", Email: "bob@example.com",
		AccountType: security.AccountCustomer}}
)

func withUsers(t *testing.T, open func(*testing.T) Store) Store {
	t.Helper()
	st := open(t)
	require.NoError(t, st.UpsertUser(t.Context(), alice))
	require.NoError(t, st.UpsertUser(t.Context(), bob))
	return st
}

func assertUserCount(t *testing.T, st Store, want int) {
	t.Helper()
	n, err := st.CountUsers(t.Context())
	require.NoError(t, err)
	assert.Equal(t, want, n)
}

func testUsers(t *testing.T, open func(*testing.T) Store) {
	t.Run("lookup", func(t *testing.T) {
		st := withUsers(t, open)
		assertUserCount(t, st, 2)
		for _, tc := range []struct {
			name   string
			lookup func() (session.User, error)
			want   session.User // zero: not found
		}{
			{"by id", func() (session.User, error) { return st.UserByID(t.Context(), 1) }, alice},
			{"by email as stored", func() (session.User, error) { return st.UserByEmail(t.Context(), "Alice@Example.com") }, alice},
			{"by email lower case", func() (session.User, error) { return st.UserByEmail(t.Context(), "alice@example.com") }, alice},
			{"by email upper case, spaced", func() (session.User, error) { return st.UserByEmail(t.Context(), "  ALICE@EXAMPLE.COM ") }, alice},
			{"other user by email", func() (session.User, error) { return st.UserByEmail(t.Context(), "Bob@EXAMPLE.com") }, bob},
			{"unknown id", func() (session.User, error) { return st.UserByID(t.Context(), 3) }, session.User{}},
			{"unknown email", func() (session.User, error) { return st.UserByEmail(t.Context(), "carol@example.com") }, session.User{}},
			{"email prefix", func() (session.User, error) { return st.UserByEmail(t.Context(), "alice@example.co") }, session.User{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := tc.lookup()
				if tc.want.UserID == 0 {
					assert.ErrorIs(t, err, security.ErrNotFound)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, normUser(tc.want), normUser(got))
			})
		}
	})

	t.Run("replace", func(t *testing.T) {
		st := withUsers(t, open)
		changed := session.User{Principal: security.Principal{UserID: 1, Name: "Alice N", Email: "alice.new@example.com",
			AccountType: security.AccountCustomer, Permissions: []security.Permission{security.PermSecurityReportManage}},
			PasswordHash: "new"}
		require.NoError(t, st.UpsertUser(t.Context(), changed))
		assertUserCount(t, st, 2)
		got, err := st.UserByID(t.Context(), 1)
		require.NoError(t, err)
		assert.Equal(t, normUser(changed), normUser(got))
		got, err = st.UserByEmail(t.Context(), "ALICE.NEW@example.com")
		require.NoError(t, err)
		assert.Equal(t, int64(1), got.UserID)
		_, err = st.UserByEmail(t.Context(), alice.Email)
		assert.ErrorIs(t, err, security.ErrNotFound, "the old email must no longer find the user")

		// The old email is free for someone else now.
		carol := session.User{Principal: security.Principal{UserID: 3, Name: "Carol", Email: "alice@example.com"}}
		require.NoError(t, st.UpsertUser(t.Context(), carol))
		got, err = st.UserByEmail(t.Context(), alice.Email)
		require.NoError(t, err)
		assert.Equal(t, int64(3), got.UserID)
		assertUserCount(t, st, 3)
	})

	t.Run("insert", func(t *testing.T) {
		st := withUsers(t, open)
		u := alice
		u.Name = "Not Alice"
		added, err := st.InsertUser(t.Context(), u)
		require.NoError(t, err)
		assert.False(t, added, "an existing id is left as it is")
		got, err := st.UserByID(t.Context(), alice.UserID)
		require.NoError(t, err)
		assert.Equal(t, alice.Name, got.Name)

		_, err = st.InsertUser(t.Context(), session.User{Principal: security.Principal{UserID: 9, Email: "BOB@example.com"}})
		assert.ErrorIs(t, err, security.ErrConflict, "an email held by another user")
		_, err = st.InsertUser(t.Context(), session.User{Principal: security.Principal{UserID: alice.UserID, Email: bob.Email}})
		assert.ErrorIs(t, err, security.ErrConflict, "an existing id with another user's email")
		_, err = st.InsertUser(t.Context(), session.User{Principal: security.Principal{UserID: 0, Email: "x@example.com"}})
		assert.ErrorIs(t, err, security.ErrInvalid)
		assertUserCount(t, st, 2)

		// Of concurrent inserts of one new user, exactly one adds it and
		// none fails (they collide on the id and on the email at once).
		const rounds, n = 10, 8
		for r := range rounds {
			var wg sync.WaitGroup
			var added1 atomic.Int64
			id := int64(10 + r)
			for i := range n {
				wg.Go(func() {
					u := session.User{Principal: security.Principal{UserID: id, Name: fmt.Sprint("racer ", i),
						Email: fmt.Sprintf("racer%d@example.com", r)}}
					ok, err := st.InsertUser(t.Context(), u)
					assert.NoError(t, err)
					if ok {
						added1.Add(1)
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int64(1), added1.Load(), "round %d", r)
		}
		assertUserCount(t, st, 2+rounds)
	})

	t.Run("concurrent upserts of one new user", func(t *testing.T) {
		// As when several instances start at once with the same users
		// file: none fails.
		st := withUsers(t, open)
		const rounds, n = 10, 8
		for r := range rounds {
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					u := session.User{Principal: security.Principal{UserID: int64(10 + r), Name: fmt.Sprint("racer ", i),
						Email: fmt.Sprintf("racer%d@example.com", r)}}
					assert.NoError(t, st.UpsertUser(t.Context(), u), "round %d", r)
				})
			}
			wg.Wait()
		}
		assertUserCount(t, st, 2+rounds)
	})

	t.Run("same email, other case, same user", func(t *testing.T) {
		st := withUsers(t, open)
		u := alice
		u.Email = "ALICE@example.COM"
		require.NoError(t, st.UpsertUser(t.Context(), u))
		got, err := st.UserByEmail(t.Context(), "alice@example.com")
		require.NoError(t, err)
		assert.Equal(t, u.Email, got.Email, "the email is kept as given")
		assertUserCount(t, st, 2)
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			u    session.User
			want error
		}{
			{"new user takes an email", session.User{Principal: security.Principal{UserID: 3, Email: "BOB@example.com"}}, security.ErrConflict},
			{"user changes to a taken email", session.User{Principal: security.Principal{UserID: 1, Email: " bob@example.com"}}, security.ErrConflict},
			{"zero id", session.User{Principal: security.Principal{UserID: 0, Email: "z@example.com"}}, security.ErrInvalid},
			{"negative id", session.User{Principal: security.Principal{UserID: -1, Email: "z@example.com"}}, security.ErrInvalid},
			{"empty email", session.User{Principal: security.Principal{UserID: 4, Email: "   "}}, security.ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := withUsers(t, open)
				assert.ErrorIs(t, st.UpsertUser(t.Context(), tc.u), tc.want)
				assertUserCount(t, st, 2)
				for _, want := range []session.User{alice, bob} {
					got, err := st.UserByEmail(t.Context(), want.Email)
					require.NoError(t, err)
					assert.Equal(t, normUser(want), normUser(got), "nothing may change")
				}
			})
		}
	})

	t.Run("SetPasswordHash", func(t *testing.T) {
		st := withUsers(t, open)
		require.NoError(t, st.SetPasswordHash(t.Context(), 2, "$argon2id$new"))
		got, err := st.UserByID(t.Context(), 2)
		require.NoError(t, err)
		want := bob
		want.PasswordHash = "$argon2id$new"
		assert.Equal(t, normUser(want), normUser(got))
		got, err = st.UserByID(t.Context(), 1)
		require.NoError(t, err)
		assert.Equal(t, alice.PasswordHash, got.PasswordHash, "other users keep their hash")

		assert.ErrorIs(t, st.SetPasswordHash(t.Context(), 99, "x"), security.ErrNotFound)
		assertUserCount(t, st, 2)
	})

	t.Run("no aliasing", func(t *testing.T) {
		st := open(t)
		u := alice
		u.Permissions = []security.Permission{security.PermSessionsList}
		require.NoError(t, st.UpsertUser(t.Context(), u))
		u.Permissions[0] = security.PermSessionsManage // the caller's slice
		got, err := st.UserByID(t.Context(), 1)
		require.NoError(t, err)
		require.Equal(t, []security.Permission{security.PermSessionsList}, got.Permissions)
		got.Permissions[0] = security.PermSessionsManage // the returned slice
		got, err = st.UserByID(t.Context(), 1)
		require.NoError(t, err)
		assert.Equal(t, []security.Permission{security.PermSessionsList}, got.Permissions)
	})
}
