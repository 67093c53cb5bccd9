package session_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func Example() {
	ctx := context.Background()
	store := memstore.New() // or sqlitestore.Open for a durable store

	// The host's users: passwords are argon2id PHC strings.
	hasher := session.Hasher{} // OWASP defaults: m=19 MiB, t=2, p=1
	phc, _ := hasher.Hash("s3cret-passphrase")
	store.UpsertUser(ctx, session.User{
		Principal: security.Principal{UserID: 42, Name: "Jane Smith", Email: "jane@example.com",
			AccountType: security.AccountStaff, Permissions: []security.Permission{security.PermSessionsList}},
		PasswordHash: phc,
	})

	mgr, _ := session.New(session.Config{Store: store, Users: store})
	res, err := mgr.Login(ctx, session.LoginRequest{
		Email: "jane@example.com", Password: "s3cret-passphrase",
		Kind: session.KindMobile, IP: netip.MustParseAddr("203.0.113.10"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// res.Token goes to the client; only its hash is stored.
	auth, _ := mgr.Authenticate(ctx, res.Token)
	fmt.Println(auth.Principal.Name, auth.Session.Kind)

	sessions, count, _ := mgr.List(ctx, auth, session.ListOptions{})
	fmt.Println(count, sessions[0].IsCurrent)

	_, err = mgr.Login(ctx, session.LoginRequest{Email: "jane@example.com", Password: "guess",
		Kind: session.KindWeb, IP: netip.MustParseAddr("203.0.113.10")})
	fmt.Println(err)
	// Output:
	// Jane Smith mobile
	// 1 true
	// invalid email or password
}

func ExampleManager_ChangePassword() {
	ctx := context.Background()
	store := memstore.New() // sqlitestore and pgstore can change passwords too
	hasher := session.Hasher{}
	phc, _ := hasher.Hash("old passphrase")
	store.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 7, Name: "Joe",
		Email: "joe@example.com", AccountType: security.AccountCustomer}, PasswordHash: phc})
	mgr, _ := session.New(session.Config{Store: store, Users: store})
	login := func(pw string) (session.LoginResult, error) {
		return mgr.Login(ctx, session.LoginRequest{Email: "joe@example.com", Password: pw,
			Kind: session.KindWeb, IP: netip.MustParseAddr("203.0.113.10")})
	}
	laptop, _ := login("old passphrase")
	phone, _ := login("old passphrase")
	auth, _ := mgr.Authenticate(ctx, laptop.Token)

	// From the laptop: the phone's session is revoked, the laptop's stays.
	revoked, err := mgr.ChangePassword(ctx, auth, session.PasswordChangeRequest{
		CurrentPassword: "old passphrase", NewPassword: "a new passphrase",
		IP: netip.MustParseAddr("203.0.113.10")})
	fmt.Println(revoked, err)
	_, err = mgr.Authenticate(ctx, phone.Token)
	fmt.Println(err)
	_, err = login("old passphrase")
	fmt.Println(err)
	_, err = mgr.ChangePassword(ctx, auth, session.PasswordChangeRequest{
		CurrentPassword: "a new passphrase", NewPassword: "short"})
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// not authenticated
	// invalid email or password
	// new_password: must be at least 8 characters
}

// stepClock is a clock a test moves by hand.
type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// A user enrols TOTP; from then on a login waits for a code of their app.
func ExampleManager_VerifyLogin() {
	ctx := context.Background()
	store := memstore.New()
	phc, _ := session.Hasher{}.Hash("s3cret-passphrase")
	store.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 42, Name: "Jane Smith",
		Email: "jane@example.com", AccountType: security.AccountCustomer}, PasswordHash: phc})
	clock := &stepClock{time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	factorKey := make([]byte, session.FactorKeySize) // in production: 32 random bytes from a secret file
	mgr, _ := session.New(session.Config{Store: store, Users: store, Clock: clock, FactorKey: factorKey})
	ip := netip.MustParseAddr("203.0.113.10")
	login := session.LoginRequest{Email: "jane@example.com", Password: "s3cret-passphrase", Kind: session.KindWeb,
		IP: ip, UserAgent: "Firefox"}

	res, _ := mgr.Login(ctx, login)
	auth, _ := mgr.Authenticate(ctx, res.Token)
	enrolment, _ := mgr.EnrollTOTP(ctx, auth, ip) // show enrolment.URI as a QR code
	code, _ := session.TOTPCode(enrolment.Secret, clock.Now())
	recovery, _ := mgr.ConfirmTOTP(ctx, auth, code, ip)
	fmt.Println(len(recovery), "recovery codes")

	clock.t = clock.t.Add(time.Minute)
	res, _ = mgr.Login(ctx, login)
	fmt.Println(res.Token == "", res.Verification.Methods)
	code, _ = session.TOTPCode(enrolment.Secret, clock.Now())
	res, err := mgr.VerifyLogin(ctx, session.VerifyRequest{ID: res.Verification.ID, Code: code, IP: ip,
		UserAgent: "Firefox"})
	fmt.Println(err, res.Session.Kind, res.Principal.Name)
	// Output:
	// 10 recovery codes
	// true [totp recovery_code]
	// <nil> web Jane Smith
}
