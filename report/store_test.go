package report_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/fakeclock"
	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/pgstore"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
	"github.com/propops/propsec/sqlitestore"
)

// scenarioStore is what the scenario needs of a store.
type scenarioStore interface {
	session.Store
	session.UserDirectory
	report.Store
	UpsertUser(ctx context.Context, u session.User) error
}

// stores returns every Store implementation, empty: pgstore on a fresh
// schema when PROPSEC_TEST_POSTGRES is set (see internal/pgtest).
func stores(t *testing.T) map[string]scenarioStore {
	t.Helper()
	sq, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "propsec.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	out := map[string]scenarioStore{"memstore": memstore.New(), "sqlitestore": sq}
	if os.Getenv(pgtest.EnvVar) == "" {
		t.Logf("pgstore left out: %s is not set", pgtest.EnvVar)
		return out
	}
	pg, err := pgstore.Open(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	out["pgstore"] = pg
	return out
}

const (
	adminID  = 1
	victimID = 2
)

var (
	ipA = netip.MustParseAddr("203.0.113.1")
	ipB = netip.MustParseAddr("198.51.100.2")
	ipC = netip.MustParseAddr("192.0.2.3")
)

// playScenario records, through the real session.Manager, the events whose
// counts the tests check (see the expectations in TestCountsOnEveryStore).
func playScenario(t *testing.T, st scenarioStore, clock *fakeclock.Clock) {
	t.Helper()
	ctx := context.Background()
	hasher := session.Hasher{Memory: 64, Time: 1, Threads: 1}
	for _, u := range []session.User{
		{Principal: security.Principal{UserID: adminID, Name: "Admin", Email: "admin@example.com",
			AccountType: security.AccountStaff, Permissions: security.AllPermissions}},
		{Principal: security.Principal{UserID: victimID, Name: "Victim", Email: "victim@example.com",
			AccountType: security.AccountCustomer}},
	} {
		phc, err := hasher.Hash("pw-" + u.Email)
		if err != nil {
			t.Fatal(err)
		}
		u.PasswordHash = phc
		if err := st.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	mgr, err := session.New(session.Config{Store: st, Users: st, Clock: clock, Hasher: hasher,
		MaxFailuresPerEmail: 2, MaxFailuresPerIP: 1000, FailureWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	login := func(email, pw string, ip netip.Addr) (session.LoginResult, error) {
		return mgr.Login(ctx, session.LoginRequest{Email: email, Password: pw, Kind: session.KindWeb, IP: ip})
	}
	mustLogin := func(email string, ip netip.Addr) session.Auth {
		t.Helper()
		res, err := login(email, "pw-"+email, ip)
		if err != nil {
			t.Fatalf("login %s at %v: %v", email, clock.Now(), err)
		}
		a, err := mgr.Authenticate(ctx, res.Token)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	mustFail := func(email, pw string, want error) {
		t.Helper()
		if _, err := login(email, pw, ipA); !errors.Is(err, want) {
			t.Fatalf("login %s at %v: %v, want %v", email, clock.Now(), err, want)
		}
	}
	victim := "victim@example.com"

	// Just before the period: a failed attempt that must not count.
	clock.Set(day(1).Add(-time.Nanosecond))
	mustFail(victim, "wrong", security.ErrInvalidCredentials)
	// Exactly at the start of the period: the victim's first login (no
	// new-IP verification: it is the first ever).
	clock.Set(day(1))
	mustLogin(victim, ipA)

	// June 2: a login from a new IP, terminated by the admin.
	clock.Set(day(2).Add(10 * time.Hour))
	fromB := mustLogin(victim, ipB)
	admin := mustLogin("admin@example.com", ipC)
	if err := mgr.Terminate(ctx, admin, fromB.Session.ID, ipC); err != nil {
		t.Fatal(err)
	}

	// June 3: an unknown user, two bad passwords, then a throttled attempt
	// (with the right password): four failed logins.
	clock.Set(day(3).Add(9 * time.Hour))
	mustFail("nobody@example.com", "x", security.ErrInvalidCredentials)
	mustFail(victim, "wrong", security.ErrInvalidCredentials)
	mustFail(victim, "wrong", security.ErrInvalidCredentials)
	mustFail(victim, "pw-"+victim, security.ErrThrottled)

	// June 4: three live sessions, all revoked by one blacklisting; then a
	// refused login of the blacklisted user.
	clock.Set(day(4).Add(12 * time.Hour))
	for range 3 {
		mustLogin(victim, ipA)
	}
	admin = mustLogin("admin@example.com", ipC)
	n, err := mgr.Blacklist(ctx, admin, victimID, "test", ipC)
	if err != nil || n != 3 {
		t.Fatalf("blacklist: %d sessions, %v; want 3", n, err)
	}
	mustFail(victim, "pw-"+victim, security.ErrBlacklisted)

	// June 5: an integrity alert, and a breach match at the last instant of
	// the day; another just after it, outside a date-only to=June 5.
	clock.Set(day(5).Add(3 * time.Hour))
	rec := func(typ security.EventType, at time.Time) {
		t.Helper()
		if err := st.RecordEvents(ctx, security.Event{Time: at, Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	rec(integrity.EventAlertRaised, clock.Now())
	rec(breach.EventBreachDetected, day(6).Add(-time.Nanosecond))
	rec(breach.EventBreachDetected, day(6))
	// Events of other types never count.
	rec(integrity.EventAlertResolved, clock.Now())
	rec(security.EventLogout, clock.Now())
}

// day is midnight UTC starting June d, 2024.
func day(d int) time.Time { return time.Date(2024, 6, d, 0, 0, 0, 0, time.UTC) }

func TestCountsOnEveryStore(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			clock := fakeclock.New(day(1))
			playScenario(t, st, clock)
			clock.Set(day(20))
			g, err := report.New(report.Config{Store: st, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()

			t.Run("date-only period", func(t *testing.T) {
				r, err := g.Generate(ctx, "2024-06-01", "2024-06-05")
				if err != nil {
					t.Fatal(err)
				}
				want := report.Counts{Logins: report.Logins{Successful: 7, Failed: 5}, NewIPVerifications: 1,
					SessionsTerminated: 4, BlacklistedUsers: 1, FileIntegrityViolations: 1, PasswordBreachesDetected: 1}
				if r.Counts != want {
					t.Errorf("counts = %+v\nwant     %+v", r.Counts, want)
				}
				if r.Period.From != "2024-06-01" || r.Period.To != "2024-06-05" {
					t.Errorf("period = %+v", r.Period)
				}
				wantDaily := []report.Day{
					{Date: "2024-06-01", Counts: report.Counts{Logins: report.Logins{Successful: 1}}},
					{Date: "2024-06-02", Counts: report.Counts{Logins: report.Logins{Successful: 2},
						NewIPVerifications: 1, SessionsTerminated: 1}},
					{Date: "2024-06-03", Counts: report.Counts{Logins: report.Logins{Failed: 4}}},
					{Date: "2024-06-04", Counts: report.Counts{Logins: report.Logins{Successful: 4, Failed: 1},
						SessionsTerminated: 3, BlacklistedUsers: 1}},
					{Date: "2024-06-05", Counts: report.Counts{FileIntegrityViolations: 1, PasswordBreachesDetected: 1}},
				}
				if len(r.Daily) != len(wantDaily) {
					t.Fatalf("daily = %+v", r.Daily)
				}
				for i := range wantDaily {
					if r.Daily[i] != wantDaily[i] {
						t.Errorf("daily[%d] = %+v\nwant       %+v", i, r.Daily[i], wantDaily[i])
					}
				}
			})
			t.Run("date-time bounds are inclusive", func(t *testing.T) {
				r, err := g.Generate(ctx, "2024-05-31T23:59:59.999999999Z", "2024-06-01T00:00:00Z")
				if err != nil {
					t.Fatal(err)
				}
				if r.Logins != (report.Logins{Successful: 1, Failed: 1}) {
					t.Errorf("logins = %+v, want the attempts at both bounds", r.Logins)
				}
				if len(r.Daily) != 2 || r.Daily[0].Logins.Failed != 1 || r.Daily[1].Logins.Successful != 1 {
					t.Errorf("daily = %+v", r.Daily)
				}
			})
			t.Run("from excludes the instant before", func(t *testing.T) {
				r, err := g.Generate(ctx, "2024-06-01T00:00:00Z", "2024-06-01T23:59:59Z")
				if err != nil {
					t.Fatal(err)
				}
				if r.Logins != (report.Logins{Successful: 1}) {
					t.Errorf("logins = %+v", r.Logins)
				}
			})
			t.Run("breach just after a date-only to", func(t *testing.T) {
				r, err := g.Generate(ctx, "2024-06-06", "2024-06-06")
				if err != nil {
					t.Fatal(err)
				}
				if r.PasswordBreachesDetected != 1 || r.FileIntegrityViolations != 0 {
					t.Errorf("counts = %+v", r.Counts)
				}
			})
			t.Run("offset", func(t *testing.T) {
				// June 4 12:00Z is 14:00+02:00: the blacklisting.
				r, err := g.Generate(ctx, "2024-06-04T14:00:00+02:00", "2024-06-04T14:00:00+02:00")
				if err != nil {
					t.Fatal(err)
				}
				if r.BlacklistedUsers != 1 || r.SessionsTerminated != 3 || r.Logins.Successful != 4 {
					t.Errorf("counts = %+v", r.Counts)
				}
			})
			t.Run("default period", func(t *testing.T) {
				clock.Set(day(7).Add(time.Hour)) // the last 7 days: May 31 01:00 to June 7 01:00
				r, err := g.Generate(ctx, "", "")
				if err != nil {
					t.Fatal(err)
				}
				if r.Period.From != "2024-05-31T01:00:00Z" || r.Period.To != "2024-06-07T01:00:00Z" {
					t.Errorf("period = %+v", r.Period)
				}
				if r.Logins.Failed != 6 || r.PasswordBreachesDetected != 2 || len(r.Daily) != 8 {
					t.Errorf("counts = %+v, %d days", r.Counts, len(r.Daily))
				}
			})
		})
	}
}

// TestCountEventsByDayOnEveryStore counts events around day boundaries,
// before 1970 and within periods that cut days, on every store, against a
// count of the events themselves.
func TestCountEventsByDayOnEveryStore(t *testing.T) {
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	types := []security.EventType{security.EventLoginFailed, security.EventLoginSucceeded, security.EventLogout}
	var evs []security.Event
	for i := range 200 {
		at := base.Add(time.Duration(i)*7*time.Hour + time.Duration(i%3-1)) // ±1ns around hours
		evs = append(evs, security.Event{Time: at, Type: types[i%len(types)]})
	}
	epoch := time.Unix(0, 0).UTC()
	for _, at := range []time.Time{epoch.Add(-time.Nanosecond), epoch, epoch.Add(-24 * time.Hour),
		epoch.Add(-24*time.Hour - time.Nanosecond)} {
		evs = append(evs, security.Event{Time: at, Type: security.EventLoginFailed})
	}
	asked := types[:2]
	key := func(dc report.DayCount) string { return dc.Day.Format(time.DateOnly) + " " + string(dc.Type) }
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			if err := st.RecordEvents(ctx, evs...); err != nil {
				t.Fatal(err)
			}
			for _, span := range [][2]time.Time{
				{base, base.AddDate(0, 0, 60)},
				{base.Add(7 * time.Hour), base.Add(7*24*time.Hour + 1)},
				{base.Add(-time.Hour), base.Add(time.Hour)},
				{base.Add(5*time.Hour + 30*time.Minute), base.Add(5*time.Hour + 31*time.Minute)},
				{epoch.Add(-48 * time.Hour), epoch.Add(time.Hour)},
				{base, base},
			} {
				want := map[string]int64{}
				for _, e := range evs {
					if !e.Time.Before(span[0]) && e.Time.Before(span[1]) && slices.Contains(asked, e.Type) {
						want[key(report.DayCount{Day: e.Time.UTC().Truncate(24 * time.Hour), Type: e.Type})]++
					}
				}
				got, err := st.CountEventsByDay(ctx, span[0], span[1], asked)
				if err != nil {
					t.Fatal(err)
				}
				have := map[string]int64{}
				for _, dc := range got {
					if dc.Count <= 0 || !dc.Day.Equal(dc.Day.UTC().Truncate(24*time.Hour)) || have[key(dc)] != 0 {
						t.Fatalf("%v: bad or repeated count %+v", span, dc)
					}
					have[key(dc)] = dc.Count
				}
				if !maps.Equal(have, want) {
					t.Errorf("%v:\ngot  %v\nwant %v", span, sorted(have), sorted(want))
				}
			}
		})
	}
}

func sorted(m map[string]int64) string {
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}
