package session_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// pwStore is what the password-change tests need of a store.
type pwStore interface {
	session.Store
	session.UserDirectory
	session.PasswordChanger
	UpsertUser(ctx context.Context, u session.User) error
	Events(ctx context.Context) ([]security.Event, error)
	LoginFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error)
}

// pwStores open the stores the Manager's password change is tested on.
var pwStores = []struct {
	name string
	open func(t *testing.T) pwStore
}{
	{"memstore", func(*testing.T) pwStore { return memstore.New() }},
	{"sqlitestore", func(t *testing.T) pwStore {
		st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "propsec.db"))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

const (
	adaEmail    = "ada@example.com"
	adaPassword = "pw-ada@example.com"
	newPassword = "a new passphrase 7"
)

// pwFixture is a Manager on one store with ada and sam, as newFixture's.
type pwFixture struct {
	t     *testing.T
	ctx   context.Context
	store pwStore
	clock *fakeclock.Clock
	mgr   *session.Manager
}

func newPWFixture(t *testing.T, st pwStore, tweak ...func(*session.Config)) *pwFixture {
	t.Helper()
	f := &pwFixture{t: t, ctx: context.Background(), store: st,
		clock: fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	for _, u := range []session.User{
		{Principal: security.Principal{UserID: adminID, Name: "Ada Admin", Email: adaEmail,
			AccountType: security.AccountStaff, Permissions: security.AllPermissions}},
		{Principal: security.Principal{UserID: staffID, Name: "Sam Staff", Email: "sam@example.com",
			AccountType: security.AccountStaff}},
	} {
		h, err := cheap.Hash("pw-" + u.Email)
		require.NoError(t, err)
		u.PasswordHash = h
		require.NoError(t, st.UpsertUser(f.ctx, u))
	}
	cfg := session.Config{Store: st, Users: st, Clock: f.clock, Hasher: cheap}
	for _, tw := range tweak {
		tw(&cfg)
	}
	var err error
	f.mgr, err = session.New(cfg)
	require.NoError(t, err)
	return f
}

func (f *pwFixture) loginAs(email, password string, kind session.Kind) (session.LoginResult, error) {
	return f.mgr.Login(f.ctx, session.LoginRequest{Email: email, Password: password, Kind: kind, IP: ipA})
}

// session logs in with the right password and authenticates the session.
func (f *pwFixture) session(email string, kind session.Kind) (string, session.Auth) {
	f.t.Helper()
	res, err := f.loginAs(email, "pw-"+email, kind)
	require.NoError(f.t, err)
	a, err := f.mgr.Authenticate(f.ctx, res.Token)
	require.NoError(f.t, err)
	return res.Token, a
}

func (f *pwFixture) live(token string) bool {
	f.t.Helper()
	_, err := f.mgr.Authenticate(f.ctx, token)
	if err != nil && !errors.Is(err, security.ErrUnauthenticated) {
		f.t.Fatal(err)
	}
	return err == nil
}

func (f *pwFixture) events(typ security.EventType) []security.Event {
	f.t.Helper()
	return eventsOfType(f.t, f.store, typ)
}

func (f *pwFixture) hash(id int64) string {
	f.t.Helper()
	u, err := f.store.UserByID(f.ctx, id)
	require.NoError(f.t, err)
	return u.PasswordHash
}

func (f *pwFixture) change(a session.Auth, current, next string) (int, error) {
	return f.mgr.ChangePassword(f.ctx, a, session.PasswordChangeRequest{CurrentPassword: current, NewPassword: next, IP: ipB})
}

// noSecret fails if any stored event holds one of secrets.
func (f *pwFixture) noSecret(secrets ...string) {
	f.t.Helper()
	all, err := f.store.Events(f.ctx)
	require.NoError(f.t, err)
	for _, e := range all {
		texts := []string{e.ActorSessionID, e.Subject, e.IP}
		for k, v := range e.Details {
			texts = append(texts, k, v)
		}
		for _, s := range secrets {
			if s == "" {
				continue
			}
			for _, x := range texts {
				require.NotContains(f.t, x, s, "event %d (%s) holds a secret", e.ID, e.Type)
			}
		}
	}
}

func TestChangePassword(t *testing.T) {
	for _, sk := range pwStores {
		t.Run(sk.name, func(t *testing.T) {
			for _, tc := range []struct {
				name       string
				actorKind  session.Kind
				keepOthers bool
			}{
				{"from a web session, revoking the others", session.KindWeb, false},
				{"from a bearer token, revoking the others", session.KindMobile, false},
				{"keeping the others", session.KindWeb, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f := newPWFixture(t, sk.open(t))
					curTok, actor := f.session(adaEmail, tc.actorKind)
					webTok, _ := f.session(adaEmail, session.KindWeb)
					mobTok, _ := f.session(adaEmail, session.KindMobile)
					samTok, _ := f.session("sam@example.com", session.KindWeb)
					oldHash := f.hash(adminID)
					f.clock.Advance(time.Minute)

					n, err := f.mgr.ChangePassword(f.ctx, actor, session.PasswordChangeRequest{CurrentPassword: adaPassword,
						NewPassword: newPassword, KeepOtherSessions: tc.keepOthers, IP: ipB})
					require.NoError(t, err)
					wantRevoked := 2
					if tc.keepOthers {
						wantRevoked = 0
					}
					require.Equal(t, wantRevoked, n)
					require.True(t, f.live(curTok), "the session making the change stays")
					require.Equal(t, tc.keepOthers, f.live(webTok), "another web session")
					require.Equal(t, tc.keepOthers, f.live(mobTok), "a bearer token")
					require.True(t, f.live(samTok), "another user's session is left alone")

					_, err = f.loginAs(adaEmail, adaPassword, session.KindWeb)
					require.ErrorIs(t, err, security.ErrInvalidCredentials, "the old password no longer logs in")
					_, err = f.loginAs(adaEmail, newPassword, session.KindWeb)
					require.NoError(t, err, "the new one does")
					require.NotEqual(t, oldHash, f.hash(adminID))

					evs := f.events(session.EventPasswordChanged)
					require.Len(t, evs, 1)
					ev := evs[0]
					require.Equal(t, int64(adminID), ev.ActorUserID)
					require.Equal(t, actor.Session.ID, ev.ActorSessionID)
					require.Equal(t, int64(adminID), ev.SubjectUserID)
					require.Equal(t, ipB.String(), ev.IP)
					require.Equal(t, f.clock.Now(), ev.Time.UTC())
					require.Equal(t, map[string]string{"sessions_revoked": fmt.Sprint(wantRevoked),
						"revoke_other_sessions": fmt.Sprint(!tc.keepOthers)}, ev.Details)
					require.Empty(t, f.events(security.EventSessionTerminated),
						"sessions revoked by a password change are not reported as terminated")
					f.noSecret(adaPassword, newPassword, oldHash, f.hash(adminID))
				})
			}
		})
	}
}

func TestChangePasswordRefusals(t *testing.T) {
	breachErr := fmt.Errorf("hibp down: %w", security.ErrUnavailable)
	for _, sk := range pwStores {
		t.Run(sk.name, func(t *testing.T) {
			for _, tc := range []struct {
				name             string
				current, next    string
				breach           func(string) (bool, error)
				want             error
				field            string
				counted          bool   // the attempt counts against the throttle
				reason           string // of the password_change_failed event, if any
				breachCheckError bool
			}{
				{name: "wrong current password", current: "wrong", next: newPassword,
					want: security.ErrInvalidCredentials, counted: true, reason: "bad_current_password"},
				{name: "no current password", next: newPassword, want: security.ErrInvalid, field: "current_password"},
				{name: "current password too long", current: strings.Repeat("x", session.MaxPasswordBytes+1), next: newPassword,
					want: security.ErrInvalid, field: "current_password"},
				{name: "no new password", current: adaPassword, want: security.ErrInvalid, field: "new_password"},
				{name: "too short", current: adaPassword, next: "seven77", want: security.ErrInvalid, field: "new_password"},
				{name: "too short in characters, not bytes", current: adaPassword, next: "ééééééé",
					want: security.ErrInvalid, field: "new_password"},
				{name: "too long", current: adaPassword, next: strings.Repeat("x", session.MaxPasswordBytes+1),
					want: security.ErrInvalid, field: "new_password"},
				{name: "not UTF-8", current: adaPassword, next: "abcdefgh\xff", want: security.ErrInvalid, field: "new_password"},
				{name: "same as the current one", current: adaPassword, next: adaPassword,
					want: security.ErrInvalid, field: "new_password"},
				{name: "breached", current: adaPassword, next: newPassword,
					breach: func(pw string) (bool, error) { return pw == newPassword, nil },
					want:   security.ErrInvalid, field: "new_password", reason: "breached"},
				{name: "breach source down", current: adaPassword, next: newPassword,
					breach: func(string) (bool, error) { return false, breachErr },
					want:   security.ErrUnavailable, breachCheckError: true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					// The check is armed after the logins, which it also sees.
					var armed bool
					var checked []string
					f := newPWFixture(t, sk.open(t), func(c *session.Config) {
						if tc.breach != nil {
							c.BreachCheck = func(_ context.Context, pw string) (bool, error) {
								if !armed {
									return false, nil
								}
								checked = append(checked, pw)
								return tc.breach(pw)
							}
						}
					})
					curTok, actor := f.session(adaEmail, session.KindWeb)
					otherTok, _ := f.session(adaEmail, session.KindMobile)
					armed = true
					oldHash := f.hash(adminID)

					n, err := f.change(actor, tc.current, tc.next)
					require.ErrorIs(t, err, tc.want)
					require.Zero(t, n)
					if tc.field != "" {
						var ie *security.InvalidError
						require.ErrorAs(t, err, &ie)
						require.Equal(t, tc.field, ie.Field)
					}
					require.Equal(t, tc.breachCheckError, errors.Is(err, session.ErrBreachCheckFailed))
					if tc.breach != nil {
						require.Equal(t, []string{tc.next}, checked, "the new password is what is checked")
					}

					require.Equal(t, oldHash, f.hash(adminID), "the hash is unchanged")
					require.True(t, f.live(curTok))
					require.True(t, f.live(otherTok), "no session was revoked")
					require.Empty(t, f.events(session.EventPasswordChanged))
					failed := f.events(session.EventPasswordChangeFailed)
					if tc.reason == "" {
						require.Empty(t, failed)
					} else {
						require.Len(t, failed, 1)
						require.Equal(t, tc.reason, failed[0].Details["reason"])
						require.Equal(t, actor.Session.ID, failed[0].ActorSessionID)
					}
					fails, _, err := f.store.LoginFailures(f.ctx, "email:"+adaEmail, time.Time{})
					require.NoError(t, err)
					want := 0
					if tc.counted {
						want = 1
					}
					require.Equal(t, want, fails, "failures counted for the email")
					f.noSecret(adaPassword, newPassword, tc.current, tc.next)
				})
			}
		})
	}
}

// The length limits count characters, and the longest accepted is
// MaxPasswordBytes bytes.
func TestChangePasswordLengthLimits(t *testing.T) {
	for _, next := range []string{"éééééééé", "12345678", strings.Repeat("é", session.MaxPasswordBytes/2)} {
		t.Run(fmt.Sprintf("%d bytes", len(next)), func(t *testing.T) {
			f := newPWFixture(t, memstore.New())
			_, actor := f.session(adaEmail, session.KindWeb)
			_, err := f.change(actor, adaPassword, next)
			require.NoError(t, err)
			_, err = f.loginAs(adaEmail, next, session.KindWeb)
			require.NoError(t, err)
		})
	}
}

// A wrong current password counts against the login throttle's keys, and
// the login's failures against the change: past the limit even the right
// current password is refused before it is checked, with a Retry-After.
func TestChangePasswordThrottled(t *testing.T) {
	for _, sk := range pwStores {
		t.Run(sk.name, func(t *testing.T) {
			f := newPWFixture(t, sk.open(t))
			tok, actor := f.session(adaEmail, session.KindWeb)
			_, err := f.loginAs(adaEmail, "wrong", session.KindWeb)
			require.ErrorIs(t, err, security.ErrInvalidCredentials)
			for i := range 4 {
				f.clock.Advance(time.Minute)
				_, err := f.change(actor, "wrong", newPassword)
				require.ErrorIs(t, err, security.ErrInvalidCredentials, "change %d", i+1)
			}
			lock := f.events(security.EventLockout)
			require.Len(t, lock, 1, "the fifth failure locks the email")
			require.Equal(t, "email", lock[0].Details["key"])

			_, err = f.change(actor, adaPassword, newPassword)
			var th *security.ThrottledError
			require.ErrorAs(t, err, &th)
			require.Equal(t, 11*time.Minute, th.RetryAfter, "the login failure 4 minutes ago leaves the window in 11")
			failed := f.events(session.EventPasswordChangeFailed)
			require.Equal(t, "throttled", failed[len(failed)-1].Details["reason"])
			_, err = f.loginAs(adaEmail, adaPassword, session.KindWeb)
			require.ErrorIs(t, err, security.ErrThrottled, "logins share the lockout")
			require.True(t, f.live(tok), "a throttled change revokes nothing")

			f.clock.Advance(th.RetryAfter)
			_, err = f.change(actor, adaPassword, newPassword)
			require.NoError(t, err)
		})
	}
}

// A right current password withdraws its reservation and clears the
// email's failures, as a login does.
func TestChangePasswordWithdrawsRightPassword(t *testing.T) {
	f := newPWFixture(t, memstore.New(), func(c *session.Config) { c.MaxFailuresPerEmail = 2 })
	_, actor := f.session(adaEmail, session.KindWeb)
	_, err := f.change(actor, "wrong", newPassword)
	require.ErrorIs(t, err, security.ErrInvalidCredentials)
	_, err = f.change(actor, adaPassword, newPassword)
	require.NoError(t, err)
	for key, want := range map[string]int{"email:" + adaEmail: 0, "ip:" + ipB.String(): 1} {
		n, _, err := f.store.LoginFailures(f.ctx, key, time.Time{})
		require.NoError(t, err)
		require.Equal(t, want, n, "%s: the right password's reservation is withdrawn, the email's failures cleared", key)
	}
	_, err = f.change(actor, "wrong", "another passphrase")
	require.ErrorIs(t, err, security.ErrInvalidCredentials, "one failure, under the limit of 2")
	_, err = f.change(actor, newPassword, "another passphrase")
	require.NoError(t, err)
}

// staleUsers is a store whose directory answers with stale users while
// stale is set: what a request sees when another changed the password
// between its read and its write.
type staleUsers struct {
	*memstore.Store
	mu    sync.Mutex
	stale *session.User
}

func (s *staleUsers) UserByID(ctx context.Context, id int64) (session.User, error) {
	if u := s.staleUser(id); u != nil {
		return *u, nil
	}
	return s.Store.UserByID(ctx, id)
}

func (s *staleUsers) UserByEmail(ctx context.Context, email string) (session.User, error) {
	u, err := s.Store.UserByEmail(ctx, email)
	if st := s.staleUser(u.UserID); err == nil && st != nil {
		return *st, nil
	}
	return u, err
}

// changedUnderneath returns a fixture on a staleUsers store in which ada,
// with a live session (actor), has changed her password to newPassword,
// while the directory still answers with her user from before the change;
// and the hash the change stored.
func changedUnderneath(t *testing.T) (f *pwFixture, st *staleUsers, actor session.Auth, changed string) {
	t.Helper()
	st = &staleUsers{Store: memstore.New()}
	f = newPWFixture(t, st)
	before, err := st.Store.UserByID(f.ctx, adminID)
	require.NoError(t, err)
	_, actor = f.session(adaEmail, session.KindWeb)
	_, err = f.change(actor, adaPassword, newPassword)
	require.NoError(t, err)
	changed = f.hash(adminID)
	st.mu.Lock()
	st.stale = &before
	st.mu.Unlock()
	return f, st, actor, changed
}

func (s *staleUsers) staleUser(id int64) *session.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale != nil && s.stale.UserID == id {
		return s.stale
	}
	return nil
}

// A change verified against a hash that another change replaced since is
// refused with a conflict: the password the other change set stays.
func TestChangePasswordConflict(t *testing.T) {
	f, st, actor, winner := changedUnderneath(t)
	_, err := f.change(actor, adaPassword, "the loser's passphrase")
	require.ErrorIs(t, err, security.ErrConflict)
	got, err := st.Store.UserByID(f.ctx, adminID)
	require.NoError(t, err)
	require.Equal(t, winner, got.PasswordHash, "the first change stands")
	require.Len(t, f.events(session.EventPasswordChanged), 1)
}

// Concurrent changes with the same current password: exactly one wins.
func TestChangePasswordConcurrent(t *testing.T) {
	for _, sk := range pwStores {
		t.Run(sk.name, func(t *testing.T) {
			f := newPWFixture(t, sk.open(t))
			_, actor := f.session(adaEmail, session.KindWeb)
			const n = 8
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					_, errs[i] = f.change(actor, adaPassword, fmt.Sprint("passphrase number ", i))
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					require.Equal(t, -1, winner, "two changes won")
					winner = i
				case errors.Is(err, security.ErrConflict), errors.Is(err, security.ErrInvalidCredentials),
					errors.Is(err, security.ErrThrottled):
					// Verified against the replaced hash, read the new one,
					// or came after five such failures.
				default:
					t.Fatalf("change %d: %v", i, err)
				}
			}
			require.NotEqual(t, -1, winner)
			// Checked against the stored hash, not by a login: the losers'
			// wrong current passwords may have locked the email out.
			ok, _, err := f.mgr.Hasher().Verify(f.hash(adminID), fmt.Sprint("passphrase number ", winner))
			require.NoError(t, err)
			require.True(t, ok, "the winner's password is the one stored")
			require.Len(t, f.events(session.EventPasswordChanged), 1)
		})
	}
}

// The rehash of a login with a stale-parameter hash never overwrites a
// password changed since the login read the hash.
func TestRehashDoesNotUndoPasswordChange(t *testing.T) {
	f, st, _, changed := changedUnderneath(t)
	// A login that read the user before the change, by a manager with
	// stronger parameters (so the old hash is stale and is rehashed).
	m2, err := session.New(session.Config{Store: st, Users: st, Clock: f.clock,
		Hasher: session.Hasher{Memory: 128, Time: 1, Threads: 1}})
	require.NoError(t, err)
	_, err = m2.Login(f.ctx, session.LoginRequest{Email: adaEmail, Password: adaPassword, Kind: session.KindWeb, IP: ipA})
	require.NoError(t, err)
	got, err := st.Store.UserByID(f.ctx, adminID)
	require.NoError(t, err)
	require.Equal(t, changed, got.PasswordHash, "the changed password stands")
}

// separateUsers is a directory that is not the store.
type separateUsers struct{ *memstore.Store }

func TestChangePasswordUnsupported(t *testing.T) {
	st := memstore.New()
	m, err := session.New(session.Config{Store: st, Users: separateUsers{st}, Hasher: cheap})
	require.NoError(t, err)
	_, err = m.ChangePassword(context.Background(), session.Auth{Principal: security.Principal{UserID: 1}},
		session.PasswordChangeRequest{CurrentPassword: "a", NewPassword: "bbbbbbbbbb"})
	require.ErrorIs(t, err, session.ErrPasswordChangeUnsupported)
	require.ErrorIs(t, err, errors.ErrUnsupported)
}

// BenchmarkChangePassword measures a whole password change with the
// production argon2id parameters on memstore: two hashes (the current
// password verified, the new one hashed), so about twice a login's.
//
//	go test ./session -run '^$' -bench 'ChangePassword|LoginRight' -benchtime 20x -count 5
func BenchmarkChangePassword(b *testing.B) {
	ctx := context.Background()
	st := memstore.New()
	pw := [2]string{"first passphrase", "second passphrase"}
	phc, err := session.DefaultHasher.Hash(pw[0])
	require.NoError(b, err)
	require.NoError(b, st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 1, Name: "U",
		Email: "u@example.com"}, PasswordHash: phc}))
	m, err := session.New(session.Config{Store: st, Users: st})
	require.NoError(b, err)
	res, err := m.Login(ctx, session.LoginRequest{Email: "u@example.com", Password: pw[0], Kind: session.KindWeb, IP: ipA})
	require.NoError(b, err)
	actor, err := m.Authenticate(ctx, res.Token)
	require.NoError(b, err)
	i := 0
	for b.Loop() {
		_, err := m.ChangePassword(ctx, actor, session.PasswordChangeRequest{CurrentPassword: pw[i%2],
			NewPassword: pw[(i+1)%2], IP: ipA})
		require.NoError(b, err)
		i++
	}
}

// BenchmarkLoginRight is a login with the right password under the same
// conditions, the yardstick of BenchmarkChangePassword.
func BenchmarkLoginRight(b *testing.B) {
	ctx := context.Background()
	st := memstore.New()
	phc, err := session.DefaultHasher.Hash("first passphrase")
	require.NoError(b, err)
	require.NoError(b, st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 1, Name: "U",
		Email: "u@example.com"}, PasswordHash: phc}))
	m, err := session.New(session.Config{Store: st, Users: st})
	require.NoError(b, err)
	for b.Loop() {
		_, err := m.Login(ctx, session.LoginRequest{Email: "u@example.com", Password: "first passphrase",
			Kind: session.KindWeb, IP: ipA})
		require.NoError(b, err)
	}
}
