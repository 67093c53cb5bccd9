package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

const deploymentsPath = "/api/security/deployments"

// deployments reads GET /api/security/deployments (query: "" or "?…").
func (f *fimEnv) deployments(query string) (open map[string]any, recent []any) {
	f.t.Helper()
	r := f.get(deploymentsPath + query)
	r.ok(f.t, "Deployments retrieved")
	d := r.data()
	if len(d) != 2 {
		f.t.Fatalf("deployments: %s", r.raw)
	}
	if _, has := d["open"]; !has {
		f.t.Fatalf("no open member: %s", r.raw)
	}
	open, _ = d["open"].(map[string]any)
	recent, ok := d["recent"].([]any)
	if !ok {
		f.t.Fatalf("recent is not an array: %s", r.raw)
	}
	return open, recent
}

// deploy posts fields to POST /api/security/deployments with a fresh CSRF
// token.
func (f *fimEnv) deploy(fields map[string]any) response {
	f.t.Helper()
	return f.do(f.post(f.admin, deploymentsPath, fields))
}

// deploymentState is what a refused deployment request must leave alone:
// the stored open window (verified or not) and the history.
type deploymentState struct {
	Open  integrity.Deployment
	Ended []integrity.EndedDeployment
}

func (f *fimEnv) deploymentState() deploymentState {
	f.t.Helper()
	ctx := context.Background()
	var s deploymentState
	var err error
	if s.Open, err = f.store.Deployment(ctx); err != nil && !errors.Is(err, security.ErrNotFound) {
		f.t.Fatal(err)
	}
	if s.Ended, err = f.store.EndedDeployments(ctx, integrity.MaxLimit); err != nil {
		f.t.Fatal(err)
	}
	return s
}

// refuseDeployment sends rq and asserts that it is refused with status and
// code and changed nothing: sessions, events (a begun or ended deployment
// writes one), alerts and deployments.
func (f *fimEnv) refuseDeployment(t *testing.T, rq request, status int, code string) response {
	t.Helper()
	before, dep := f.snap(), f.deploymentState()
	r := f.do(rq)
	r.refused(t, status, code)
	after := f.snap()
	f.compare(t, before.snapshot, after.snapshot)
	if !reflect.DeepEqual(before.alerts, after.alerts) {
		t.Fatalf("alerts changed: %v → %v", before.alerts, after.alerts)
	}
	if got := f.deploymentState(); !reflect.DeepEqual(dep, got) {
		t.Fatalf("deployments changed:\nbefore %+v\nafter  %+v", dep, got)
	}
	return r
}

// wantDeployment checks a deployment's JSON: its fields, and its end
// (nil: open, so ended_at, ended_by and accepted are null).
func wantDeployment(t *testing.T, got any, id, description, started string, by int64, end *[3]any) {
	t.Helper()
	d, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("deployment %v", got)
	}
	want := map[string]any{"id": id, "description": description, "started_at": started, "started_by": float64(by),
		"ended_at": nil, "ended_by": nil, "accepted": nil}
	if end != nil {
		want["ended_at"], want["ended_by"], want["accepted"] = end[0], end[1], end[2]
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("deployment\n got %v\nwant %v", d, want)
	}
}

// The seed: alerts are raised for changes "outside of a planned
// deployment". Through the API: a window opens, a watched file changes, a
// check raises nothing, the window ends accepting the change, and later
// checks raise nothing either.
func TestDeploymentFlow(t *testing.T) {
	f := newFIM(t)
	if open, recent := f.deployments(""); open != nil || len(recent) != 0 {
		t.Fatalf("before any: %v %v", open, recent)
	}

	r := f.deploy(map[string]any{"action": "begin", "description": "  release 1.2\n"})
	r.ok(t, "Deployment started")
	id, _ := r.data()["id"].(string)
	if !security.ValidID(integrity.DeploymentIDPrefix, id) {
		t.Fatalf("id %q", id)
	}
	const t10 = "2024-06-14T10:00:00Z"
	wantDeployment(t, r.data(), id, "release 1.2", t10, adminID, nil)
	open, recent := f.deployments("")
	wantDeployment(t, open, id, "release 1.2", t10, adminID, nil)
	if len(recent) != 0 {
		t.Fatalf("recent while open: %v", recent)
	}

	// Begin while open: 409 naming the open deployment.
	before, dep := f.snap(), f.deploymentState()
	r = f.deploy(map[string]any{"action": "begin", "description": "another"})
	if r.status != http.StatusConflict || r.body["success"] != false || r.body["error"] != "conflict" ||
		r.body["message"] != "Deployment "+id+" is already open" || len(r.data()) != 1 {
		t.Fatalf("begin while open: %d %s", r.status, r.raw)
	}
	wantDeployment(t, r.data()["deployment"], id, "release 1.2", t10, adminID, nil)
	f.compare(t, before.snapshot, f.snap().snapshot)
	if !reflect.DeepEqual(dep, f.deploymentState()) {
		t.Fatal("a refused begin changed the deployments")
	}

	// A change inside the window raises nothing.
	f.write("index.php", "<?php\necho 'release 1.2';\n")
	if p := f.scan(); p["violations_found"] != 0.0 {
		t.Fatalf("check during the window: %v", p)
	}
	if r := f.alerts(""); r.body["total"] != 0.0 {
		t.Fatalf("alerts during the window: %s", r.raw)
	}

	f.clock.Advance(5 * time.Minute)
	r = f.deploy(map[string]any{"action": "end"})
	r.ok(t, "Deployment ended")
	const t1005 = "2024-06-14T10:05:00Z"
	end := &[3]any{t1005, float64(adminID), 1.0}
	if r.data()["accepted"] != 1.0 || len(r.data()) != 2 {
		t.Fatalf("end: %s", r.raw)
	}
	wantDeployment(t, r.data()["deployment"], id, "release 1.2", t10, adminID, end)

	// The change was accepted: later checks raise nothing.
	f.clock.Advance(time.Minute)
	if p := f.scan(); p["violations_found"] != 0.0 {
		t.Fatalf("check after the window: %v", p)
	}
	open, recent = f.deployments("")
	if open != nil || len(recent) != 1 {
		t.Fatalf("after the end: %v %v", open, recent)
	}
	wantDeployment(t, recent[0], id, "release 1.2", t10, adminID, end)

	// End with none open: 404.
	r = f.refuseDeployment(t, f.post(f.admin, deploymentsPath, map[string]any{"action": "end"}), http.StatusNotFound, "not_found")
	if r.body["message"] != "No deployment is open" {
		t.Fatalf("%s", r.raw)
	}

	// A change outside a window alerts again.
	f.write("index.php", "<?php\nsystem($_GET['c']);\n")
	if p := f.scan(); p["violations_found"] != 1.0 {
		t.Fatalf("check outside a window: %v", p)
	}

	// Both ends are audited, naming the caller.
	events, err := f.mem.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[security.EventType]int{}
	for _, ev := range events {
		switch ev.Type {
		case integrity.EventDeploymentStarted, integrity.EventDeploymentEnded:
			seen[ev.Type]++
			if ev.ActorUserID != adminID || ev.ActorSessionID == "" || ev.IP == "" || ev.Subject != id {
				t.Fatalf("event %+v", ev)
			}
			if ev.Type == integrity.EventDeploymentEnded && ev.Details["accepted"] != "1" {
				t.Fatalf("event %+v", ev)
			}
		}
	}
	if seen[integrity.EventDeploymentStarted] != 1 || seen[integrity.EventDeploymentEnded] != 1 {
		t.Fatalf("events %v", seen)
	}
}

// GET lists the latest ended deployments first, limit of them.
func TestDeploymentsRecent(t *testing.T) {
	f := newFIM(t)
	var ids []string
	for i := range 3 {
		r := f.deploy(map[string]any{"action": "begin", "description": fmt.Sprint("release ", i)})
		r.ok(t, "Deployment started")
		ids = append(ids, r.data()["id"].(string))
		f.clock.Advance(time.Minute)
		f.deploy(map[string]any{"action": "end"}).ok(t, "Deployment ended")
	}
	f.deploy(map[string]any{"action": "begin", "description": "open"}).ok(t, "Deployment started")
	for q, want := range map[string][]string{
		"":           {ids[2], ids[1], ids[0]},
		"?limit=2":   {ids[2], ids[1]},
		"?limit=1":   {ids[2]},
		"?limit=100": {ids[2], ids[1], ids[0]},
	} {
		open, recent := f.deployments(q)
		if open == nil || open["description"] != "open" {
			t.Fatalf("%s: open %v", q, open)
		}
		var got []string
		for _, d := range recent {
			got = append(got, d.(map[string]any)["id"].(string))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s: %v, want %v", q, got, want)
		}
	}
}

func TestDeploymentRefusals(t *testing.T) {
	f := newFIM(t)
	customer, staff, lister := f.bearer(customerID), f.bearer(staffID), f.bearer(listerID)
	begin := map[string]any{"action": "begin", "description": "release"}
	end := map[string]any{"action": "end"}

	for name, rq := range map[string]func(bearer string) request{
		"GET":   func(b string) request { return request{method: "GET", path: deploymentsPath, bearer: b} },
		"begin": func(b string) request { return f.post(b, deploymentsPath, begin) },
		"end":   func(b string) request { return f.post(b, deploymentsPath, end) },
	} {
		t.Run(name, func(t *testing.T) {
			r := rq(f.admin)
			r.bearer = ""
			f.refuseDeployment(t, r, http.StatusUnauthorized, "unauthenticated")
			if r := f.refuseDeployment(t, rq(customer), http.StatusForbidden, "forbidden"); r.body["message"] != "Staff account required" {
				t.Fatalf("%s", r.raw)
			}
			f.refuseDeployment(t, rq(staff), http.StatusForbidden, "forbidden")
			f.refuseDeployment(t, rq(lister), http.StatusForbidden, "forbidden")
			if name == "GET" {
				return
			}
			noToken := rq(f.admin)
			noToken.body = jsonBody(begin)
			f.refuseDeployment(t, noToken, http.StatusForbidden, "csrf_invalid")
			forged := rq(f.admin)
			forged.body = jsonBody(begin)
			forged.header = http.Header{"X-Csrf-Token": {randomHex(security.CSRFTokenLen)}}
			f.refuseDeployment(t, forged, http.StatusForbidden, "csrf_invalid")
			foreign := rq(lister) // a token of another session
			foreign.bearer = f.admin
			f.refuseDeployment(t, foreign, http.StatusForbidden, "csrf_invalid")
			plain := rq(f.admin)
			plain.contentType = "text/plain"
			f.refuseDeployment(t, plain, http.StatusUnsupportedMediaType, "unsupported_media_type")
			cross := rq(f.admin)
			cross.header = http.Header{"Sec-Fetch-Site": {"cross-site"}}
			f.refuseDeployment(t, cross, http.StatusForbidden, "cross_origin")
			query := rq(f.admin)
			query.path += "?limit=1"
			f.refuseDeployment(t, query, http.StatusBadRequest, "invalid_request")
		})
	}

	t.Run("405", func(t *testing.T) {
		for _, m := range []string{"PUT", "DELETE", "PATCH"} {
			r := f.refuseDeployment(t, request{method: m, path: deploymentsPath, bearer: f.admin, body: `{}`},
				http.StatusMethodNotAllowed, "method_not_allowed")
			if got := r.header.Get("Allow"); got != "GET, HEAD, POST" {
				t.Fatalf("%s: Allow = %q", m, got)
			}
		}
	})

	t.Run("bad query", func(t *testing.T) {
		for q, want := range map[string]string{
			"?limit=0": "limit", "?limit=101": "limit", "?limit=x": "limit", "?limit=01": "limit", "?limit=": "limit",
			"?limit=1&limit=1": "limit", "?page=1": "page", "?open=1": "open", "?%zz": "query",
		} {
			r := f.refuseDeployment(t, request{method: "GET", path: deploymentsPath + q, bearer: f.admin}, http.StatusBadRequest, "invalid_request")
			if msg := r.body["message"].(string); !strings.Contains(msg, want) {
				t.Fatalf("%s: message %q does not name %q", q, msg, want)
			}
		}
	})

	t.Run("bad body", func(t *testing.T) {
		// One token for every case: a 400 comes before the CSRF check.
		hdr := http.Header{"X-Csrf-Token": {f.csrfToken(f.admin)}}
		long := strings.Repeat("é", integrity.MaxDescriptionRunes+1)
		for name, c := range map[string]struct{ body, want string }{
			"bad JSON":             {`{`, "JSON"},
			"empty body":           {``, "JSON"},
			"array":                {`["begin"]`, "object"},
			"no action":            {`{"description":"x"}`, "action"},
			"null action":          {`{"action":null}`, "action"},
			"empty action":         {`{"action":""}`, "action"},
			"unknown action":       {`{"action":"restart"}`, "action"},
			"upper-case action":    {`{"action":"BEGIN","description":"x"}`, "action"},
			"action number":        {`{"action":1}`, "action"},
			"unknown field":        {`{"action":"begin","description":"x","force":true}`, `"force"`},
			"case variant":         {`{"action":"begin","Description":"x"}`, "Description"},
			"duplicate":            {`{"action":"begin","description":"x","description":"y"}`, "description"},
			"missing description":  {`{"action":"begin"}`, "description"},
			"null description":     {`{"action":"begin","description":null}`, "description"},
			"number description":   {`{"action":"begin","description":12}`, "description"},
			"blank description":    {`{"action":"begin","description":" \t\n "}`, "description: is required"},
			"empty description":    {`{"action":"begin","description":""}`, "description: is required"},
			"overlong description": {`{"action":"begin","description":"` + long + `"}`, "at most 500 characters"},
			"description on end":   {`{"action":"end","description":"x"}`, `"description"`},
			"csrf number":          {`{"action":"end","csrf_token":1}`, "csrf_token"},
			"alert_id on end":      {`{"action":"end","alert_id":1}`, "alert_id"},
		} {
			t.Run(name, func(t *testing.T) {
				r := f.refuseDeployment(t, request{method: "POST", path: deploymentsPath, bearer: f.admin, body: c.body,
					header: hdr, contentType: "application/json"}, http.StatusBadRequest, "invalid_request")
				if msg := r.body["message"].(string); !strings.Contains(msg, c.want) {
					t.Fatalf("message %q does not name %q", msg, c.want)
				}
			})
		}
		// The token survived every 400; 500 characters are fine.
		f.do(request{method: "POST", path: deploymentsPath, bearer: f.admin, header: hdr,
			body: jsonBody(map[string]any{"action": "begin", "description": long[len("é"):]})}).ok(t, "Deployment started")
		f.deploy(end).ok(t, "Deployment ended")
	})

	t.Run("disabled", func(t *testing.T) {
		e := newEnv(t)
		admin := e.bearer(adminID)
		e.refuse(t, request{method: "GET", path: deploymentsPath, bearer: admin}, http.StatusNotFound, "not_found")
		e.refuse(t, request{method: "POST", path: deploymentsPath, bearer: admin,
			body: jsonBody(map[string]any{"action": "end", "csrf_token": e.csrfToken(admin)})}, http.StatusNotFound, "not_found")
	})
}

// A stored window that fails verification (written to the database
// directly) is reported as such, not trusted.
func TestDeploymentForged(t *testing.T) {
	f := newFIM(t)
	if err := f.store.BeginDeployment(t.Context(), integrity.Deployment{ID: "dep_forged", StartedAt: f.clock.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	r := f.refuseDeployment(t, request{method: "GET", path: deploymentsPath, bearer: f.admin}, http.StatusConflict, "conflict")
	if !strings.Contains(r.body["message"].(string), "failed verification") {
		t.Fatalf("%s", r.raw)
	}
	r = f.refuseDeployment(t, f.post(f.admin, deploymentsPath, map[string]any{"action": "end"}), http.StatusConflict, "conflict")
	if !strings.Contains(r.body["message"].(string), "failed verification") {
		t.Fatalf("%s", r.raw)
	}
}

// Ignoring (status 2) mirrors resolving (status 1): one or many alerts,
// all or nothing, audited per alert whose status changes.
func TestIgnoreAlerts(t *testing.T) {
	f := newFIM(t)
	got := f.changeThree()
	index, newSh, old := ids(got["index.php"])[0], ids(got["new.sh"])[0], ids(got["old.txt"])[0]
	status := func(id int64) integrity.Status {
		t.Helper()
		a, err := f.mon.Alert(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return a.Status
	}
	// changes lists the events of type typ recorded since n events, as
	// "alert_id from".
	changes := func(n int, typ security.EventType) []string {
		t.Helper()
		evs, err := f.mem.Events(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ev := range evs[n:] {
			if ev.Type != typ {
				continue
			}
			if ev.ActorUserID != adminID || ev.ActorSessionID == "" || ev.IP == "" {
				t.Fatalf("event without its actor: %+v", ev)
			}
			out = append(out, ev.Details["alert_id"]+" "+ev.Details["from"])
		}
		return out
	}
	count := func() int { return len(f.snap().Events) }

	n := count()
	f.do(f.post(f.admin, "/api/security/ignore-alert", map[string]any{"alert_id": index})).ok(t, "Alert ignored")
	if status(index) != integrity.StatusIgnored || fmt.Sprint(changes(n, integrity.EventAlertIgnored)) != fmt.Sprintf("[%d new]", index) {
		t.Fatalf("ignore: %v %v", status(index), changes(n, integrity.EventAlertIgnored))
	}
	if l := f.alerts("?status=2").list(); len(l) != 1 || l[0].(map[string]any)["id"] != float64(index) {
		t.Fatalf("ignored list: %v", l)
	}

	// Again: fine, nothing changes, nothing is recorded.
	n = count()
	f.do(f.post(f.admin, "/api/security/ignore-alert", map[string]any{"alert_id": index})).ok(t, "Alert ignored")
	if c := changes(n, integrity.EventAlertIgnored); len(c) != 0 {
		t.Fatalf("ignoring an ignored alert recorded %v", c)
	}

	// An ignored alert can be resolved, and a resolved one ignored: each is
	// a change of status, recorded with the status it had.
	n = count()
	f.do(f.post(f.admin, "/api/security/resolve-alert", map[string]any{"alert_id": index})).ok(t, "Alert resolved")
	if status(index) != integrity.StatusResolved || fmt.Sprint(changes(n, integrity.EventAlertResolved)) != fmt.Sprintf("[%d ignored]", index) {
		t.Fatalf("resolve an ignored alert: %v", status(index))
	}
	n = count()
	f.do(f.post(f.admin, "/api/security/ignore-alert", map[string]any{"alert_id": index})).ok(t, "Alert ignored")
	if status(index) != integrity.StatusIgnored || fmt.Sprint(changes(n, integrity.EventAlertIgnored)) != fmt.Sprintf("[%d resolved]", index) {
		t.Fatalf("ignore a resolved alert: %v", status(index))
	}

	// Unknown ids: 404, nothing changed, as for resolve.
	r := f.refuseDeployment(t, f.post(f.admin, "/api/security/ignore-alert", map[string]any{"alert_id": 999}), http.StatusNotFound, "not_found")
	if r.body["message"] != "Alert not found" {
		t.Fatalf("%s", r.raw)
	}
	r = f.refuseDeployment(t, f.post(f.admin, "/api/security/bulk-ignore-alerts", map[string]any{"alert_ids": []int64{newSh, 999, old, 77}}),
		http.StatusNotFound, "not_found")
	if r.body["message"] != "Unknown alert id(s): 77, 999" {
		t.Fatalf("%s", r.raw)
	}

	// Bulk: duplicates count once, already-ignored ones count, changes are
	// recorded per alert.
	n = count()
	f.do(f.post(f.admin, "/api/security/bulk-ignore-alerts", map[string]any{"alert_ids": []int64{newSh, index, old, newSh}})).
		ok(t, "3 alert(s) ignored")
	want := fmt.Sprintf("[%d new %d new]", min(newSh, old), max(newSh, old))
	if c := changes(n, integrity.EventAlertIgnored); fmt.Sprint(c) != want {
		t.Fatalf("bulk ignore recorded %v, want %v", c, want)
	}
	if r := f.alerts("?status=2"); r.body["total"] != 3.0 {
		t.Fatalf("ignored: %s", r.raw)
	}
	// The most ids a request takes, all the same alert.
	many := make([]int64, integrity.MaxBulkIDs)
	for i := range many {
		many[i] = old
	}
	f.do(f.post(f.admin, "/api/security/bulk-ignore-alerts", map[string]any{"alert_ids": many})).ok(t, "1 alert(s) ignored")

	// An ignored change is not raised again; a further change is.
	if p := f.scan(); p["violations_found"] != 0.0 {
		t.Fatalf("rescan: %v", p)
	}
	f.write("index.php", "<?php\nagain();\n")
	if p := f.scan(); p["violations_found"] != 1.0 {
		t.Fatalf("a further change: %v", p)
	}
}
