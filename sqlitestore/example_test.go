package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// A host keeps its users, sessions and audit log in one SQLite file.
func Example() {
	dir, err := os.MkdirTemp("", "propsec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "security.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	mgr, err := session.New(session.Config{Store: st, Users: st})
	if err != nil {
		log.Fatal(err)
	}
	hash, err := mgr.Hasher().Hash("correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	err = st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 42, Name: "Jane Smith",
		Email: "jane@example.com", AccountType: security.AccountStaff}, PasswordHash: hash})
	if err != nil {
		log.Fatal(err)
	}

	res, err := mgr.Login(ctx, session.LoginRequest{Email: "Jane@Example.com", Password: "correct horse battery staple",
		Kind: session.KindWeb, IP: netip.MustParseAddr("203.0.113.10")})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := mgr.Authenticate(ctx, res.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(auth.Principal.Name, auth.Session.ID == res.Session.ID)

	events, err := st.Events(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.Type, e.Subject == res.Session.ID)
	}
	// Output:
	// Jane Smith true
	// login_succeeded true
}
