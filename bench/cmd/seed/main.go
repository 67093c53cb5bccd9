// Command seed fills a propsec database with one staff user and -n live
// sessions, as logins would have, and prints the bearer token of the last
// one. -db is a SQLite file, or a postgres:// URL (pgstore), as for the
// example server. bench/http.sh and bench/postgres.sh use it to measure the
// example server with many sessions present.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/propops/propsec/pgstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// store is what seeding needs; sqlitestore and pgstore both provide it.
type store interface {
	UpsertUser(ctx context.Context, u session.User) error
	CreateSession(ctx context.Context, s session.Session, events []security.Event) error
	Close() error
}

func open(ctx context.Context, db string) (store, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return pgstore.Open(ctx, db)
	}
	return sqlitestore.Open(ctx, db)
}

func main() {
	db := flag.String("db", "propsec.db", "SQLite file, or a postgres:// URL")
	n := flag.Int("n", 10000, "live sessions to create")
	flag.Parse()
	ctx := context.Background()
	st, err := open(ctx, *db)
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
