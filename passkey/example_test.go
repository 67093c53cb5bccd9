package passkey_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/propops/propsec/internal/webauthntest"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/passkey"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// A passkey is registered in a logged-in session, then asserted to
// complete a pending verification. webauthntest stands in for the
// browser's navigator.credentials.
func Example() {
	ctx := context.Background()
	svc, err := passkey.New(passkey.Config{
		RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"},
		Store: memstore.New(),
	})
	if err != nil {
		panic(err)
	}
	browser := webauthntest.New("https://example.com")
	me := session.Auth{Session: session.Session{ID: "sess_aaaaaaaaaaaaaaaaaaaa"},
		Principal: security.Principal{UserID: 7, Name: "Alice", Email: "alice@example.com"}}
	client := passkey.Client{IP: netip.MustParseAddr("192.0.2.1"), UserAgent: "Mozilla/5.0"}

	reg, _ := svc.BeginRegistration(ctx, me.Principal, me.Session.ID, client)
	created, _ := browser.Create(reg.PublicKey) // navigator.credentials.create
	cred, err := svc.FinishRegistration(ctx, passkey.Registration{CeremonyID: reg.CeremonyID, Actor: me,
		Client: client, Name: "laptop", Response: created})
	fmt.Println(cred.Name, err)

	has, _ := svc.HasPasskey(ctx, 7)
	fmt.Println("has passkey:", has)

	as, _ := svc.BeginAssertion(ctx, 7, "ver_example", client)
	got, _ := browser.Get(as.PublicKey) // navigator.credentials.get
	used, err := svc.FinishAssertion(ctx, passkey.Assertion{CeremonyID: as.CeremonyID, Binding: "ver_example",
		Client: client, Response: got})
	fmt.Println(used.UserID, used.SignCount, err)

	// The same response again: its ceremony is gone.
	_, err = svc.FinishAssertion(ctx, passkey.Assertion{CeremonyID: as.CeremonyID, Binding: "ver_example",
		Client: client, Response: got})
	fmt.Println(err)
	// Output:
	// laptop <nil>
	// has passkey: true
	// 7 1 <nil>
	// passkey: refused: unknown or used ceremony
}
