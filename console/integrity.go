package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/propops/propsec/httpadapter"
	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// alertsPerPage is the page size of the Alerts view.
const alertsPerPage = 25

// parseStatus reads an alert status by the name Status.String gives it.
func parseStatus(name string) (integrity.Status, bool) {
	for _, st := range []integrity.Status{integrity.StatusNew, integrity.StatusResolved, integrity.StatusIgnored} {
		if st.String() == name {
			return st, true
		}
	}
	return 0, false
}

// alertFilter is the Alerts view's query: status, severity, sort, page.
type alertFilter struct {
	Status, Severity, Sort string
	Page                   int
}

// parseAlertFilter reads an alert filter by allow-list from q.
func parseAlertFilter(q url.Values) (alertFilter, integrity.ListOptions, error) {
	f := alertFilter{Status: q.Get("status"), Severity: q.Get("severity"), Sort: q.Get("sort")}
	o := integrity.ListOptions{Limit: alertsPerPage, Sort: integrity.SortCreatedDesc}
	bad := func(msg string) (alertFilter, integrity.ListOptions, error) {
		return f, o, &pageError{status: http.StatusBadRequest, msg: msg}
	}
	if f.Status != "" {
		st, ok := parseStatus(f.Status)
		if !ok {
			return bad("The status must be new, resolved or ignored.")
		}
		o.Status = &st
	}
	if f.Severity != "" {
		if o.Severity = integrity.Severity(f.Severity); !o.Severity.Valid() {
			return bad("The severity must be critical, high, medium or low.")
		}
	}
	if f.Sort != "" {
		if o.Sort = integrity.AlertSort(f.Sort); !o.Sort.Valid() {
			return bad("The order must be newest first, oldest first or most severe first.")
		}
	}
	var err error
	if f.Page, err = pageParam(q); err != nil {
		return f, o, err
	}
	o.Page = f.Page
	return f, o, nil
}

// query is the filter as a URL query, at page (0: none).
func (f alertFilter) query(page int) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "severity": f.Severity, "sort": f.Sort} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	return q
}

// alertsData is the Data of the Alerts view.
type alertsData struct {
	Filter alertFilter
	Alerts []integrity.Alert
	Pager  pager
}

// integrityView starts a view of the Integrity pages, or refuses a user
// without the permission.
func (h *handler) integrityView(w http.ResponseWriter, r *http.Request, a *session.Auth, title, nav string) (*view, bool) {
	v := h.newView(r, a, title, nav)
	if !v.Can("integrity") {
		h.fail(w, r, a, security.ErrForbidden)
		return nil, false
	}
	return v, true
}

// alertsPage is the Alerts view.
func (h *handler) alertsPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	v, ok := h.integrityView(w, r, &a, "Alerts", pathAlerts)
	if !ok {
		return
	}
	f, o, err := parseAlertFilter(r.URL.Query())
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	list, total, err := h.o.Integrity.Alerts(r.Context(), o)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	v.Data = alertsData{Filter: f, Alerts: list, Pager: newPager(f.Page, alertsPerPage, total, func(p int) string {
		return h.url(pathAlerts, f.query(p))
	})}
	v.Notice = notice(r)
	h.render(w, r, http.StatusOK, "alerts", v)
}

// alertActions are the bulk actions of the Alerts view and the details page.
var alertActions = map[string]string{"resolve": "resolved", "ignore": "ignored", "delete": "deleted"}

// changeAlerts resolves, ignores or deletes the form's alert_id values
// (action=resolve|ignore|delete), then goes back to the list it came from
// (the form's status, severity, sort and page), or to the alert's page
// (return=detail) unless it was deleted.
func (h *handler) changeAlerts(w http.ResponseWriter, r *http.Request, a session.Auth) {
	if _, ok := h.integrityView(w, r, &a, "Alerts", pathAlerts); !ok {
		return
	}
	form, err := postForm(r, "action", "status", "severity", "sort", "page", "return")
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	f, _, err := parseAlertFilter(form)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	action := form.Get("action")
	if _, ok := alertActions[action]; !ok {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "Choose resolve, ignore or delete."})
		return
	}
	raw := r.PostForm["alert_id"]
	if len(raw) == 0 {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "Select at least one alert."})
		return
	}
	if len(raw) > integrity.MaxBulkIDs {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "Select at most 1000 alerts at once."})
		return
	}
	ids := make([]int64, len(raw))
	for i, s := range raw {
		if ids[i], err = strconv.ParseInt(s, 10, 64); err != nil || ids[i] <= 0 {
			h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "An alert id is not a positive whole number."})
			return
		}
	}
	mon, actor := h.o.Integrity, h.actor(r, a)
	var n int
	switch action {
	case "resolve":
		n, err = mon.ResolveAlerts(r.Context(), actor, ids...)
	case "ignore":
		n, err = mon.IgnoreAlerts(r.Context(), actor, ids...)
	case "delete":
		n, err = mon.DeleteAlerts(r.Context(), actor, ids...)
	}
	if errors.Is(err, security.ErrNotFound) {
		err = &pageError{status: http.StatusNotFound,
			msg: "Some of these alerts no longer exist (deleted meanwhile?): nothing was changed. Reload and try again."}
	}
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	if form.Get("return") == "detail" && len(ids) == 1 && action != "delete" {
		h.done(w, pathAlerts+"/"+strconv.FormatInt(ids[0], 10), nil, alertActions[action], n)
		return
	}
	h.done(w, pathAlerts, f.query(f.Page), alertActions[action], n)
}

// alertData is the Data of an alert's page.
type alertData struct {
	Alert integrity.Alert
	// Diff is the alert's diff, nil when none could be made; Note says
	// why, or what the diff is ("not diffed: …", "Binary files differ").
	Diff *diffView
	Note string
}

// alertPage is one alert's details and diff.
func (h *handler) alertPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w, r)
		return
	}
	v, ok := h.integrityView(w, r, &a, "Alert "+strconv.FormatInt(id, 10), pathAlerts)
	if !ok {
		return
	}
	al, err := h.o.Integrity.Alert(r.Context(), id)
	if errors.Is(err, security.ErrNotFound) {
		h.fail(w, r, &a, &pageError{status: http.StatusNotFound, msg: "There is no alert " + strconv.FormatInt(id, 10) + "."})
		return
	}
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	d := alertData{Alert: al}
	if al.Type == integrity.AlertViolation {
		diff, err := h.o.Integrity.Diff(r.Context(), id)
		var other *integrity.OtherHostError
		switch {
		case errors.As(err, &other):
			d.Note = "This alert was raised on host " + other.Host + "; its file can only be diffed there."
		case err != nil:
			status, msg := h.describe(r, err)
			if status == http.StatusInternalServerError {
				h.fail(w, r, &a, err)
				return
			}
			d.Note = "No diff: " + msg
		case strings.HasPrefix(diff.Text, "not diffed:"), diff.Binary:
			d.Note = diff.Text
		case diff.Text == "":
			d.Note = "The content is unchanged."
		default:
			d.Diff = parseDiff(diff)
		}
	}
	v.Data, v.Notice = d, notice(r)
	h.render(w, r, http.StatusOK, "alert", v)
}

// diffLine is one row of a diff table.
type diffLine struct {
	// Kind is "add", "del", "ctx", "hunk" or "note".
	Kind     string
	Old, New int // line numbers, 0 when the side has none
	Text     string
}

// diffView is a unified diff as table rows.
type diffView struct {
	OldLabel, NewLabel string
	Lines              []diffLine
	Added, Removed     int
}

// parseDiff reads the unified diff of d into rows with line numbers.
func parseDiff(d integrity.Diff) *diffView {
	v := &diffView{Added: d.LinesAdded, Removed: d.LinesRemoved}
	var oldN, newN int
	for line := range strings.Lines(d.Text) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "--- ") && oldN == 0 && newN == 0 && len(v.Lines) == 0:
			v.OldLabel = strings.TrimPrefix(line, "--- ")
		case strings.HasPrefix(line, "+++ ") && oldN == 0 && newN == 0 && len(v.Lines) == 0:
			v.NewLabel = strings.TrimPrefix(line, "+++ ")
		case strings.HasPrefix(line, "@@"):
			oldN, newN = hunkStart(line)
			v.Lines = append(v.Lines, diffLine{Kind: "hunk", Text: line})
		case strings.HasPrefix(line, "+"):
			v.Lines = append(v.Lines, diffLine{Kind: "add", New: newN, Text: line[1:]})
			newN++
		case strings.HasPrefix(line, "-"):
			v.Lines = append(v.Lines, diffLine{Kind: "del", Old: oldN, Text: line[1:]})
			oldN++
		case strings.HasPrefix(line, `\`):
			v.Lines = append(v.Lines, diffLine{Kind: "note", Text: strings.TrimSpace(line[1:])})
		default:
			v.Lines = append(v.Lines, diffLine{Kind: "ctx", Old: oldN, New: newN, Text: strings.TrimPrefix(line, " ")})
			oldN++
			newN++
		}
	}
	return v
}

// hunkStart reads the first old and new line numbers of "@@ -a,b +c,d @@".
func hunkStart(line string) (oldN, newN int) {
	for f := range strings.FieldsSeq(line) {
		if len(f) < 2 || (f[0] != '-' && f[0] != '+') {
			continue
		}
		n, _ := strconv.Atoi(strings.SplitN(f[1:], ",", 2)[0])
		if f[0] == '-' {
			oldN = n
		} else {
			newN = n
		}
	}
	return max(oldN, 1), max(newN, 1)
}

// checksData is the Data of the Checks view.
type checksData struct {
	// Check is the check shown: ?check_id=, else the running one.
	Check *integrity.Check
	// Open is the open deployment window, if any.
	Open     *integrity.Deployment
	Recent   []integrity.EndedDeployment
	Roots    []string
	Realtime bool
}

// Running reports whether the check shown is still running.
func (d checksData) Running() bool { return d.Check != nil && d.Check.Status == integrity.CheckRunning }

// checksPage is the Checks view: run a check, watch one, deployments.
func (h *handler) checksPage(w http.ResponseWriter, r *http.Request, a session.Auth) {
	v, ok := h.integrityView(w, r, &a, "Checks", pathChecks)
	if !ok {
		return
	}
	mon, ctx := h.o.Integrity, r.Context()
	d := checksData{Roots: mon.Roots(), Realtime: mon.Realtime().Watching}
	if id := r.URL.Query().Get("check_id"); id != "" {
		if !security.ValidID(integrity.CheckIDPrefix, id) {
			h.fail(w, r, &a, &pageError{status: http.StatusBadRequest, msg: "That is not a check id."})
			return
		}
		c, err := mon.Progress(ctx, id)
		if err != nil {
			h.fail(w, r, &a, err)
			return
		}
		d.Check = &c
	} else if c, ok := mon.Current(); ok && c.Kind != integrity.CheckRealtime {
		d.Check = &c
	}
	open, ok, err := mon.Deployment(ctx)
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	if ok {
		d.Open = &open
	}
	if d.Recent, err = mon.EndedDeployments(ctx, 10); err != nil {
		h.fail(w, r, &a, err)
		return
	}
	if d.Running() {
		v.Refresh = 2
	}
	v.Data, v.Notice = d, notice(r)
	h.render(w, r, http.StatusOK, "checks", v)
}

// runCheck starts a check, or shows the one already running.
func (h *handler) runCheck(w http.ResponseWriter, r *http.Request, a session.Auth) {
	if _, ok := h.integrityView(w, r, &a, "Checks", pathChecks); !ok {
		return
	}
	id, err := h.o.Integrity.Start(r.Context())
	var busy *integrity.BusyError
	switch {
	case err == nil:
		h.done(w, pathChecks, url.Values{"check_id": {id}}, "started", 0)
	case errors.As(err, &busy) && busy.CheckID != "":
		h.done(w, pathChecks, url.Values{"check_id": {busy.CheckID}}, "running", 0)
	case errors.Is(err, security.ErrConflict) && id != "":
		h.done(w, pathChecks, url.Values{"check_id": {id}}, "running", 0)
	default:
		h.fail(w, r, &a, err)
	}
}

// progressJSON is the answer of the progress endpoint.
type progressJSON struct {
	CheckID         string `json:"check_id"`
	Status          string `json:"status"`
	FilesTotal      int64  `json:"files_total"`
	FilesScanned    int64  `json:"files_scanned"`
	ViolationsFound int64  `json:"violations_found"`
	Error           string `json:"error,omitempty"`
}

// progress answers a check's progress as JSON, for the Checks view's
// script: GET checks/progress?check_id=chk_…
func (h *handler) progress(w http.ResponseWriter, r *http.Request) {
	a, ok := httpadapter.AuthFrom(r.Context())
	switch {
	case !ok:
		httpadapter.WriteError(w, http.StatusUnauthorized, httpadapter.CodeUnauthenticated, "Sign in first")
		return
	case !a.Principal.Can(security.PermFileIntegrityAlertsManage):
		httpadapter.WriteError(w, http.StatusForbidden, httpadapter.CodeForbidden, "Not permitted")
		return
	}
	id := r.URL.Query().Get("check_id")
	if !security.ValidID(integrity.CheckIDPrefix, id) {
		httpadapter.WriteError(w, http.StatusBadRequest, httpadapter.CodeInvalidRequest, "check_id: must be a check id (chk_…)")
		return
	}
	c, err := h.o.Integrity.Progress(r.Context(), id)
	switch {
	case errors.Is(err, security.ErrNotFound):
		httpadapter.WriteError(w, http.StatusNotFound, httpadapter.CodeNotFound, "Check not found")
		return
	case err != nil:
		h.log.Error("console: progress", "err", err)
		httpadapter.WriteError(w, http.StatusInternalServerError, httpadapter.CodeInternal, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(progressJSON{CheckID: c.ID, Status: string(c.Status), FilesTotal: c.FilesTotal,
		FilesScanned: c.FilesScanned, ViolationsFound: c.ViolationsFound, Error: c.Error})
}

// beginDeployment opens a deployment window with the form's description.
func (h *handler) beginDeployment(w http.ResponseWriter, r *http.Request, a session.Auth) {
	if _, ok := h.integrityView(w, r, &a, "Checks", pathChecks); !ok {
		return
	}
	f, err := postForm(r, "description")
	if err != nil {
		h.fail(w, r, &a, err)
		return
	}
	desc, err := integrity.CleanDescription(f.Get("description"))
	if err != nil {
		h.fail(w, r, &a, &pageError{status: http.StatusBadRequest,
			msg: "Describe the deployment in 1 to 500 characters."})
		return
	}
	if _, err := h.o.Integrity.BeginDeployment(r.Context(), h.actor(r, a), desc); err != nil {
		if errors.Is(err, security.ErrConflict) {
			err = &pageError{status: http.StatusConflict, msg: "A deployment is already open, or a check is running: end it or wait, then try again."}
		}
		h.fail(w, r, &a, err)
		return
	}
	h.done(w, pathChecks, nil, "deploy_started", 0)
}

// endDeployment closes the open deployment window, accepting its changes.
func (h *handler) endDeployment(w http.ResponseWriter, r *http.Request, a session.Auth) {
	if _, ok := h.integrityView(w, r, &a, "Checks", pathChecks); !ok {
		return
	}
	ended, err := h.o.Integrity.EndDeployment(r.Context(), h.actor(r, a))
	if err != nil {
		if errors.Is(err, security.ErrNotFound) {
			err = &pageError{status: http.StatusNotFound, msg: "No deployment is open."}
		}
		h.fail(w, r, &a, err)
		return
	}
	h.done(w, pathChecks, nil, "deploy_ended", int(ended.Accepted))
}
