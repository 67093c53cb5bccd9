package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/console"
	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// The console's benchmark data: this many live sessions (of
// consoleUsers users) and alerts in one SQLite file.
const (
	consoleSessions = 10000
	consoleAlerts   = 10000
	consoleUsers    = 500
)

// consoleFixture is a host with the console over a seeded SQLite store,
// and the session cookie of a staff user with every permission.
type consoleFixture struct {
	handler http.Handler
	cookie  *http.Cookie
	alertID int64
}

var (
	consoleOnce sync.Once
	consoleFix  *consoleFixture
	consoleErr  error
)

// newConsoleFixture seeds the store once per test binary: users,
// consoleSessions sessions, consoleAlerts alerts, 20,000 audit events.
func newConsoleFixture(tb testing.TB) *consoleFixture {
	tb.Helper()
	consoleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "propsec-console-bench")
		if err != nil {
			consoleErr = err
			return
		}
		consoleFix, consoleErr = seedConsole(tb, dir)
	})
	if consoleErr != nil {
		tb.Fatal(consoleErr)
	}
	return consoleFix
}

func seedConsole(tb testing.TB, dir string) (*consoleFixture, error) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "console.db"))
	if err != nil {
		return nil, err
	}
	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1}
	hash, err := hasher.Hash("bench password")
	if err != nil {
		return nil, err
	}
	for id := int64(1); id <= consoleUsers; id++ {
		p := security.Principal{UserID: id, Name: "User " + strconv.FormatInt(id, 10),
			Email: fmt.Sprintf("u%d@example.com", id), AccountType: security.AccountCustomer}
		if id == 1 {
			p.AccountType, p.Permissions = security.AccountStaff, security.AllPermissions
		}
		if err := st.UpsertUser(ctx, session.User{Principal: p, PasswordHash: hash}); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	for i := range consoleSessions {
		s := session.Session{ID: security.NewID(session.IDPrefix), TokenHash: security.HashToken(security.NewToken()),
			UserID: int64(i%consoleUsers) + 1, Kind: session.KindWeb, IP: fmt.Sprintf("203.0.%d.%d", i/256%256, i%256),
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			Location:  "London, GB", CreatedAt: now.Add(-time.Duration(i) * time.Second),
			LastActive: now.Add(-time.Duration(i) * time.Second), IdleTimeout: 24 * time.Hour, ExpiresAt: now.Add(24 * time.Hour)}
		if err := st.CreateSession(ctx, s, nil); err != nil {
			return nil, err
		}
	}
	root := filepath.Join(dir, "www")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "index.php"), []byte("<?php\n"), 0o644); err != nil {
		return nil, err
	}
	mon, err := integrity.New(integrity.Config{Store: st, Key: make([]byte, 32), Roots: []string{root}, Host: "bench"})
	if err != nil {
		return nil, err
	}
	if _, err := mon.Init(ctx); err != nil {
		return nil, err
	}
	sev := []integrity.Severity{integrity.SeverityCritical, integrity.SeverityHigh, integrity.SeverityMedium, integrity.SeverityLow}
	alerts := make([]integrity.Alert, consoleAlerts)
	for i := range alerts {
		p := fmt.Sprintf("dir%d/file%d.php", i%100, i)
		alerts[i] = integrity.Alert{Host: "bench", Key: integrity.Key{Root: root, Path: p}, FilePath: filepath.Join(root, p),
			Type: integrity.AlertViolation, Change: integrity.ChangeModified, Severity: sev[i%4],
			Status: integrity.Status(i % 3), Details: "File hash mismatch", CheckID: "chk_bench",
			CreatedAt: now.Add(-time.Duration(i) * time.Minute), UpdatedAt: now.Add(-time.Duration(i) * time.Minute)}
	}
	ids, err := st.SaveFindings(ctx, integrity.Findings{Alerts: alerts})
	if err != nil {
		return nil, err
	}
	generateEvents(tb, st, 20000, 1000)
	mgr, err := session.New(session.Config{Store: st, Users: st, Hasher: hasher})
	if err != nil {
		return nil, err
	}
	key, err := st.Secret(ctx, "csrf", 32)
	if err != nil {
		return nil, err
	}
	csrf, err := security.NewCSRF(security.CSRFConfig{Key: key, Nonces: st})
	if err != nil {
		return nil, err
	}
	reports, err := report.New(report.Config{Store: st})
	if err != nil {
		return nil, err
	}
	api, err := httpadapter.New(httpadapter.Config{Sessions: mgr, CSRF: csrf, Integrity: mon, Report: reports})
	if err != nil {
		return nil, err
	}
	c, err := console.NewHandler(console.Options{Adapter: api, Sessions: mgr, Integrity: mon, Report: reports})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	api.Register(mux)
	mux.Handle("/console/", c)
	res, err := mgr.Login(ctx, session.LoginRequest{Email: "u1@example.com", Password: "bench password", Kind: session.KindWeb})
	if err != nil {
		return nil, err
	}
	return &consoleFixture{handler: mux, alertID: ids[len(ids)/2],
		cookie: &http.Cookie{Name: httpadapter.DefaultCookieName, Value: res.Token}}, nil
}

// consoleViews are the views measured, by path under /console/.
func consoleViews(f *consoleFixture) []string {
	return []string{"sessions", "sessions?page=200", "alerts", "alerts?status=new&severity=critical&sort=severity_desc",
		"alerts/" + strconv.FormatInt(f.alertID, 10), "checks", "report",
		"report?from=2024-01-01&to=2024-12-31", "password"}
}

// get serves one GET of path as the staff user.
func (f *consoleFixture) get(tb testing.TB, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/console/"+path, nil)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(f.cookie)
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		tb.Fatalf("GET /console/%s: %d %s", path, w.Code, w.Body)
	}
	return w
}

var consoleAssetRE = regexp.MustCompile(`(?:href|src)="(/console/assets/[^"]+)"`)

// BenchmarkConsoleView is the server time of one render of each view
// with 10,000 live sessions and 10,000 alerts on SQLite, and (metric
// total-B) what a browser downloads for it with a cold cache: the page
// and every asset it references.
func BenchmarkConsoleView(b *testing.B) {
	f := newConsoleFixture(b)
	for _, path := range consoleViews(f) {
		b.Run(path, func(b *testing.B) {
			page := f.get(b, path)
			total := page.Body.Len()
			for _, m := range consoleAssetRE.FindAllStringSubmatch(page.Body.String(), -1) {
				req := httptest.NewRequest("GET", m[1], nil)
				w := httptest.NewRecorder()
				f.handler.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d", m[1], w.Code)
				}
				total += w.Body.Len()
			}
			b.ReportAllocs()
			for b.Loop() {
				f.get(b, path)
			}
			b.ReportMetric(float64(page.Body.Len()), "page-B")
			b.ReportMetric(float64(total), "total-B")
		})
	}
}
