package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// reportMix is the share (per mille) of each event type in the generated
// log: mostly logins and their side events, some refusals and integrity
// scans, few terminations, blacklistings, alerts and breaches.
var reportMix = []struct {
	typ      security.EventType
	perMille int
}{
	{security.EventLoginSucceeded, 380},
	{security.EventTokenIssued, 80},
	{security.EventLogout, 150},
	{security.EventLoginFailed, 120},
	{"authorization_refused", 80},
	{"csrf_failed", 20},
	{security.EventNewIPVerification, 40},
	{security.EventSessionTerminated, 30},
	{"integrity_scan_completed", 60},
	{"integrity_alert_raised", 10},
	{security.EventPasswordBreachDetected, 10},
	{security.EventLockout, 10},
	{security.EventBlacklistAdded, 5},
	{security.EventBlacklistRemoved, 5},
}

// reportSpan is the time the generated events cover, evenly.
const reportSpan = 365 * 24 * time.Hour

var reportStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// generateEvents fills store with n events over reportSpan, oldest first,
// in transactions of batch events (RecordEvents writes one call in one
// transaction).
func generateEvents(tb testing.TB, store *sqlitestore.Store, n, batch int) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var cum []int
	total := 0
	for _, m := range reportMix {
		total += m.perMille
		cum = append(cum, total)
	}
	step := reportSpan / time.Duration(n)
	evs := make([]security.Event, 0, batch)
	start := time.Now()
	for i := range n {
		k := sort.SearchInts(cum, rng.IntN(total)+1)
		user := rng.Int64N(5000) + 1
		evs = append(evs, security.Event{Time: reportStart.Add(time.Duration(i) * step), Type: reportMix[k].typ,
			ActorUserID: user, ActorSessionID: "sess_" + strconv.FormatInt(rng.Int64(), 36), SubjectUserID: user,
			Subject: "sess_" + strconv.FormatInt(rng.Int64(), 36), IP: fmt.Sprintf("203.0.%d.%d", rng.IntN(256), rng.IntN(256)),
			Details: map[string]string{"kind": "web"}})
		if len(evs) == batch || i == n-1 {
			if err := store.RecordEvents(ctx, evs...); err != nil {
				tb.Fatal(err)
			}
			evs = evs[:0]
		}
		if (i+1)%1_000_000 == 0 {
			tb.Logf("generated %d events in %v", i+1, time.Since(start).Round(time.Second))
		}
	}
}

// naiveCounts is the report a quick implementation makes: select the
// period's events and count them in Go. withIndex selects only the counted
// types (so SQLite can use the (type, time) index and read the rows it
// points to); without, it selects every event of the period (a scan).
func naiveCounts(ctx context.Context, db *sql.DB, from, to time.Time, withIndex bool) (report.Counts, error) {
	q := `SELECT id, time, type, actor_user_id, actor_session_id, subject_user_id, subject, ip, details
		FROM events WHERE time >= ? AND time < ?`
	args := []any{from.UnixNano(), to.UnixNano()}
	if withIndex {
		q += ` AND type IN (?, ?, ?, ?, ?, ?, ?)`
		for _, t := range report.Types() {
			args = append(args, string(t))
		}
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return report.Counts{}, err
	}
	defer rows.Close()
	var c report.Counts
	for rows.Next() {
		var e security.Event
		var at int64
		var details sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.ActorUserID, &e.ActorSessionID, &e.SubjectUserID,
			&e.Subject, &e.IP, &details); err != nil {
			return report.Counts{}, err
		}
		switch e.Type {
		case report.EventLoginSucceeded:
			c.Logins.Successful++
		case report.EventLoginFailed:
			c.Logins.Failed++
		case report.EventNewIPVerification:
			c.NewIPVerifications++
		case report.EventSessionTerminated:
			c.SessionsTerminated++
		case report.EventBlacklistAdded:
			c.BlacklistedUsers++
		case report.EventIntegrityViolation:
			c.FileIntegrityViolations++
		case report.EventBreachDetected:
			c.PasswordBreachesDetected++
		}
	}
	return c, rows.Err()
}

// TestReportSideBySide times the security report over a two-week window
// of a SQLite store holding REPORT_EVENTS events spread over a year,
// against the naive versions. It runs only when REPORT_EVENTS is set
// (see bench/README.md); REPORT_DB keeps the database between runs (it is
// generated when missing), otherwise it goes to a temporary directory.
//
//	REPORT_EVENTS=1000000 go test -run ReportSideBySide -v -timeout 0 .
func TestReportSideBySide(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("REPORT_EVENTS"))
	if n <= 0 {
		t.Skip("REPORT_EVENTS is not set")
	}
	ctx := context.Background()
	path := os.Getenv("REPORT_DB")
	if path == "" {
		path = filepath.Join(t.TempDir(), "report.db")
	}
	_, statErr := os.Stat(path)
	store, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if statErr != nil {
		start := time.Now()
		generateEvents(t, store, n, 50_000)
		el := time.Since(start)
		t.Logf("generated %d events in %v (%.0f events/s)", n, el.Round(time.Second), float64(n)/el.Seconds())
	}
	if fi, err := os.Stat(path); err == nil {
		t.Logf("database: %.0f MiB", float64(fi.Size())/(1<<20))
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored int64
	if err := db.QueryRow(`SELECT count(*) FROM events`).Scan(&stored); err != nil {
		t.Fatal(err)
	}

	g, err := report.New(report.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	// A two-week window in the middle of the year.
	const from, to = "2024-06-01", "2024-06-14"
	p, err := report.ParsePeriod(from, to, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := g.Build(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, withIndex := range []bool{true, false} {
		c, err := naiveCounts(ctx, db, p.Start, p.End, withIndex)
		if err != nil {
			t.Fatal(err)
		}
		if c != rep.Counts {
			t.Fatalf("naive (index %v) counts %+v, report %+v", withIndex, c, rep.Counts)
		}
	}
	t.Logf("%d events stored; window %s..%s: %+v", stored, from, to, rep.Counts)

	measure := func(name string, rounds int, f func() error) time.Duration {
		var ds []time.Duration
		for range rounds {
			start := time.Now()
			if err := f(); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		med := ds[len(ds)/2]
		t.Logf("%-44s median %8.2f ms  (min %.2f, max %.2f, %d rounds)", name,
			ms(med), ms(ds[0]), ms(ds[len(ds)-1]), rounds)
		return med
	}
	ours := measure("report.Build (indexed counts, + daily)", 21, func() error {
		_, err := g.Build(ctx, p)
		return err
	})
	naive := measure("naive: select counted types' rows, count in Go", 7, func() error {
		_, err := naiveCounts(ctx, db, p.Start, p.End, true)
		return err
	})
	scan := measure("naive: select every row of the period", 3, func() error {
		_, err := naiveCounts(ctx, db, p.Start, p.End, false)
		return err
	})
	year, err := report.ParsePeriod("2024-01-01", "2024-12-31", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	measure("report.Build over the longest period (366 days)", 3, func() error {
		_, err := g.Build(ctx, year)
		return err
	})
	t.Logf("ratio: naive/report = %.1fx (indexed rows), %.1fx (scan); goal report < 50 ms: %v",
		float64(naive)/float64(ours), float64(scan)/float64(ours), ours < 50*time.Millisecond)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkRefusedRequest is the cost of a refused request (401: a bearer
// token that authenticates nothing) on SQLite, side by side: without
// refusal auditing; with the asynchronous queue drained by Handler.Run
// (the request only enqueues; Run batches); and, for comparison, what a
// synchronous design would add per refused request: one RecordEvents
// commit. RefusalStats tells how many were recorded and dropped.
//
//	go test -run '^$' -bench RefusedRequest -count 6 . | tee refusals.txt
func BenchmarkRefusedRequest(b *testing.B) {
	setup := func(b *testing.B, audit bool) (*httpadapter.Handler, *sqlitestore.Store) {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "p.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		mgr, err := session.New(session.Config{Store: st, Users: st})
		if err != nil {
			b.Fatal(err)
		}
		c, err := security.NewCSRF(security.CSRFConfig{Key: make([]byte, 32), Nonces: st})
		if err != nil {
			b.Fatal(err)
		}
		cfg := httpadapter.Config{Sessions: mgr, CSRF: c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if audit {
			cfg.Events = st
		}
		h, err := httpadapter.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return h, st
	}
	// refuse serves refused requests, each followed by after (if set).
	refuse := func(b *testing.B, h http.Handler, after func()) {
		req := httptest.NewRequest("GET", "/api/security/csrf-token", nil)
		req.Header.Set("Authorization", "Bearer "+security.NewToken())
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req.Clone(req.Context()))
			if w.Code != http.StatusUnauthorized {
				b.Fatalf("status %d", w.Code)
			}
			if after != nil {
				after()
			}
		}
	}
	b.Run("no-audit", func(b *testing.B) {
		h, _ := setup(b, false)
		refuse(b, h, nil)
	})
	b.Run("async-queue", func(b *testing.B) {
		h, _ := setup(b, true)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { h.Run(ctx); close(done) }()
		refuse(b, h, nil)
		cancel()
		<-done
		st := h.RefusalStats()
		b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
	})
	b.Run("sync-commit-per-refusal", func(b *testing.B) {
		h, st := setup(b, false)
		refuse(b, h, func() {
			if err := st.RecordEvents(context.Background(), security.Event{Time: time.Now(),
				Type: httpadapter.EventAuthorizationRefused, Subject: "/api/security/csrf-token"}); err != nil {
				b.Fatal(err)
			}
		})
	})
}
