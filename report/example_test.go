package report_test

import (
	"context"
	"fmt"
	"time"

	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

func Example() {
	ctx := context.Background()
	store := memstore.New() // or sqlitestore.Open, pgstore.Open: each implements report.Store

	// The audit events that session, integrity and breach record.
	at := time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC)
	store.RecordEvents(ctx,
		security.Event{Time: at, Type: security.EventLoginSucceeded},
		security.Event{Time: at, Type: security.EventLoginFailed, Details: map[string]string{"reason": "throttled"}},
		security.Event{Time: at.Add(24 * time.Hour), Type: security.EventSessionTerminated},
		security.Event{Time: at.Add(24 * time.Hour), Type: security.EventLogout}, // not counted
	)

	g, _ := report.New(report.Config{Store: store, Clock: fakeclock.New(at)})
	r, err := g.Generate(ctx, "2024-06-03", "2024-06-04") // a date-only to includes its whole day
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Period.From, r.Period.To, r.Logins.Successful, r.Logins.Failed, r.SessionsTerminated)
	for _, d := range r.Daily {
		fmt.Println(d.Date, d.Logins.Successful+d.Logins.Failed, d.SessionsTerminated)
	}

	_, err = g.Generate(ctx, "2024-06-04", "2024-06-03")
	fmt.Println(err)
	// Output:
	// 2024-06-03 2024-06-04 1 1 1
	// 2024-06-03 2 0
	// 2024-06-04 0 1
	// from: must not be after to
}
