package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

// raise changes the watched files and scans, returning the alerts raised.
func (e *env) raise() []integrity.Alert {
	e.t.Helper()
	require.NoError(e.t, os.WriteFile(filepath.Join(e.root, "index.php"),
		[]byte("<?php echo 'hello';\nline 2 <b>changed</b>\nline three\n"), 0o644))
	require.NoError(e.t, os.WriteFile(filepath.Join(e.root, "new.js"), []byte("alert(1)\n"), 0o644))
	_, err := e.mon.Scan(e.ctx)
	require.NoError(e.t, err)
	list, _, err := e.mon.Alerts(e.ctx, integrity.ListOptions{Limit: 100})
	require.NoError(e.t, err)
	require.NotEmpty(e.t, list)
	return list
}

// alertOn returns the alert of the path ending in name.
func alertOn(t *testing.T, list []integrity.Alert, name string) integrity.Alert {
	t.Helper()
	for _, a := range list {
		if strings.HasSuffix(a.FilePath, name) && a.Type == integrity.AlertViolation {
			return a
		}
	}
	t.Fatalf("no alert on %s", name)
	return integrity.Alert{}
}

var h1RE = regexp.MustCompile(`<h1>`)

// Every view renders for a staff user with every permission, with one h1
// and main#main, and its nav entry current.
func TestEveryViewRenders(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser().signIn(e.admin())
	alerts := e.raise()
	php := alertOn(t, alerts, "index.php")
	for _, tc := range []struct{ path, h1, nav string }{
		{"/console/sessions", "Sessions", "Sessions"},
		{"/console/alerts", "Alerts", "Alerts"},
		{"/console/alerts?status=new&severity=critical&sort=severity_desc&page=1", "Alerts", "Alerts"},
		{"/console/alerts/" + strconv.FormatInt(php.ID, 10), "Alert " + strconv.FormatInt(php.ID, 10), "Alerts"},
		{"/console/checks", "Checks", "Checks"},
		{"/console/report", "Security report", "Report"},
		{"/console/password", "Password check", "Password check"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p := b.get(tc.path)
			require.Equal(t, http.StatusOK, p.status, p.body)
			require.Equal(t, 1, len(h1RE.FindAllString(p.body, -1)))
			require.Contains(t, p.body, "<h1>"+tc.h1+"</h1>")
			require.Contains(t, p.body, `<main id="main"`)
			require.Contains(t, p.body, `aria-current="page">`+tc.nav+`</a>`)
			require.Contains(t, p.body, `class="skip" href="#main"`)
			require.NotContains(t, p.body, "style=")
			require.NotRegexp(t, `<script(?: type="module")?>`, p.body, "no inline script")
		})
	}
}

func TestAlertsView(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser().signIn(e.admin())
	alerts := e.raise()
	php, js := alertOn(t, alerts, "index.php"), alertOn(t, alerts, "new.js")

	p := b.get("/console/alerts")
	require.Contains(t, p.body, `name="alert_id" value="`+strconv.FormatInt(php.ID, 10)+`"`)
	require.Contains(t, p.body, "new.js")
	p = b.get("/console/alerts?status=resolved")
	require.Contains(t, p.body, "No alert matches.")
	for _, bad := range []string{"status=2", "severity=huge", "sort=random", "page=0"} {
		require.Equal(t, http.StatusBadRequest, b.get("/console/alerts?"+bad).status, bad)
	}

	t.Run("details and diff", func(t *testing.T) {
		p := b.get("/console/alerts/" + strconv.FormatInt(php.ID, 10))
		require.Contains(t, p.body, `data-testid="diff"`)
		require.Contains(t, p.body, `<span class="visually-hidden">added: </span>line 2 &lt;b&gt;changed&lt;/b&gt;`)
		require.Contains(t, p.body, `<span class="visually-hidden">removed: </span>line two`)
		require.Regexp(t, `<tr class="del"><td class="ln">2</td><td class="ln"></td><td class="sign" aria-hidden="true">−</td>`, p.body)
		require.Regexp(t, `<tr class="add"><td class="ln"></td><td class="ln">2</td><td class="sign" aria-hidden="true">\+</td>`, p.body)
		require.Equal(t, http.StatusNotFound, b.get("/console/alerts/999999").status)
		require.Equal(t, http.StatusNotFound, b.get("/console/alerts/abc").status)
	})
	t.Run("not diffed is said so", func(t *testing.T) {
		big := strings.Repeat("x", 1<<20+1)
		_, err := e.mon.BeginDeployment(e.ctx, integrity.Actor{}, "add big.txt")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(e.root, "big.txt"), []byte("small\n"), 0o644))
		_, err = e.mon.EndDeployment(e.ctx, integrity.Actor{})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(e.root, "big.txt"), []byte(big), 0o644))
		_, err = e.mon.Scan(e.ctx)
		require.NoError(t, err)
		list, _, err := e.mon.Alerts(e.ctx, integrity.ListOptions{Limit: 100})
		require.NoError(t, err)
		a := alertOn(t, list, "big.txt")
		p := b.get("/console/alerts/" + strconv.FormatInt(a.ID, 10))
		require.Contains(t, p.body, `data-testid="diff-note"`)
		require.Contains(t, p.body, "not diffed:")
		require.NotContains(t, p.body, `data-testid="diff"`)
	})
	t.Run("resolve, ignore and delete several", func(t *testing.T) {
		tok := b.token("/console/alerts")
		ids := url.Values{"csrf_token": {tok}, "status": {"new"}, "action": {"resolve"},
			"alert_id": {strconv.FormatInt(php.ID, 10), strconv.FormatInt(js.ID, 10)}}
		p := b.post("/console/alerts", ids)
		require.Equal(t, http.StatusOK, p.status, p.body)
		require.Contains(t, p.body, "2 alert(s) resolved.")
		require.Equal(t, "new", p.url.Query().Get("status"), "back to the same filter")
		got, err := e.mon.Alert(e.ctx, php.ID)
		require.NoError(t, err)
		require.Equal(t, integrity.StatusResolved, got.Status)

		ids.Set("action", "ignore")
		require.Contains(t, b.post("/console/alerts", ids).body, "2 alert(s) ignored.")
		got, _ = e.mon.Alert(e.ctx, js.ID)
		require.Equal(t, integrity.StatusIgnored, got.Status)

		ids.Set("action", "explode")
		require.Equal(t, http.StatusBadRequest, b.post("/console/alerts", ids).status)
		ids.Set("action", "delete")
		ids["alert_id"] = append(ids["alert_id"], "987654")
		p = b.post("/console/alerts", ids)
		require.Equal(t, http.StatusNotFound, p.status, "an unknown id changes nothing")
		_, err = e.mon.Alert(e.ctx, php.ID)
		require.NoError(t, err)
		ids["alert_id"] = ids["alert_id"][:2]
		require.Contains(t, b.post("/console/alerts", ids).body, "2 alert(s) deleted.")
		_, err = e.mon.Alert(e.ctx, php.ID)
		require.ErrorIs(t, err, security.ErrNotFound)
	})
}

func TestChecksView(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser().signIn(e.admin())
	p := b.get("/console/checks")
	require.Contains(t, p.body, `name="run-check"`)
	tok := tokenRE.FindStringSubmatch(p.body)[1]

	p = b.post("/console/checks/run", url.Values{"csrf_token": {tok}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	id := p.url.Query().Get("check_id")
	require.True(t, strings.HasPrefix(id, "chk_"), p.url.String())
	require.Contains(t, p.body, `id="check-progress"`)

	// The JSON progress of the script, until complete.
	var prog struct {
		Status       string `json:"status"`
		FilesTotal   int64  `json:"files_total"`
		FilesScanned int64  `json:"files_scanned"`
	}
	require.Eventually(t, func() bool {
		r := b.do("GET", "/console/checks/progress?check_id="+id, nil, map[string]string{"Accept": "application/json"})
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.NoError(t, json.Unmarshal([]byte(r.body), &prog))
		return prog.Status == "complete"
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, prog.FilesTotal, prog.FilesScanned)
	p = b.get("/console/checks?check_id=" + id)
	require.Contains(t, p.body, "complete")
	require.NotContains(t, p.body, "http-equiv=\"refresh\"", "no refresh once complete")
	require.Equal(t, http.StatusBadRequest, b.get("/console/checks?check_id=nope").status)
	r := b.do("GET", "/console/checks/progress?check_id=chk_aaaaaaaaaaaaaaaaaaaa", nil, map[string]string{"Accept": "application/json"})
	require.Equal(t, http.StatusNotFound, r.status)

	t.Run("deployments", func(t *testing.T) {
		p := b.post("/console/deployments/begin", url.Values{"csrf_token": {tok}, "description": {"  "}})
		require.Equal(t, http.StatusBadRequest, p.status)
		p = b.post("/console/deployments/begin", url.Values{"csrf_token": {tok}, "description": {"release 1.2"}})
		require.Contains(t, p.body, "Deployment started")
		require.Contains(t, p.body, `data-testid="open-deployment"`)
		require.Contains(t, p.body, "release 1.2")
		require.NoError(t, os.WriteFile(filepath.Join(e.root, "deployed.txt"), []byte("v2\n"), 0o644))
		p = b.post("/console/deployments/end", url.Values{"csrf_token": {tok}})
		require.Contains(t, p.body, "Deployment ended: 2 change(s) accepted") // the file and its directory
		require.Contains(t, p.body, "Recent deployments")
		require.Equal(t, http.StatusNotFound, b.post("/console/deployments/end", url.Values{"csrf_token": {tok}}).status)
	})
}

// A check already running is shown, not an error: the Run button of a
// second tab leads to the running check.
func TestCheckAlreadyRunning(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser().signIn(e.admin())
	tok := b.token("/console/checks")
	// A sparse file of 768 MiB takes the check far longer to hash than
	// the requests below take.
	f, err := os.Create(filepath.Join(e.root, "big.bin"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(768<<20))
	require.NoError(t, f.Close())
	id, err := e.mon.Start(e.ctx)
	require.NoError(t, err)
	p := b.post("/console/checks/run", url.Values{"csrf_token": {tok}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Equal(t, id, p.url.Query().Get("check_id"))
	require.Contains(t, p.body, "A check was already running: it is shown below.")
	require.Contains(t, p.body, `data-status="running"`)
	require.Contains(t, p.body, `<noscript><meta http-equiv="refresh" content="2"></noscript>`)
	require.NotContains(t, p.body, `name="run-check"`, "no second start offered while it runs")
	require.Contains(t, b.get("/console/checks").body, `data-check-id="`+id+`"`, "the running check is shown")
	require.NoError(t, e.mon.Cancel(id))
}

func TestPasswordPageSendsNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser().signIn(e.admin())
	p := b.get("/console/password")
	form := regexp.MustCompile(`(?s)<form[^>]*id="password-check"[^>]*>.*?</form>`).FindString(p.body)
	require.NotEmpty(t, form)
	require.NotContains(t, form, "action=")
	require.NotRegexp(t, `<(?:input|button|select|textarea)[^>]*\sname=`, form, "no named field: the form cannot send the password")
	require.Contains(t, p.body, `data-api="/api/security"`)
	require.Regexp(t, `<script type="module" src="/console/assets/password\.[0-9a-f]+\.js"></script>`, p.body)
}

func TestReportView(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := e.admin()
	b := e.browser().signIn(admin)
	p := b.get("/console/report")
	require.Equal(t, http.StatusOK, p.status)
	today := time.Now().UTC()
	from := today.AddDate(0, 0, -6).Format(time.DateOnly)
	require.Contains(t, p.body, `name="from" type="date" value="`+from+`"`)
	require.Contains(t, p.body, `name="to" type="date" value="`+today.Format(time.DateOnly)+`"`)
	require.Equal(t, 7, strings.Count(p.body, `<span class="n">`), "the seven counters")
	require.Contains(t, p.body, `<span class="n">1</span> Successful logins`)
	require.Contains(t, p.body, "<svg")
	require.Equal(t, 7, strings.Count(p.body, `<th scope="row">`), "a table row per day")

	m := regexp.MustCompile(`href="([^"]+report\.csv[^"]*)"`).FindStringSubmatch(p.body)
	require.NotNil(t, m)
	csvURL := strings.ReplaceAll(m[1], "&amp;", "&")
	r := b.get(csvURL)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "text/csv; charset=utf-8; header=present", r.header.Get("Content-Type"))
	require.Contains(t, r.header.Get("Content-Disposition"), "attachment")
	require.Equal(t, 8, strings.Count(r.body, "\n"), "a header and seven days")

	p = b.get("/console/report?from=2024-01-01&to=2024-01-03")
	require.Equal(t, 3, strings.Count(p.body, `<th scope="row">`))
	for _, bad := range []string{"from=yesterday", "from=2024-02-01&to=2024-01-01", "from=2000-01-01&to=2024-01-01"} {
		require.Equal(t, http.StatusBadRequest, b.get("/console/report?"+bad).status, bad)
	}
}
