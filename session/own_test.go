package session_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

const cyEmail = "cy@example.com"

// ownFixture is a pwFixture with a customer, Cy, who is not staff.
func ownFixture(t *testing.T, st pwStore, tweak ...func(*session.Config)) *pwFixture {
	t.Helper()
	f := newPWFixture(t, st, tweak...)
	h, err := cheap.Hash("pw-" + cyEmail)
	require.NoError(t, err)
	require.NoError(t, st.UpsertUser(f.ctx, session.User{PasswordHash: h, Principal: security.Principal{
		UserID: customerID, Name: "Cy Customer", Email: cyEmail, AccountType: security.AccountCustomer}}))
	return f
}

func TestListOwn(t *testing.T) {
	for _, sk := range pwStores {
		t.Run(sk.name, func(t *testing.T) {
			f := ownFixture(t, sk.open(t))
			_, cy := f.session(cyEmail, session.KindWeb)
			f.session(cyEmail, session.KindMobile)
			_, gone := f.session(cyEmail, session.KindWeb)
			require.NoError(t, f.mgr.Logout(f.ctx, gone, ipA))
			f.session(cyEmail, session.KindWeb)
			_, ada := f.session(adaEmail, session.KindWeb)

			_, _, err := f.mgr.List(f.ctx, cy, session.ListOptions{UserID: customerID})
			require.ErrorIs(t, err, security.ErrForbidden, "List is for staff with the permission")

			own, total, err := f.mgr.ListOwn(f.ctx, cy, session.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, 3, total, "a logged-out session is not listed")
			require.Len(t, own, 3)
			current := 0
			for _, s := range own {
				require.Equal(t, int64(customerID), s.UserID, "only the caller's own sessions")
				require.Equal(t, "Cy Customer", s.UserName)
				require.NotEqual(t, gone.Session.ID, s.ID)
				if s.IsCurrent {
					current++
					require.Equal(t, cy.Session.ID, s.ID)
				}
			}
			require.Equal(t, 1, current)

			own, total, err = f.mgr.ListOwn(f.ctx, cy, session.ListOptions{UserID: customerID, Page: 2, Limit: 2})
			require.NoError(t, err, "naming one's own id is allowed")
			require.Equal(t, 3, total)
			require.Len(t, own, 1)

			adaOwn, total, err := f.mgr.ListOwn(f.ctx, ada, session.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, 1, total, "staff list only their own sessions here too")
			require.Equal(t, ada.Session.ID, adaOwn[0].ID)

			for _, tc := range []struct {
				name  string
				actor session.Auth
				opts  session.ListOptions
				want  error
			}{
				{"another user's id", cy, session.ListOptions{UserID: adminID}, security.ErrForbidden},
				{"another user's id, even for staff", ada, session.ListOptions{UserID: customerID}, security.ErrForbidden},
				{"no user", session.Auth{}, session.ListOptions{}, security.ErrUnauthenticated},
				{"page below 1", cy, session.ListOptions{Page: -1}, security.ErrInvalid},
				{"limit too large", cy, session.ListOptions{Limit: session.MaxListLimit + 1}, security.ErrInvalid},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, _, err := f.mgr.ListOwn(f.ctx, tc.actor, tc.opts)
					require.ErrorIs(t, err, tc.want)
				})
			}
		})
	}
}

func TestTerminateOthers(t *testing.T) {
	for _, sk := range pwStores {
		t.Run(sk.name, func(t *testing.T) {
			for _, tc := range []struct {
				name      string
				actorKind session.Kind
			}{
				{"from a web session", session.KindWeb},
				{"from a bearer token", session.KindMobile},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f := ownFixture(t, sk.open(t))
					curTok, cy := f.session(cyEmail, tc.actorKind)
					webTok, _ := f.session(cyEmail, session.KindWeb)
					mobTok, _ := f.session(cyEmail, session.KindMobile)
					_, gone := f.session(cyEmail, session.KindWeb)
					require.NoError(t, f.mgr.Logout(f.ctx, gone, ipA))
					adaTok, _ := f.session(adaEmail, session.KindWeb)

					n, err := f.mgr.TerminateOthers(f.ctx, cy, ipB)
					require.NoError(t, err)
					require.Equal(t, 2, n, "the other web session and the bearer token; not the logged-out one")
					require.True(t, f.live(curTok), "the session asking stays")
					require.False(t, f.live(webTok))
					require.False(t, f.live(mobTok))
					require.True(t, f.live(adaTok), "another user's session is left alone")

					evs := f.events(security.EventSessionTerminated)
					require.Len(t, evs, 2)
					kinds := map[string]bool{}
					for _, ev := range evs {
						require.Equal(t, int64(customerID), ev.ActorUserID)
						require.Equal(t, cy.Session.ID, ev.ActorSessionID)
						require.Equal(t, int64(customerID), ev.SubjectUserID)
						require.NotEqual(t, cy.Session.ID, ev.Subject)
						require.Equal(t, ipB.String(), ev.IP)
						require.Equal(t, session.ReasonSignOutOthers, ev.Details["reason"])
						kinds[ev.Details["kind"]] = true
					}
					require.Equal(t, map[string]bool{"web": true, "mobile": true}, kinds)

					n, err = f.mgr.TerminateOthers(f.ctx, cy, ipB)
					require.NoError(t, err)
					require.Zero(t, n, "nothing left to sign out")
					require.Len(t, f.events(security.EventSessionTerminated), 2)
					own, _, err := f.mgr.ListOwn(f.ctx, cy, session.ListOptions{})
					require.NoError(t, err)
					require.Len(t, own, 1)
					require.True(t, own[0].IsCurrent)
				})
			}
		})
	}
}

// smallPages lists at most two sessions a page, as a store would list a
// user with more sessions than [session.MaxListLimit].
type smallPages struct{ pwStore }

func (s smallPages) ListSessions(ctx context.Context, q session.ListQuery) ([]session.Session, int, error) {
	q.Limit = min(q.Limit, 2)
	return s.pwStore.ListSessions(ctx, q)
}

// TerminateOthers revokes past the first page of sessions.
func TestTerminateOthersPastOnePage(t *testing.T) {
	for _, sk := range pwStores {
		t.Run(sk.name, func(t *testing.T) {
			f := ownFixture(t, sk.open(t), func(c *session.Config) { c.Store = smallPages{c.Store.(pwStore)} })
			curTok, cy := f.session(cyEmail, session.KindWeb)
			var others []string
			for range 5 {
				tok, _ := f.session(cyEmail, session.KindWeb)
				others = append(others, tok)
			}
			n, err := f.mgr.TerminateOthers(f.ctx, cy, ipB)
			require.NoError(t, err)
			require.Equal(t, 5, n)
			require.True(t, f.live(curTok))
			for _, tok := range others {
				require.False(t, f.live(tok))
			}
		})
	}
}

func TestTerminateOthersUnauthenticated(t *testing.T) {
	f := ownFixture(t, pwStores[0].open(t))
	_, err := f.mgr.TerminateOthers(f.ctx, session.Auth{}, ipB)
	require.ErrorIs(t, err, security.ErrUnauthenticated)
}
