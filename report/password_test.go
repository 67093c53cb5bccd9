package report_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// A password change, its refused attempts and the sessions it revokes
// leave every count as it was: they are neither logins nor terminations.
func TestPasswordChangeNotCounted(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := fakeclock.New(day(1).Add(9 * time.Hour))
			hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1}
			phc, err := hasher.Hash("pw-victim")
			if err != nil {
				t.Fatal(err)
			}
			if err := st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: victimID, Name: "Victim",
				Email: "victim@example.com", AccountType: security.AccountCustomer}, PasswordHash: phc}); err != nil {
				t.Fatal(err)
			}
			mgr, err := session.New(session.Config{Store: st, Users: st, Clock: clock, Hasher: hasher})
			if err != nil {
				t.Fatal(err)
			}
			var actor session.Auth
			for range 3 {
				res, err := mgr.Login(ctx, session.LoginRequest{Email: "victim@example.com", Password: "pw-victim",
					Kind: session.KindWeb, IP: ipA})
				if err != nil {
					t.Fatal(err)
				}
				if actor, err = mgr.Authenticate(ctx, res.Token); err != nil {
					t.Fatal(err)
				}
			}
			req := session.PasswordChangeRequest{CurrentPassword: "wrong", NewPassword: "new passphrase", IP: ipA}
			if _, err := mgr.ChangePassword(ctx, actor, req); !errors.Is(err, security.ErrInvalidCredentials) {
				t.Fatalf("wrong current password: %v", err)
			}
			req.CurrentPassword = "pw-victim"
			if n, err := mgr.ChangePassword(ctx, actor, req); err != nil || n != 2 {
				t.Fatalf("change: %d revoked, %v; want 2", n, err)
			}
			g, err := report.New(report.Config{Store: st, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			r, err := g.Generate(ctx, "2024-06-01", "2024-06-01")
			if err != nil {
				t.Fatal(err)
			}
			if want := (report.Counts{Logins: report.Logins{Successful: 3}}); r.Counts != want {
				t.Errorf("counts = %+v\nwant     %+v", r.Counts, want)
			}
		})
	}
}
