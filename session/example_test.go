package session_test

import (
	"context"
	"fmt"
	"net/netip"

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
