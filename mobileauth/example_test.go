package mobileauth_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/mobileauth"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

func Example() {
	ctx := context.Background()
	st := memstore.New()
	phc, _ := session.DefaultHasher.Hash("correct horse battery staple")
	st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 55, Name: "Joe",
		Email: "joe@example.com", AccountType: security.AccountCustomer}, PasswordHash: phc})
	mgr, _ := session.New(session.Config{Store: st, Users: st})
	svc := mobileauth.New(mgr)

	ip := netip.MustParseAddr("198.51.100.4")
	tok, _ := svc.Issue(ctx, "joe@example.com", "correct horse battery staple", ip, "PropOps iOS/5.1")
	fmt.Println(len(tok.Token), "hex digits")

	auth, _ := mgr.Authenticate(ctx, tok.Token) // on each API request
	fmt.Println(svc.Revoke(ctx, auth, ip))
	_, err := mgr.Authenticate(ctx, tok.Token)
	fmt.Println(err)
	// Output:
	// 64 hex digits
	// <nil>
	// not authenticated
}
