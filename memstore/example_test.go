package memstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Blacklisting a user revokes their live sessions in the same step.
func Example() {
	ctx := context.Background()
	st := memstore.New()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"sess_one", "sess_two"} {
		s := session.Session{ID: id, TokenHash: security.HashToken(id), UserID: 55, Kind: session.KindWeb,
			CreatedAt: now, LastActive: now, IdleTimeout: 30 * time.Minute, ExpiresAt: now.Add(12 * time.Hour)}
		if err := st.CreateSession(ctx, s, nil); err != nil {
			log.Fatal(err)
		}
	}

	n, err := st.AddBlacklist(ctx, session.BlacklistEntry{UserID: 55, Reason: "Suspicious login activity detected",
		CreatedAt: now.Add(time.Minute)}, func(revoked []session.Session) []security.Event {
		for _, s := range revoked {
			fmt.Println("revoked", s.ID)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	_, live, err := st.ListSessions(ctx, session.ListQuery{Now: now.Add(time.Minute), UserID: 55, Limit: 10})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "sessions revoked,", live, "live")
	// Output:
	// revoked sess_one
	// revoked sess_two
	// 2 sessions revoked, 0 live
}
