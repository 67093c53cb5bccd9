// Command seed fills a propsec SQLite database with one staff user and -n
// live sessions, as logins would have, and prints the bearer token of the
// last one. bench/http.sh uses it to measure the example server with many
// sessions present.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

func main() {
	dbPath := flag.String("db", "propsec.db", "SQLite file")
	n := flag.Int("n", 10000, "live sessions to create")
	flag.Parse()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, *dbPath)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	phc, err := session.DefaultHasher.Hash(security.NewToken())
	if err != nil {
		log.Fatal(err)
	}
	err = st.UpsertUser(ctx, session.User{Principal: security.Principal{UserID: 1, Name: "Bench Admin",
		Email: "bench@localhost", AccountType: security.AccountStaff, Permissions: security.AllPermissions},
		PasswordHash: phc})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	var token string
	for i := range *n {
		token = security.NewToken()
		s := session.Session{ID: security.NewID(session.IDPrefix), TokenHash: security.HashToken(token),
			UserID: 1, Kind: session.KindMobile, IP: fmt.Sprintf("198.51.100.%d", i%250+1), UserAgent: "bench",
			CreatedAt: now, LastActive: now, IdleTimeout: 30 * 24 * time.Hour, ExpiresAt: now.Add(90 * 24 * time.Hour)}
		if err := st.CreateSession(ctx, s, nil); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(token)
}
