package httpadapter_test

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/report"
	"github.com/propops/propsec/security"
)

// reportEnv is an env whose handler serves the report and records refusal
// events into the env's memstore (queue of queueSize; 0: the default).
func reportEnv(t *testing.T, queueSize int) *env {
	t.Helper()
	e := newEnv(t)
	g, err := report.New(report.Config{Store: e.mem, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpadapter.New(httpadapter.Config{Sessions: e.mgr, CSRF: e.csrf, Report: g,
		Events: e.mem, RefusalQueue: queueSize, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.serve(h)
	return e
}

func (e *env) record(typ security.EventType, at time.Time) {
	e.t.Helper()
	if err := e.mem.RecordEvents(context.Background(), security.Event{Time: at, Type: typ}); err != nil {
		e.t.Fatal(err)
	}
}

func TestSecurityReport(t *testing.T) {
	e := reportEnv(t, 0)
	admin := e.bearer(adminID) // a login_succeeded at 2024-06-14T10:00:00Z
	d := func(day, hour int) time.Time { return time.Date(2024, 6, day, hour, 0, 0, 0, time.UTC) }
	e.record(security.EventLoginSucceeded, d(1, 0))
	e.record(security.EventLoginFailed, d(1, 0).Add(-time.Nanosecond)) // before from
	e.record(security.EventLoginFailed, d(3, 5))
	e.record(security.EventNewIPVerification, d(3, 5))
	e.record(security.EventSessionTerminated, d(4, 5))
	e.record(security.EventBlacklistAdded, d(4, 5))
	e.record("integrity_alert_raised", d(14, 23))
	e.record(security.EventPasswordBreachDetected, d(15, 0)) // after a date-only to

	r := e.do(request{method: "GET", path: "/api/admin/security-report?from=2024-06-01&to=2024-06-14", bearer: admin})
	r.ok(t, "Security report generated")
	data := r.data()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range data {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"blacklisted_users", "daily", "file_integrity_violations", "logins", "new_ip_verifications",
		"password_breaches_detected", "period", "sessions_terminated"}
	if !slices.Equal(keys, want) {
		t.Fatalf("data keys %v, want %v", keys, want)
	}
	if p := data["period"].(map[string]any); p["from"] != "2024-06-01" || p["to"] != "2024-06-14" {
		t.Errorf("period = %v", p)
	}
	if l := data["logins"].(map[string]any); l["successful"] != 2.0 || l["failed"] != 1.0 {
		t.Errorf("logins = %v", l)
	}
	for k, n := range map[string]float64{"new_ip_verifications": 1, "sessions_terminated": 1, "blacklisted_users": 1,
		"file_integrity_violations": 1, "password_breaches_detected": 0} {
		if data[k] != n {
			t.Errorf("%s = %v, want %v", k, data[k], n)
		}
	}
	daily := data["daily"].([]any)
	if len(daily) != 14 {
		t.Fatalf("%d days", len(daily))
	}
	third := daily[2].(map[string]any)
	if third["date"] != "2024-06-03" || third["logins"].(map[string]any)["failed"] != 1.0 || third["new_ip_verifications"] != 1.0 {
		t.Errorf("daily[2] = %v", third)
	}

	t.Run("default period", func(t *testing.T) {
		r := e.do(request{method: "GET", path: "/api/admin/security-report", bearer: admin})
		r.ok(t, "Security report generated")
		p := r.data()["period"].(map[string]any)
		if p["from"] != "2024-06-07T10:00:00Z" || p["to"] != "2024-06-14T10:00:00Z" {
			t.Errorf("period = %v", p)
		}
		if n := len(r.data()["daily"].([]any)); n != 8 {
			t.Errorf("%d days", n)
		}
		// A fraction of a second: both defaulted bounds stay to the second.
		e.clock.Advance(799940928 * time.Nanosecond)
		r = e.do(request{method: "GET", path: "/api/admin/security-report", bearer: admin})
		r.ok(t, "Security report generated")
		p = r.data()["period"].(map[string]any)
		if p["from"] != "2024-06-07T10:00:01Z" || p["to"] != "2024-06-14T10:00:01Z" {
			t.Errorf("period = %v", p)
		}
	})

	t.Run("csv", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/admin/security-report?from=2024-06-13&to=2024-06-14&format=csv", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%d %v\n%s", resp.StatusCode, resp.Header, body)
		}
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// The header is written out here, not taken from
		// httpadapter.ReportCSVHeader (which the handler writes), so a
		// wrong, missing or reordered column name fails.
		want := [][]string{{"date", "logins_successful", "logins_failed", "new_ip_verifications",
			"sessions_terminated", "blacklisted_users", "file_integrity_violations", "password_breaches_detected"},
			{"2024-06-13", "0", "0", "0", "0", "0", "0", "0"},
			{"2024-06-14", "1", "0", "0", "0", "0", "1", "0"}}
		if !slices.EqualFunc(rows, want, slices.Equal) {
			t.Errorf("csv = %q, want %q", rows, want)
		}
	})

	t.Run("format json", func(t *testing.T) {
		e.do(request{method: "GET", path: "/api/admin/security-report?format=json", bearer: admin}).
			ok(t, "Security report generated")
	})

	t.Run("refused", func(t *testing.T) {
		staff, customer, lister := e.bearer(staffID), e.bearer(customerID), e.bearer(listerID)
		const path = "/api/admin/security-report?from=2024-06-01&to=2024-06-14"
		tests := []struct {
			name, path, bearer string
			status             int
			code, inMessage    string
		}{
			{"no credential", path, "", 401, httpadapter.CodeUnauthenticated, ""},
			{"staff without permission", path, staff, 403, httpadapter.CodeForbidden, ""},
			{"other permission", path, lister, 403, httpadapter.CodeForbidden, ""},
			{"customer with permission", path, customer, 403, httpadapter.CodeForbidden, ""},
			{"unknown parameter", path + "&user=1", admin, 400, httpadapter.CodeInvalidRequest, "user"},
			{"repeated parameter", path + "&from=2024-06-02", admin, 400, httpadapter.CodeInvalidRequest, "from"},
			{"malformed from", "/api/admin/security-report?from=June", admin, 400, httpadapter.CodeInvalidRequest, "from"},
			{"no offset", "/api/admin/security-report?to=2024-06-01T10:00:00", admin, 400, httpadapter.CodeInvalidRequest, "to"},
			{"from after to", "/api/admin/security-report?from=2024-06-15&to=2024-06-14", admin, 400, httpadapter.CodeInvalidRequest, "from"},
			{"over 366 days", "/api/admin/security-report?from=2023-01-01&to=2024-01-02", admin, 400, httpadapter.CodeInvalidRequest, "366"},
			{"bad format", path + "&format=xml", admin, 400, httpadapter.CodeInvalidRequest, "format"},
			{"malformed query", "/api/admin/security-report?from=%zz", admin, 400, httpadapter.CodeInvalidRequest, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do(request{method: "GET", path: tt.path, bearer: tt.bearer})
				r.refused(t, tt.status, tt.code)
				if msg := r.body["message"].(string); !strings.Contains(msg, tt.inMessage) {
					t.Errorf("message %q does not name %q", msg, tt.inMessage)
				}
			})
		}
		r := e.do(request{method: "POST", path: "/api/admin/security-report", bearer: admin, body: "{}"})
		r.refused(t, http.StatusMethodNotAllowed, httpadapter.CodeMethodNotAllowed)
		if r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("Allow = %q", r.header.Get("Allow"))
		}
	})
}

func TestSecurityReportAbsentWithoutConfig(t *testing.T) {
	e := newEnv(t)
	e.do(request{method: "GET", path: "/api/admin/security-report", bearer: e.bearer(adminID)}).
		refused(t, http.StatusNotFound, httpadapter.CodeNotFound)
}

// TestRefusalEvents: 401, 403 and CSRF failures become audit events once
// Run drains the queue; credentials never appear in them.
func TestRefusalEvents(t *testing.T) {
	e := reportEnv(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.h.Run(ctx) }()

	staff, admin := e.bearer(staffID), e.bearer(adminID)
	_, victimSession := e.login(victimID, "web")
	e.do(request{method: "GET", path: "/api/admin/security-report", bearer: "f00d" + strings.Repeat("0", 60)}).
		refused(t, 401, httpadapter.CodeUnauthenticated)
	e.do(request{method: "GET", path: "/api/admin/security-report", bearer: staff}).
		refused(t, 403, httpadapter.CodeForbidden)
	e.do(request{method: "POST", path: "/api/security/sessions", bearer: admin,
		body: `{"action":"terminate","session_id":"` + victimSession + `","csrf_token":"forged"}`}).
		refused(t, 403, httpadapter.CodeCSRFInvalid)
	// A failed login is recorded by session as login_failed, not again.
	e.do(request{method: "POST", path: "/login", body: `{"email":"user1@example.com","password":"wrong guess"}`}).
		refused(t, 401, httpadapter.CodeInvalidCredentials)

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := e.h.RefusalStats()
	if st.Recorded != 3 || st.Dropped != 0 || st.Failed != 0 || st.Queued != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if n := e.eventsOf(httpadapter.EventAuthorizationRefused); n != 2 {
		t.Errorf("%d authorization_refused events", n)
	}
	if n := e.eventsOf(httpadapter.EventCSRFFailed); n != 1 {
		t.Errorf("%d csrf_failed events", n)
	}
	events, _ := e.mem.Events(context.Background())
	for _, ev := range events {
		if ev.Type != httpadapter.EventAuthorizationRefused && ev.Type != httpadapter.EventCSRFFailed {
			continue
		}
		text := strings.Join([]string{ev.Subject, ev.ActorSessionID, ev.IP, ev.Details["method"],
			ev.Details["code"], ev.Details["status"]}, " ")
		for _, secret := range []string{staff, admin, "forged", "f00d"} {
			if strings.Contains(text, secret) || len(ev.Details) != 3 {
				t.Errorf("event %+v holds a credential or more than method, status, code", ev)
			}
		}
		if ev.Details["code"] == httpadapter.CodeForbidden && (ev.ActorUserID != staffID || !strings.HasPrefix(ev.ActorSessionID, "sess_")) {
			t.Errorf("403 event without its actor: %+v", ev)
		}
	}
}

// TestRefusalQueueDrops: without Run, the queue fills and further refusals
// are dropped and counted, never blocking the request.
func TestRefusalQueueDrops(t *testing.T) {
	e := reportEnv(t, 2)
	for range 5 {
		e.do(request{method: "GET", path: "/api/admin/security-report"}).refused(t, 401, httpadapter.CodeUnauthenticated)
	}
	if st := e.h.RefusalStats(); st.Queued != 2 || st.Dropped != 3 || st.Recorded != 0 {
		t.Fatalf("stats = %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.h.Run(ctx); err != nil { // flushes the queue and returns
		t.Fatal(err)
	}
	if st := e.h.RefusalStats(); st.Queued != 0 || st.Recorded != 2 {
		t.Fatalf("after Run: %+v", st)
	}
	// The two identical refusals were written as one event standing for
	// both.
	events, _ := e.mem.Events(context.Background())
	var got []security.Event
	for _, ev := range events {
		if ev.Type == httpadapter.EventAuthorizationRefused {
			got = append(got, ev)
		}
	}
	if len(got) != 1 || got[0].Details["count"] != "2" || got[0].Details["last"] == "" {
		t.Errorf("events = %+v, want one with count 2", got)
	}
}

// failingRecorder refuses every write.
type failingRecorder struct{}

func (failingRecorder) RecordEvents(context.Context, ...security.Event) error {
	return errors.New("disk full")
}

// TestRefusalQueueConfig: a failed write is counted, a negative queue is
// refused, and Run without Config.Events just waits for its context.
func TestRefusalQueueConfig(t *testing.T) {
	e := newEnv(t)
	if _, err := httpadapter.New(httpadapter.Config{Sessions: e.mgr, CSRF: e.csrf, Events: e.mem, RefusalQueue: -1}); err == nil {
		t.Error("a negative RefusalQueue was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.h.Run(ctx); err != nil || e.h.RefusalStats() != (httpadapter.RefusalStats{}) {
		t.Errorf("Run without Events: %v, %+v", err, e.h.RefusalStats())
	}

	h, err := httpadapter.New(httpadapter.Config{Sessions: e.mgr, CSRF: e.csrf, Events: failingRecorder{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.serve(h)
	e.do(request{method: "GET", path: "/api/security/sessions?action=list"}).refused(t, 401, httpadapter.CodeUnauthenticated)
	if err := h.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if st := h.RefusalStats(); st.Failed != 1 || st.Recorded != 0 || st.Queued != 0 {
		t.Errorf("stats = %+v", st)
	}
}
