package httpadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/internal/pgtest"
	"github.com/propops/propsec/memstore"
	"github.com/propops/propsec/pgstore"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// gateStore is the env's memstore as the Monitor's Store. It can hold the
// next scan at its start (its first store call, Deployment) until released,
// so that a check stays running as long as a test needs.
type gateStore struct {
	*memstore.Store

	mu   sync.Mutex
	hold chan struct{} // closed by release; nil: nothing held
	held chan struct{} // closed once a scan waits on hold
}

func (g *gateStore) Deployment(ctx context.Context) (integrity.Deployment, error) {
	g.mu.Lock()
	hold, held := g.hold, g.held
	g.hold = nil
	g.mu.Unlock()
	if hold != nil {
		close(held)
		select {
		case <-hold:
		case <-ctx.Done():
			return integrity.Deployment{}, ctx.Err()
		}
	}
	return g.Store.Deployment(ctx)
}

// holdNext makes the next scan wait at its start; release lets it go (or
// disarms the hold if no scan came).
func (g *gateStore) holdNext() (held <-chan struct{}, release func()) {
	hold, h := make(chan struct{}), make(chan struct{})
	g.mu.Lock()
	g.hold, g.held = hold, h
	g.mu.Unlock()
	var once sync.Once
	return h, func() {
		once.Do(func() {
			g.mu.Lock()
			if g.hold == hold {
				g.hold = nil
			}
			g.mu.Unlock()
			close(hold)
		})
	}
}

var integrityKey = []byte("a 32-byte integrity key for test")

// fimEnv is an env whose handler serves the file-integrity endpoints for a
// Monitor watching a temporary directory, with its baseline recorded.
type fimEnv struct {
	*env
	root  string
	store *gateStore
	mon   *integrity.Monitor
	admin string // a bearer token of adminID
}

// The tree every fimEnv starts with.
var fimFiles = map[string]string{
	"index.php":     "<?php\necho 'hello';\n",
	"config.yml":    "debug: false\n",
	"notes.txt":     "one\ntwo\nthree\n",
	"old.txt":       "first\nsecond\n",
	"lib/util.js":   "export const x = 1;\n",
	"lib/README.md": "docs\n",
}

func newFIM(t *testing.T, opts ...envOption) *fimEnv {
	t.Helper()
	return newFIMWith(t, nil, opts...)
}

// newFIMWith is newFIM with the Monitor's config changed by mod (if not nil).
func newFIMWith(t *testing.T, mod func(*integrity.Config), opts ...envOption) *fimEnv {
	t.Helper()
	f := &fimEnv{root: t.TempDir()}
	withIntegrity := func(s *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		f.store = &gateStore{Store: s.Store.(*memstore.Store)}
		cfg := integrity.Config{Store: f.store, Host: "web-1", Key: integrityKey,
			Roots: []string{f.root}, Clock: s.Clock, Workers: 2}
		if mod != nil {
			mod(&cfg)
		}
		mon, err := integrity.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mon.Close() })
		f.mon, h.Integrity = mon, mon
	}
	f.env = newEnv(t, append(opts, withIntegrity)...)
	for p, c := range fimFiles {
		f.write(p, c)
	}
	if _, err := f.mon.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.admin = f.bearer(adminID)
	return f
}

func (f *fimEnv) write(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fimEnv) remove(rel string) {
	f.t.Helper()
	if err := os.Remove(filepath.Join(f.root, filepath.FromSlash(rel))); err != nil {
		f.t.Fatal(err)
	}
}

// post is a POST to path as bearer with a body of fields and a fresh CSRF
// token.
func (f *fimEnv) post(bearer, path string, fields map[string]any) request {
	f.t.Helper()
	body := map[string]any{"csrf_token": f.csrfToken(bearer)}
	for k, v := range fields {
		body[k] = v
	}
	return request{method: "POST", path: path, bearer: bearer, body: jsonBody(body)}
}

func (f *fimEnv) get(path string) response {
	f.t.Helper()
	return f.do(request{method: "GET", path: path, bearer: f.admin})
}

// start starts a check through the API and returns its id.
func (f *fimEnv) start() string {
	f.t.Helper()
	r := f.do(f.post(f.admin, "/api/security/run-integrity-check", nil))
	r.ok(f.t, "File integrity check started")
	id, _ := r.data()["check_id"].(string)
	if !security.ValidID(integrity.CheckIDPrefix, id) || r.data()["status"] != "running" || len(r.data()) != 2 {
		f.t.Fatalf("started: %s", r.raw)
	}
	return id
}

func (f *fimEnv) progress(id string) response {
	f.t.Helper()
	return f.get("/api/security/file-integrity-progress?check_id=" + id)
}

// wait polls the progress of check id until it has finished, and returns
// its last progress.
func (f *fimEnv) wait(id string) map[string]any {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := f.progress(id)
		r.ok(f.t, "Check progress retrieved")
		if r.data()["status"] != "running" {
			return r.data()
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("check %s still running: %s", id, r.raw)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// scan runs a check through the API to its end and returns its progress.
func (f *fimEnv) scan() map[string]any {
	f.t.Helper()
	p := f.wait(f.start())
	if p["status"] != "complete" {
		f.t.Fatalf("check: %v", p)
	}
	return p
}

// alerts lists the alerts with query (starting "?" or empty).
func (f *fimEnv) alerts(query string) response {
	f.t.Helper()
	r := f.get("/api/security/file-integrity-alerts" + query)
	r.ok(f.t, "Alerts retrieved")
	return r
}

// byPath returns the listed alerts by their path relative to the root.
func (f *fimEnv) byPath(r response) map[string]map[string]any {
	f.t.Helper()
	out := map[string]map[string]any{}
	for _, x := range r.list() {
		a := x.(map[string]any)
		rel, err := filepath.Rel(f.root, a["file_path"].(string))
		if err != nil {
			f.t.Fatal(err)
		}
		out[filepath.ToSlash(rel)] = a
	}
	return out
}

func ids(alerts ...map[string]any) []int64 {
	out := make([]int64, len(alerts))
	for i, a := range alerts {
		out[i] = int64(a["id"].(float64))
	}
	return out
}

// changeThree modifies index.php, adds new.sh and deletes old.txt, scans,
// and returns the four alerts by path (the root's entries changed: ".").
func (f *fimEnv) changeThree() map[string]map[string]any {
	f.t.Helper()
	f.write("index.php", "<?php\nsystem($_GET['c']);\n")
	f.write("new.sh", "#!/bin/sh\nrm -rf /\n")
	f.remove("old.txt")
	if p := f.scan(); p["violations_found"] != 4.0 {
		f.t.Fatalf("progress %v", p)
	}
	got := f.byPath(f.alerts(""))
	if len(got) != 4 || got["index.php"] == nil || got["new.sh"] == nil || got["old.txt"] == nil || got["."] == nil {
		f.t.Fatalf("alerts %v", got)
	}
	return got
}

// fimSnapshot is the state a refused file-integrity request must leave
// alone: the env's, and every alert with its status.
type fimSnapshot struct {
	snapshot
	alerts []string
}

func (f *fimEnv) snap() fimSnapshot {
	f.t.Helper()
	list, _, err := f.store.ListAlerts(context.Background(), integrity.AlertQuery{Sort: integrity.SortCreatedAsc, Limit: 1 << 20})
	if err != nil {
		f.t.Fatal(err)
	}
	s := fimSnapshot{snapshot: f.env.snap()}
	for _, a := range list {
		s.alerts = append(s.alerts, fmt.Sprintf("%d:%d", a.ID, a.Status))
	}
	return s
}

// refuse sends rq and asserts that it is refused with status and code, that
// it changed nothing and that it started no check.
func (f *fimEnv) refuse(t *testing.T, rq request, status int, code string) response {
	t.Helper()
	before := f.snap()
	_, release := f.store.holdNext() // a check started now would stay running
	defer release()
	r := f.do(rq)
	r.refused(t, status, code)
	if c, running := f.mon.Current(); running {
		t.Fatalf("a refused request started check %s", c.ID)
	}
	after := f.snap()
	f.compare(t, before.snapshot, after.snapshot)
	if !slices.Equal(before.alerts, after.alerts) {
		t.Fatalf("a refused request changed the alerts:\nbefore %v\nafter  %v", before.alerts, after.alerts)
	}
	return r
}

func TestIntegrityFlow(t *testing.T) {
	f := newFIM(t)

	r := f.alerts("")
	if l := r.list(); l == nil || len(l) != 0 || r.body["total"] != 0.0 || r.body["page"] != 1.0 {
		t.Fatalf("empty list: %s", r.raw)
	}

	f.write("index.php", "<?php\nsystem($_GET['c']);\n")
	f.write("new.sh", "#!/bin/sh\nrm -rf /\n")
	f.remove("old.txt")
	id := f.start()
	p := f.wait(id)
	if p["check_id"] != id || p["status"] != "complete" || p["violations_found"] != 4.0 ||
		p["files_scanned"].(float64) < float64(len(fimFiles)) || p["files_total"].(float64) < float64(len(fimFiles)) ||
		p["started_at"] != "2024-06-14T10:00:00Z" || p["finished_at"] != "2024-06-14T10:00:00Z" || p["duration_ms"] != 0.0 {
		t.Fatalf("progress %v", p)
	}

	r = f.alerts("")
	if r.body["total"] != 4.0 || r.body["page"] != 1.0 || !strings.Contains(r.raw, `"total":4,"page":1`) {
		t.Fatalf("list: %s", r.raw)
	}
	got := f.byPath(r)
	for path, want := range map[string]struct{ change, severity, details string }{
		"index.php": {"modified", "critical", "hash"},
		"new.sh":    {"added", "critical", "new"},
		"old.txt":   {"deleted", "medium", "deleted"},
		".":         {"metadata", "low", "entries added, removed or renamed"},
	} {
		a := got[path]
		if a == nil {
			t.Fatalf("no alert for %s: %s", path, r.raw)
		}
		if a["alert_type"] != "file_integrity_violation" || a["change"] != want.change || a["severity"] != want.severity ||
			a["status"] != 0.0 || !strings.Contains(a["details"].(string), want.details) ||
			a["created_at"] != "2024-06-14T10:00:00Z" || a["check_id"] != id || a["id"].(float64) < 1 ||
			a["file_path"] != filepath.Join(f.root, path) || a["host"] != "web-1" || len(a) != 10 {
			t.Errorf("%s: %v", path, a)
		}
	}

	t.Run("diff", func(t *testing.T) {
		r := f.get(fmt.Sprintf("/api/security/file-diff?alert_id=%d", ids(got["index.php"])[0]))
		r.ok(t, "Diff generated")
		d := r.data()
		want := "--- a/index.php\n+++ b/index.php\n@@ -1,2 +1,2 @@\n <?php\n-echo 'hello';\n+system($_GET['c']);\n"
		if d["diff"] != want || d["lines_added"] != 1.0 || d["lines_removed"] != 1.0 || d["binary"] != false ||
			d["file_path"] != filepath.Join(f.root, "index.php") || len(d) != 5 {
			t.Fatalf("%s", r.raw)
		}
		r = f.get(fmt.Sprintf("/api/security/file-diff?alert_id=%d", ids(got["old.txt"])[0]))
		r.ok(t, "Diff generated")
		if d := r.data(); d["lines_added"] != 0.0 || d["lines_removed"] != 2.0 || !strings.Contains(d["diff"].(string), "-second\n") {
			t.Fatalf("%s", r.raw)
		}
		r = f.get(fmt.Sprintf("/api/security/file-diff?alert_id=%d", ids(got["new.sh"])[0]))
		r.ok(t, "Diff generated")
		if d := r.data(); d["lines_added"] != 2.0 || d["lines_removed"] != 0.0 {
			t.Fatalf("%s", r.raw)
		}
	})

	resolvedBefore := f.eventsOf(integrity.EventAlertResolved)
	f.do(f.post(f.admin, "/api/security/resolve-alert", map[string]any{"alert_id": ids(got["index.php"])[0]})).
		ok(t, "Alert resolved")
	if l := f.alerts("?status=1").list(); len(l) != 1 || l[0].(map[string]any)["file_path"] != filepath.Join(f.root, "index.php") {
		t.Fatalf("resolved: %v", l)
	}
	// Resolving again is fine and changes nothing.
	f.do(f.post(f.admin, "/api/security/resolve-alert", map[string]any{"alert_id": ids(got["index.php"])[0]})).
		ok(t, "Alert resolved")

	f.do(f.post(f.admin, "/api/security/bulk-resolve-alerts", map[string]any{"alert_ids": ids(got["new.sh"], got["old.txt"], got["new.sh"])})).
		ok(t, "2 alert(s) resolved")
	if r := f.alerts("?status=1"); r.body["total"] != 3.0 {
		t.Fatalf("resolved: %s", r.raw)
	}
	if n := f.eventsOf(integrity.EventAlertResolved) - resolvedBefore; n != 3 {
		t.Fatalf("%d resolve events", n)
	}
	events, _ := f.mem.Events(context.Background())
	for _, ev := range events {
		if ev.Type == integrity.EventAlertResolved && (ev.ActorUserID != adminID || ev.ActorSessionID == "" || ev.IP == "") {
			t.Fatalf("event without its actor: %+v", ev)
		}
	}

	f.do(f.post(f.admin, "/api/security/bulk-delete-alerts", map[string]any{"alert_ids": ids(got["index.php"], got["new.sh"], got["old.txt"], got["."])})).
		ok(t, "4 alert(s) deleted")
	if r := f.alerts(""); r.body["total"] != 0.0 || len(r.list()) != 0 {
		t.Fatalf("after delete: %s", r.raw)
	}
	if n := f.eventsOf(integrity.EventAlertDeleted); n != 4 {
		t.Fatalf("%d delete events", n)
	}

	// The same changed state raises nothing new.
	if p := f.scan(); p["violations_found"] != 0.0 {
		t.Fatalf("rescan: %v", p)
	}

	t.Run("cookie session", func(t *testing.T) {
		web, _ := f.login(adminID, session.KindWeb)
		rq := request{method: "GET", path: "/api/security/file-integrity-alerts", cookie: web}
		f.do(rq).ok(t, "Alerts retrieved")
		r := f.do(request{method: "POST", path: "/api/security/run-integrity-check", cookie: web,
			body: jsonBody(map[string]string{"csrf_token": f.csrfTokenFor(request{cookie: web})})})
		r.ok(t, "File integrity check started")
		f.wait(r.data()["check_id"].(string))
	})
}

func TestIntegrityDiffKinds(t *testing.T) {
	f := newFIM(t)
	f.write("notes.txt", strings.Repeat("x", integrity.DefaultMaxDiffBytes)+"\n")
	f.write("lib/README.md", "docs\x00\x01\x02\n")
	if err := os.Chmod(filepath.Join(f.root, "config.yml"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.scan()
	got := f.byPath(f.alerts(""))
	if len(got) != 3 {
		t.Fatalf("%v", got)
	}
	diff := func(path string) response {
		return f.get(fmt.Sprintf("/api/security/file-diff?alert_id=%d", ids(got[path])[0]))
	}

	over := fmt.Sprintf("not diffed: over %d bytes", integrity.DefaultMaxDiffBytes)
	r := diff("notes.txt")
	r.ok(t, over)
	if d := r.data(); d["diff"] != over || d["binary"] != false || d["lines_added"] != 0.0 {
		t.Fatalf("%s", r.raw)
	}
	r = diff("lib/README.md")
	r.ok(t, "Diff generated")
	if d := r.data(); d["diff"] != "Binary files differ" || d["binary"] != true {
		t.Fatalf("%s", r.raw)
	}
	r = diff("config.yml")
	r.ok(t, "File content unchanged")
	if d := r.data(); d["diff"] != "" || got["config.yml"]["change"] != "metadata" {
		t.Fatalf("%s %v", r.raw, got["config.yml"])
	}
}

func TestIntegrityListFilters(t *testing.T) {
	f := newFIM(t)
	ctx := context.Background()
	// First check, at 10:00: critical, high, medium.
	f.write("index.php", "<?php\n")
	f.write("config.yml", "debug: true\n")
	f.write("notes.txt", "changed\n")
	f.scan()
	// Second check, at 10:01: medium, critical, medium, medium.
	f.clock.Advance(time.Minute)
	f.write("a.txt", "a\n")
	f.write("b.sh", "b\n")
	f.write("c.txt", "c\n")
	f.remove("old.txt")
	f.scan()
	all := f.alerts("?limit=100") // and the root's, low: its entries changed (".")
	if all.body["total"] != 8.0 || len(all.list()) != 8 {
		t.Fatalf("%s", all.raw)
	}
	byPath := f.byPath(all)
	f.do(f.post(f.admin, "/api/security/bulk-resolve-alerts", map[string]any{"alert_ids": ids(byPath["index.php"], byPath["a.txt"])})).
		ok(t, "2 alert(s) resolved")
	if _, err := f.mon.IgnoreAlerts(ctx, integrity.Actor{}, ids(byPath["c.txt"])...); err != nil {
		t.Fatal(err)
	}

	paths := func(r response) []string {
		var out []string
		for _, x := range r.list() {
			rel, _ := filepath.Rel(f.root, x.(map[string]any)["file_path"].(string))
			out = append(out, filepath.ToSlash(rel))
		}
		return out
	}
	for q, want := range map[string][]string{
		// Newest first, ties by id, newest first.
		"":                        {"old.txt", "c.txt", "b.sh", "a.txt", ".", "notes.txt", "index.php", "config.yml"},
		"?sortBy=created_at_desc": {"old.txt", "c.txt", "b.sh", "a.txt", ".", "notes.txt", "index.php", "config.yml"},
		"?sortBy=created_at_asc":  {"config.yml", "index.php", "notes.txt", ".", "a.txt", "b.sh", "c.txt", "old.txt"},
		"?sortBy=severity_desc":   {"b.sh", "index.php", "config.yml", "old.txt", "c.txt", "a.txt", "notes.txt", "."},
		"?status=0":               {"old.txt", "b.sh", ".", "notes.txt", "config.yml"},
		"?status=1":               {"a.txt", "index.php"},
		"?status=2":               {"c.txt"},
		"?severity=critical":      {"b.sh", "index.php"},
		"?severity=high":          {"config.yml"},
		"?severity=medium":        {"old.txt", "c.txt", "a.txt", "notes.txt"},
		"?severity=low":           {"."},
		"?status=0&severity=medium&sortBy=created_at_asc": {"notes.txt", "old.txt"},
		"?limit=2":                       {"old.txt", "c.txt"},
		"?limit=2&page=2":                {"b.sh", "a.txt"},
		"?page=4&limit=2":                {"index.php", "config.yml"},
		"?page=5&limit=2":                nil,
		"?limit=1&sortBy=created_at_asc": {"config.yml"},
		"?limit=100&page=1":              {"old.txt", "c.txt", "b.sh", "a.txt", ".", "notes.txt", "index.php", "config.yml"},
		"?page=1073741824":               nil,
	} {
		t.Run(q, func(t *testing.T) {
			r := f.alerts(q)
			if got := paths(r); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
	for q, want := range map[string]struct{ total, page float64 }{
		"?limit=2&page=3":             {8, 3},
		"?status=0&limit=1":           {5, 1},
		"?severity=critical&page=9":   {2, 9},
		"?status=2&severity=critical": {0, 1},
	} {
		t.Run("total "+q, func(t *testing.T) {
			r := f.alerts(q)
			if r.body["total"] != want.total || r.body["page"] != want.page {
				t.Fatalf("%s", r.raw)
			}
		})
	}
}

// integrityRoutes are a valid request to every file-integrity endpoint,
// without credential or CSRF token (fields go in the body, with the token,
// by [fimEnv.post]).
func integrityRoutes() map[string]struct {
	method, path string
	fields       map[string]any
} {
	type route = struct {
		method, path string
		fields       map[string]any
	}
	return map[string]route{
		"list":     {"GET", "/api/security/file-integrity-alerts?status=0", nil},
		"resolve":  {"POST", "/api/security/resolve-alert", map[string]any{"alert_id": 1}},
		"bulk":     {"POST", "/api/security/bulk-resolve-alerts", map[string]any{"alert_ids": []int{1, 2}}},
		"ignore":   {"POST", "/api/security/ignore-alert", map[string]any{"alert_id": 1}},
		"bulk ign": {"POST", "/api/security/bulk-ignore-alerts", map[string]any{"alert_ids": []int{1, 2}}},
		"delete":   {"POST", "/api/security/bulk-delete-alerts", map[string]any{"alert_ids": []int{1, 2}}},
		"run":      {"POST", "/api/security/run-integrity-check", map[string]any{}},
		"progress": {"GET", "/api/security/file-integrity-progress?check_id=chk_aaaaaaaaaaaaaaaaaaaa", nil},
		"diff":     {"GET", "/api/security/file-diff?alert_id=1", nil},
	}
}

// request returns the request for route as bearer, with a fresh CSRF token
// for a POST.
func (f *fimEnv) request(bearer string, rt struct {
	method, path string
	fields       map[string]any
}) request {
	f.t.Helper()
	if rt.method == "POST" {
		return f.post(bearer, rt.path, rt.fields)
	}
	return request{method: rt.method, path: rt.path, bearer: bearer}
}

func TestIntegrityRefusals(t *testing.T) {
	f := newFIM(t)
	f.changeThree()
	customer := f.bearer(customerID)
	staff := f.bearer(staffID)
	lister := f.bearer(listerID)

	for name, rt := range integrityRoutes() {
		t.Run("401/"+name, func(t *testing.T) {
			rq := request{method: rt.method, path: rt.path}
			if rt.method == "POST" {
				rq.body = jsonBody(rt.fields)
			}
			f.refuse(t, rq, http.StatusUnauthorized, "unauthenticated")
			rq.bearer = security.NewToken()
			f.refuse(t, rq, http.StatusUnauthorized, "unauthenticated")
		})
		t.Run("403 non-staff/"+name, func(t *testing.T) {
			r := f.refuse(t, f.request(customer, rt), http.StatusForbidden, "forbidden")
			if r.body["message"] != "Staff account required" {
				t.Fatalf("%s", r.raw)
			}
		})
		for who, bearer := range map[string]string{"staff": staff, "lister": lister} {
			t.Run("403 permission "+who+"/"+name, func(t *testing.T) {
				f.refuse(t, f.request(bearer, rt), http.StatusForbidden, "forbidden")
			})
		}
		if rt.method == "POST" {
			t.Run("403 CSRF/"+name, func(t *testing.T) {
				rq := f.request(f.admin, rt)
				rq.body = jsonBody(rt.fields)
				f.refuse(t, rq, http.StatusForbidden, "csrf_invalid")
				rq = f.request(f.admin, rt)
				rq.header = http.Header{"X-Csrf-Token": {randomHex(security.CSRFTokenLen)}}
				f.refuse(t, rq, http.StatusForbidden, "csrf_invalid")
				rq = f.request(lister, rt) // a token of another session
				rq.bearer = f.admin
				f.refuse(t, rq, http.StatusForbidden, "csrf_invalid")
			})
			t.Run("415/"+name, func(t *testing.T) {
				for _, ct := range []string{"-", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"} {
					rq := f.request(f.admin, rt)
					rq.contentType = ct
					f.refuse(t, rq, http.StatusUnsupportedMediaType, "unsupported_media_type")
				}
			})
			t.Run("cross-origin/"+name, func(t *testing.T) {
				rq := f.request(f.admin, rt)
				rq.header = http.Header{"Sec-Fetch-Site": {"cross-site"}}
				f.refuse(t, rq, http.StatusForbidden, "cross_origin")
			})
		}
		t.Run("405/"+name, func(t *testing.T) {
			path, _, _ := strings.Cut(rt.path, "?")
			others := []string{"PUT", "DELETE", "PATCH"}
			if rt.method == "GET" {
				others = append(others, "POST")
			} else {
				others = append(others, "GET")
			}
			allow := rt.method
			if rt.method == "GET" {
				allow = "GET, HEAD"
			}
			for _, m := range others {
				for _, bearer := range []string{"", f.admin} {
					r := f.refuse(t, request{method: m, path: path, bearer: bearer, body: `{}`}, http.StatusMethodNotAllowed, "method_not_allowed")
					if got := r.header.Get("Allow"); got != allow {
						t.Fatalf("%s: Allow = %q", m, got)
					}
				}
			}
		})
	}

	t.Run("check order", func(t *testing.T) {
		// A bad query from a staff user without the permission is a 400, as
		// for the session endpoints: permissions are checked at the domain
		// call, after validation and the CSRF check.
		f.refuse(t, request{method: "GET", path: "/api/security/file-integrity-alerts?limit=0", bearer: staff}, http.StatusBadRequest, "invalid_request")
		f.refuse(t, request{method: "POST", path: "/api/security/resolve-alert", bearer: staff, body: `{"alert_id":1}`}, http.StatusForbidden, "csrf_invalid")
		f.refuse(t, request{method: "POST", path: "/api/security/resolve-alert", bearer: customer, body: `{`}, http.StatusForbidden, "forbidden")
		f.refuse(t, request{method: "POST", path: "/api/security/resolve-alert", bearer: f.admin, body: `{"alert_id":0}`}, http.StatusBadRequest, "invalid_request")
		f.refuse(t, request{method: "POST", path: "/api/security/resolve-alert", bearer: f.admin, body: `{"alert_id":999}`}, http.StatusForbidden, "csrf_invalid")
	})
}

func TestIntegrityNotFound(t *testing.T) {
	f := newFIM(t)
	got := f.changeThree()
	known := ids(got["index.php"], got["new.sh"])

	for name, c := range map[string]struct {
		rq      request
		message string
	}{
		"resolve":         {f.post(f.admin, "/api/security/resolve-alert", map[string]any{"alert_id": 999}), "Alert not found"},
		"bulk resolve":    {f.post(f.admin, "/api/security/bulk-resolve-alerts", map[string]any{"alert_ids": append(known, 999, 77)}), "Unknown alert id(s): 77, 999"},
		"bulk delete":     {f.post(f.admin, "/api/security/bulk-delete-alerts", map[string]any{"alert_ids": append(known, 1<<62)}), fmt.Sprintf("Unknown alert id(s): %d", int64(1)<<62)},
		"progress":        {request{method: "GET", path: "/api/security/file-integrity-progress?check_id=" + security.NewID(integrity.CheckIDPrefix), bearer: f.admin}, "Check not found"},
		"diff":            {request{method: "GET", path: "/api/security/file-diff?alert_id=999", bearer: f.admin}, "Alert not found"},
		"unknown path":    {request{method: "GET", path: "/api/security/file-integrity-alerts/1", bearer: f.admin}, "Not found"},
		"unknown sibling": {request{method: "POST", path: "/api/security/bulk-reopen-alerts", bearer: f.admin, body: `{}`}, "Not found"},
	} {
		t.Run(name, func(t *testing.T) {
			r := f.refuse(t, c.rq, http.StatusNotFound, "not_found")
			if r.body["message"] != c.message {
				t.Fatalf("%s", r.raw)
			}
		})
	}
	t.Run("many unknown", func(t *testing.T) {
		many := make([]int64, integrity.MaxBulkIDs)
		for i := range many {
			many[i] = int64(1000 + i)
		}
		r := f.refuse(t, f.post(f.admin, "/api/security/bulk-delete-alerts", map[string]any{"alert_ids": many}), http.StatusNotFound, "not_found")
		if msg := r.body["message"].(string); !strings.HasPrefix(msg, "Unknown alert id(s): 1000, 1001, ") || !strings.HasSuffix(msg, ", 1019 and 980 more") {
			t.Fatalf("%q", msg)
		}
	})
	t.Run("deleted alert", func(t *testing.T) {
		f.do(f.post(f.admin, "/api/security/bulk-delete-alerts", map[string]any{"alert_ids": ids(got["old.txt"])})).ok(t, "1 alert(s) deleted")
		for _, rq := range []request{
			f.post(f.admin, "/api/security/resolve-alert", map[string]any{"alert_id": ids(got["old.txt"])[0]}),
			{method: "GET", path: fmt.Sprintf("/api/security/file-diff?alert_id=%d", ids(got["old.txt"])[0]), bearer: f.admin},
		} {
			f.refuse(t, rq, http.StatusNotFound, "not_found")
		}
	})
}

func TestIntegrityBadQuery(t *testing.T) {
	f := newFIM(t)
	f.changeThree()
	for path, cases := range map[string]map[string]string{
		"/api/security/file-integrity-alerts": {
			"?status=3":                          "status",
			"?status=-1":                         "status",
			"?status=00":                         "status",
			"?status=new":                        "status",
			"?status=":                           "status",
			"?status=0&status=1":                 "status",
			"?status=+1":                         "status",
			"?severity=CRITICAL":                 "severity",
			"?severity=info":                     "severity",
			"?severity=":                         "severity",
			"?severity=high&severity=high":       "severity",
			"?sortBy=created_at":                 "sortBy",
			"?sortBy=severity_asc":               "sortBy",
			"?sortBy=CREATED_AT_DESC":            "sortBy",
			"?sortBy=":                           "sortBy",
			"?sortby=created_at_asc":             "sortby",
			"?sort_by=created_at_asc":            "sort_by",
			"?page=0":                            "page",
			"?page=-1":                           "page",
			"?page=01":                           "page",
			"?page=1.5":                          "page",
			"?page=":                             "page",
			"?page=1073741825":                   "page",
			"?page=99999999999999999999":         "page",
			"?limit=0":                           "limit",
			"?limit=101":                         "limit",
			"?limit=-5":                          "limit",
			"?limit=1e2":                         "limit",
			"?limit=":                            "limit",
			"?limit=10&limit=10":                 "limit",
			"?status=0&foo=1":                    "foo",
			"?Status=0":                          "Status",
			"?%zz=1":                             "query",
			"?status=0;limit=2":                  "query",
			"?check_id=chk_aaaaaaaaaaaaaaaaaaaa": "check_id",
		},
		"/api/security/file-integrity-progress": {
			"":                                      "check_id",
			"?check_id=":                            "check_id",
			"?check_id=chk_a1b2c3":                  "check_id",
			"?check_id=CHK_AAAAAAAAAAAAAAAAAAAA":    "check_id",
			"?check_id=sess_aaaaaaaaaaaaaaaaaaaa":   "check_id",
			"?check_id=chk_aaaaaaaaaaaaaaaaaaa1":    "check_id", // '1' is not base32
			"?check_id=chk_aaaaaaaaaaaaaaaaaaaaa":   "check_id",
			"?check_id=chk_aaaaaaaaaaaaaaaaaaaa&x=": "x",
			"?check_id=chk_aaaaaaaaaaaaaaaaaaaa&check_id=chk_aaaaaaaaaaaaaaaaaaaa": "check_id",
		},
		"/api/security/file-diff": {
			"":                              "alert_id",
			"?alert_id=":                    "alert_id",
			"?alert_id=0":                   "alert_id",
			"?alert_id=-1":                  "alert_id",
			"?alert_id=x":                   "alert_id",
			"?alert_id=1.0":                 "alert_id",
			"?alert_id=01":                  "alert_id",
			"?alert_id=1&alert_id=1":        "alert_id",
			"?alert_id=1&context=5":         "context",
			"?alert_id=9223372036854775808": "alert_id",
		},
	} {
		for q, want := range cases {
			t.Run(path+q, func(t *testing.T) {
				r := f.refuse(t, request{method: "GET", path: path + q, bearer: f.admin}, http.StatusBadRequest, "invalid_request")
				if msg := r.body["message"].(string); !strings.Contains(msg, want) {
					t.Fatalf("message %q does not name %q", msg, want)
				}
			})
		}
	}
	for name, rt := range integrityRoutes() {
		if rt.method != "POST" {
			continue
		}
		t.Run("query on POST "+name, func(t *testing.T) {
			rq := f.request(f.admin, rt)
			rq.path += "?alert_id=1"
			f.refuse(t, rq, http.StatusBadRequest, "invalid_request")
		})
	}
}

// The alert status endpoints that take one alert_id, and those that take
// alert_ids.
var (
	singlePaths = []string{"/api/security/resolve-alert", "/api/security/ignore-alert"}
	bulkPaths   = []string{"/api/security/bulk-resolve-alerts", "/api/security/bulk-ignore-alerts", "/api/security/bulk-delete-alerts"}
)

func TestIntegrityBadBody(t *testing.T) {
	f := newFIM(t)
	got := f.changeThree()
	id := ids(got["index.php"])[0]
	// One token for every case: a 400 comes before the CSRF check.
	csrf := f.csrfToken(f.admin)
	hdr := http.Header{"X-Csrf-Token": {csrf}}
	tooMany := "[" + strings.Repeat("1,", integrity.MaxBulkIDs) + "1]"
	atMost := "[" + strings.Repeat(fmt.Sprint(id)+",", integrity.MaxBulkIDs-1) + fmt.Sprint(id) + "]"

	bulk := map[string]struct{ ids, want string }{
		"missing":        {"", "alert_ids"},
		"empty":          {`[]`, "alert_ids"},
		"null":           {`null`, "alert_ids"},
		"number":         {`1`, "alert_ids"},
		"string":         {`"1,2"`, "alert_ids"},
		"object":         {`{"0":1}`, "alert_ids"},
		"float":          {`[1.0]`, "alert_ids"},
		"fraction":       {`[1, 2.5]`, "alert_ids"},
		"exponent":       {`[1e2]`, "alert_ids"},
		"string id":      {`["1"]`, "alert_ids"},
		"null id":        {`[1, null]`, "alert_ids"},
		"bool id":        {`[true]`, "alert_ids"},
		"nested":         {`[[1]]`, "alert_ids"},
		"object id":      {`[{"id":1}]`, "alert_ids"},
		"zero":           {`[0]`, "alert_ids"},
		"negative":       {`[1, -2]`, "alert_ids"},
		"negative zero":  {`[-0]`, "alert_ids"},
		"overflow":       {`[99999999999999999999]`, "alert_ids"},
		"too many":       {tooMany, "at most 1000"},
		"leading zero":   {`[01]`, "JSON"},
		"trailing comma": {`[1,]`, "JSON"},
		"unterminated":   {`[1`, "JSON"},
	}
	for _, path := range bulkPaths {
		for name, c := range bulk {
			t.Run(path+"/"+name, func(t *testing.T) {
				body := `{}`
				if c.ids != "" {
					body = `{"alert_ids":` + c.ids + `}`
				}
				r := f.refuse(t, request{method: "POST", path: path, bearer: f.admin, body: body, header: hdr}, http.StatusBadRequest, "invalid_request")
				if msg := r.body["message"].(string); !strings.Contains(msg, c.want) {
					t.Fatalf("message %q does not name %q", msg, c.want)
				}
			})
		}
		for name, c := range map[string]struct{ body, want string }{
			"alert_id instead": {`{"alert_id":1}`, `"alert_id"`},
			"case variant":     {`{"Alert_IDs":[1]}`, "Alert_IDs"},
			"duplicate":        {`{"alert_ids":[1],"alert_ids":[2]}`, `"alert_ids"`},
			"extra":            {`{"alert_ids":[1],"all":true}`, `"all"`},
			"array body":       {`[1,2]`, "object"},
			"csrf number":      {`{"alert_ids":[1],"csrf_token":1}`, "csrf_token"},
		} {
			t.Run(path+"/"+name, func(t *testing.T) {
				r := f.refuse(t, request{method: "POST", path: path, bearer: f.admin, body: c.body, header: hdr}, http.StatusBadRequest, "invalid_request")
				if msg := r.body["message"].(string); !strings.Contains(msg, c.want) {
					t.Fatalf("message %q does not name %q", msg, c.want)
				}
			})
		}
	}
	for name, c := range map[string]struct{ body, want string }{
		"missing":    {`{}`, "alert_id"},
		"null":       {`{"alert_id":null}`, "alert_id"},
		"string":     {`{"alert_id":"1"}`, "alert_id"},
		"float":      {`{"alert_id":1.0}`, "alert_id"},
		"array":      {`{"alert_id":[1]}`, "alert_id"},
		"zero":       {`{"alert_id":0}`, "alert_id"},
		"negative":   {`{"alert_id":-1}`, "alert_id"},
		"overflow":   {`{"alert_id":9223372036854775808}`, "alert_id"},
		"ids":        {`{"alert_id":1,"alert_ids":[1]}`, "alert_ids"},
		"empty body": {``, "JSON"},
	} {
		for _, path := range singlePaths {
			t.Run(path+"/"+name, func(t *testing.T) {
				r := f.refuse(t, request{method: "POST", path: path, bearer: f.admin, body: c.body, header: hdr, contentType: "application/json"}, http.StatusBadRequest, "invalid_request")
				if msg := r.body["message"].(string); !strings.Contains(msg, c.want) {
					t.Fatalf("message %q does not name %q", msg, c.want)
				}
			})
		}
	}
	t.Run("run/extra field", func(t *testing.T) {
		f.refuse(t, request{method: "POST", path: "/api/security/run-integrity-check", bearer: f.admin, body: `{"roots":["/"]}`, header: hdr}, http.StatusBadRequest, "invalid_request")
	})

	// The CSRF token survived every 400; 1000 ids (all the same) are fine.
	f.do(request{method: "POST", path: "/api/security/bulk-resolve-alerts", bearer: f.admin, header: hdr,
		body: `{"alert_ids":` + atMost + `}`}).ok(t, "1 alert(s) resolved")
}

func TestIntegrityBodyTooLarge(t *testing.T) {
	f := newFIM(t, withMaxBody(300))
	got := f.changeThree()
	id := fmt.Sprint(ids(got["index.php"])[0])
	long := "[" + strings.Repeat(id+", ", 100) + id + "]"
	for _, path := range bulkPaths {
		t.Run(path, func(t *testing.T) {
			f.refuse(t, request{method: "POST", path: path, bearer: f.admin, body: `{"alert_ids":` + long + `}`,
				header: http.Header{"X-Csrf-Token": {f.csrfToken(f.admin)}}}, http.StatusRequestEntityTooLarge, "body_too_large")
		})
	}
	for _, path := range singlePaths {
		t.Run(path, func(t *testing.T) {
			f.refuse(t, request{method: "POST", path: path, bearer: f.admin,
				body: `{"alert_id":` + id + strings.Repeat(" ", 300) + `}`, header: http.Header{"X-Csrf-Token": {f.csrfToken(f.admin)}}},
				http.StatusRequestEntityTooLarge, "body_too_large")
		})
	}
	t.Run("run", func(t *testing.T) {
		f.refuse(t, request{method: "POST", path: "/api/security/run-integrity-check", bearer: f.admin,
			body: `{"csrf_token":"` + f.csrfToken(f.admin) + `"` + strings.Repeat(" ", 300) + `}`},
			http.StatusRequestEntityTooLarge, "body_too_large")
	})
}

func TestIntegrityCheckConflict(t *testing.T) {
	f := newFIM(t)
	f.write("index.php", "<?php\n")
	held, release := f.store.holdNext()
	defer release()
	id := f.start()
	<-held

	p := f.progress(id)
	p.ok(t, "Check progress retrieved")
	if d := p.data(); d["status"] != "running" || d["finished_at"] != nil || d["host"] != "web-1" || len(d) != 9 {
		t.Fatalf("running: %s", p.raw)
	}
	if _, has := p.data()["finished_at"]; !has {
		t.Fatalf("finished_at missing: %s", p.raw)
	}

	before := f.snap()
	r := f.do(f.post(f.admin, "/api/security/run-integrity-check", nil))
	if r.status != http.StatusConflict || r.body["success"] != false || r.body["error"] != "conflict" ||
		r.body["message"] != "A file integrity check is already running" || r.data()["check_id"] != id || len(r.data()) != 1 {
		t.Fatalf("second start: %d %s", r.status, r.raw)
	}
	after := f.snap()
	f.compare(t, before.snapshot, after.snapshot)

	release()
	if d := f.wait(id); d["status"] != "complete" || d["violations_found"] != 1.0 || d["finished_at"] == nil {
		t.Fatalf("%v", d)
	}
	if next := f.start(); next == id {
		t.Fatal("the same check id twice")
	} else {
		f.wait(next)
	}
}

func TestIntegrityDisabled(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer(adminID)
	for name, rt := range integrityRoutes() {
		t.Run(name, func(t *testing.T) {
			rq := request{method: rt.method, path: rt.path, bearer: admin}
			if rt.method == "POST" {
				rq.body = jsonBody(map[string]any{"csrf_token": e.csrfToken(admin)})
			}
			r := e.refuse(t, rq, http.StatusNotFound, "not_found")
			if r.body["message"] != "Not found" {
				t.Fatalf("%s", r.raw)
			}
		})
	}
}

// Concurrent starts: exactly one check runs, and every other request is
// told its id.
func TestIntegrityConcurrentStarts(t *testing.T) {
	f := newFIM(t)
	held, release := f.store.holdNext()
	defer release()
	const n = 6
	rqs := make([]request, n)
	for i := range rqs {
		rqs[i] = f.post(f.admin, "/api/security/run-integrity-check", nil)
	}
	resps := make([]response, n)
	var wg sync.WaitGroup
	for i := range rqs {
		wg.Go(func() { resps[i] = f.do(rqs[i]) })
	}
	wg.Wait()
	<-held
	var started []string
	conflicts := map[any]int{}
	for _, r := range resps {
		switch r.status {
		case http.StatusOK:
			started = append(started, r.data()["check_id"].(string))
		case http.StatusConflict:
			conflicts[r.data()["check_id"]]++
		default:
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	if len(started) != 1 || conflicts[started[0]] != n-1 {
		t.Fatalf("started %v, conflicts %v", started, conflicts)
	}
	release()
	f.wait(started[0])
}

// An alert raised on another machine is listed with its host, and its diff
// is refused naming that host: its file is there.
func TestFileDiffOfAnotherHost(t *testing.T) {
	f := newFIM(t)
	k := integrity.Key{Root: f.root, Path: "index.php"}
	ids, err := f.store.SaveFindings(t.Context(), integrity.Findings{Alerts: []integrity.Alert{{Host: "web-2", Key: k,
		FilePath: k.FilePath(), Type: integrity.AlertViolation, Change: integrity.ChangeModified,
		Severity: integrity.SeverityCritical}}})
	if err != nil {
		t.Fatal(err)
	}
	if l := f.alerts("").list(); len(l) != 1 || l[0].(map[string]any)["host"] != "web-2" {
		t.Fatalf("list: %v", l)
	}
	r := f.get(fmt.Sprintf("/api/security/file-diff?alert_id=%d", ids[0]))
	if r.status != http.StatusConflict || r.body["success"] != false || r.body["error"] != "conflict" ||
		r.body["message"] != "This alert was raised on host web-2; its file can only be diffed there" ||
		r.data()["host"] != "web-2" || len(r.data()) != 1 {
		t.Fatalf("%s", r.raw)
	}
}

// With a store shared by several processes (pgstore), starting a check
// while another process of the same host runs one is a 409 naming that
// check, whose progress this instance reports too.
func TestRunCheckWhileAnotherInstanceScans(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := t.Context()
	open := func() *pgstore.Store {
		st, err := pgstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	here, there := open(), open()
	root := t.TempDir()
	e := newEnv(t, func(s *session.Config, _ *security.CSRFConfig, h *httpadapter.Config) {
		mon, err := integrity.New(integrity.Config{Store: here, Host: "web-1", Key: integrityKey,
			Roots: []string{root}, Clock: s.Clock, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mon.Close() })
		if _, err := mon.Init(ctx); err != nil {
			t.Fatal(err)
		}
		h.Integrity = mon
	})
	admin := e.bearer(adminID)
	start := func() response {
		return e.do(request{method: "POST", path: "/api/security/run-integrity-check", bearer: admin,
			body: jsonBody(map[string]any{"csrf_token": e.csrfToken(admin)})})
	}

	// The other process runs a check of web-1.
	other := integrity.Check{ID: security.NewID(integrity.CheckIDPrefix), Host: "web-1", Kind: integrity.CheckScan,
		Status: integrity.CheckRunning, StartedAt: e.clock.Now()}
	lease, err := there.IntegrityStore("web-1").(integrity.ScanLocker).LockScan(ctx, other, false)
	if err != nil {
		t.Fatal(err)
	}
	r := start()
	if r.status != http.StatusConflict || r.body["message"] != "A file integrity check is already running" ||
		r.data()["check_id"] != other.ID || len(r.data()) != 1 {
		t.Fatalf("start while another instance scans: %d %s", r.status, r.raw)
	}
	r = e.do(request{method: "GET", path: "/api/security/file-integrity-progress?check_id=" + other.ID, bearer: admin})
	r.ok(t, "Check progress retrieved")
	if d := r.data(); d["status"] != "running" || d["host"] != "web-1" || d["finished_at"] != nil {
		t.Fatalf("progress of the other instance's check: %s", r.raw)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Released without recording its end: its process stopped.
	r = e.do(request{method: "GET", path: "/api/security/file-integrity-progress?check_id=" + other.ID, bearer: admin})
	r.ok(t, "Check progress retrieved")
	if d := r.data(); d["status"] != "failed" || d["finished_at"] != "2024-06-14T10:00:00Z" {
		t.Fatalf("progress of an abandoned check: %s", r.raw)
	}
	start().ok(t, "File integrity check started")
}
