package httpadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

// The file-integrity endpoints: every one is staff-only and needs
// [security.PermFileIntegrityAlertsManage], which the adapter checks itself
// (the Monitor knows no principals) at the domain-call step of the check
// order, after the CSRF check, as the session endpoints' permissions are.

// prepareFunc is the prepare step of an [endpoint].
type prepareFunc = func(c *call) (func() (reply, error), error)

// integrityRoutes lists the file-integrity endpoints, or none without
// Config.Integrity.
func (h *Handler) integrityRoutes() map[string]map[string]endpoint {
	if h.integrity == nil {
		return nil
	}
	get := func(p prepareFunc) map[string]endpoint {
		return map[string]endpoint{http.MethodGet: {auth: authAny, staff: true, query: true,
			prepare: permitted(security.PermFileIntegrityAlertsManage, p)}}
	}
	post := func(p prepareFunc) map[string]endpoint {
		return map[string]endpoint{http.MethodPost: {auth: authAny, staff: true, body: true, csrf: true,
			prepare: permitted(security.PermFileIntegrityAlertsManage, p)}}
	}
	return map[string]map[string]endpoint{
		"/api/security/file-integrity-alerts":   get(h.listAlerts),
		"/api/security/resolve-alert":           post(h.oneAlert(h.integrity.ResolveAlerts, "Alert resolved")),
		"/api/security/bulk-resolve-alerts":     post(h.bulkAlerts(h.integrity.ResolveAlerts, "%d alert(s) resolved")),
		"/api/security/ignore-alert":            post(h.oneAlert(h.integrity.IgnoreAlerts, "Alert ignored")),
		"/api/security/bulk-ignore-alerts":      post(h.bulkAlerts(h.integrity.IgnoreAlerts, "%d alert(s) ignored")),
		"/api/security/bulk-delete-alerts":      post(h.bulkAlerts(h.integrity.DeleteAlerts, "%d alert(s) deleted")),
		"/api/security/run-integrity-check":     post(h.runIntegrityCheck),
		"/api/security/file-integrity-progress": get(h.integrityProgress),
		"/api/security/file-diff":               get(h.fileDiff),
		"/api/security/deployments":             methods(get(h.readDeployments), post(h.changeDeployment)),
	}
}

// permitted makes the domain call of prepare refuse a caller without perm.
func permitted(perm security.Permission, prepare prepareFunc) prepareFunc {
	return func(c *call) (func() (reply, error), error) {
		run, err := prepare(c)
		if err != nil {
			return nil, err
		}
		return func() (reply, error) {
			if !c.auth.Principal.Can(perm) {
				return reply{}, fmt.Errorf("%w: needs %s", security.ErrForbidden, perm)
			}
			return run()
		}, nil
	}
}

// actor is the caller, for the Monitor's audit events.
func (c *call) actor() integrity.Actor {
	return integrity.Actor{UserID: c.auth.Principal.UserID, SessionID: c.auth.Session.ID, IP: c.ip.String()}
}

// The allowed values of the alert list's parameters.
var (
	alertStatuses = map[string]integrity.Status{"0": integrity.StatusNew, "1": integrity.StatusResolved,
		"2": integrity.StatusIgnored}
	alertSeverities = map[string]integrity.Severity{"critical": integrity.SeverityCritical,
		"high": integrity.SeverityHigh, "medium": integrity.SeverityMedium, "low": integrity.SeverityLow}
	alertSorts = map[string]integrity.AlertSort{"created_at_desc": integrity.SortCreatedDesc,
		"created_at_asc": integrity.SortCreatedAsc, "severity_desc": integrity.SortSeverityDesc}
)

// maxAlertPage bounds the page number, as [integrity.Monitor.Alerts] does.
const maxAlertPage = 1 << 30

// parseAlertQuery reads the query of GET /api/security/file-integrity-alerts
// by allow-list: status 0, 1 or 2; severity critical, high, medium or low;
// sortBy created_at_desc (the default), created_at_asc or severity_desc;
// page ≥ 1 (default 1); limit 1 to 100 (default 25). Anything else, an
// unknown parameter and a repeated one are errors naming the parameter.
func parseAlertQuery(q map[string]string) (integrity.ListOptions, error) {
	o := integrity.ListOptions{Sort: integrity.SortCreatedDesc, Page: 1, Limit: integrity.DefaultLimit}
	if err := allowOnly(q, "status", "severity", "sortBy", "page", "limit"); err != nil {
		return o, err
	}
	if s, ok := q["status"]; ok {
		st, ok := alertStatuses[s]
		if !ok {
			return o, security.Invalid("status", "must be 0 (new), 1 (resolved) or 2 (ignored)")
		}
		o.Status = &st
	}
	if s, ok := q["severity"]; ok {
		if o.Severity, ok = alertSeverities[s]; !ok {
			return o, security.Invalid("severity", "must be critical, high, medium or low")
		}
	}
	if s, ok := q["sortBy"]; ok {
		if o.Sort, ok = alertSorts[s]; !ok {
			return o, security.Invalid("sortBy", "must be created_at_desc, created_at_asc or severity_desc")
		}
	}
	return o, pageParams(q, maxAlertPage, integrity.MaxLimit, &o.Page, &o.Limit)
}

// alertJSON is an alert as listed. host is the machine whose scan raised it
// (integrity.Alert.Host): file_path is a path on that machine.
type alertJSON struct {
	ID        int64  `json:"id"`
	Host      string `json:"host"`
	FilePath  string `json:"file_path"`
	AlertType string `json:"alert_type"`
	Change    string `json:"change"`
	Severity  string `json:"severity"`
	Status    int    `json:"status"`
	Details   string `json:"details"`
	CreatedAt string `json:"created_at"`
	CheckID   string `json:"check_id"`
}

// listAlerts serves GET /api/security/file-integrity-alerts.
func (h *Handler) listAlerts(c *call) (func() (reply, error), error) {
	q, err := queryValues(c.r)
	if err != nil {
		return nil, err
	}
	opts, err := parseAlertQuery(q)
	if err != nil {
		return nil, err
	}
	return func() (reply, error) {
		list, total, err := h.integrity.Alerts(c.r.Context(), opts)
		if err != nil {
			return reply{}, err
		}
		data := make([]alertJSON, len(list))
		for i, a := range list {
			data[i] = alertJSON{ID: a.ID, Host: a.Host, FilePath: a.FilePath, AlertType: string(a.Type), Change: string(a.Change),
				Severity: string(a.Severity), Status: int(a.Status), Details: a.Details,
				CreatedAt: timeJSON(a.CreatedAt), CheckID: a.CheckID}
		}
		return reply{data: data, message: "Alerts retrieved", total: &total, page: &opts.Page}, nil
	}, nil
}

// oneAlert serves a POST that applies op (resolve, ignore) to the body's
// alert_id and answers with message.
func (h *Handler) oneAlert(op func(context.Context, integrity.Actor, ...int64) (int, error), message string) prepareFunc {
	return func(c *call) (func() (reply, error), error) {
		var id int64
		if err := c.bind(intField("alert_id", &id, true)); err != nil {
			return nil, err
		}
		if id <= 0 {
			return nil, security.Invalid("alert_id", "must be a positive integer")
		}
		return func() (reply, error) {
			if _, err := op(c.r.Context(), c.actor(), id); err != nil {
				return reply{}, describe(err, security.ErrNotFound, "Alert not found")
			}
			return reply{message: message}, nil
		}, nil
	}
}

// bulkAlerts serves a POST that applies op to the body's alert_ids and
// answers with message, formatted with how many alerts op affected
// (duplicate ids count once).
func (h *Handler) bulkAlerts(op func(context.Context, integrity.Actor, ...int64) (int, error), message string) prepareFunc {
	return func(c *call) (func() (reply, error), error) {
		var ids []int64
		if err := c.bind(intListField("alert_ids", &ids, integrity.MaxBulkIDs, true)); err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, security.Invalid("alert_ids", "must not be empty")
		}
		for _, id := range ids {
			if id <= 0 {
				return nil, security.Invalid("alert_ids", "must hold positive integers")
			}
		}
		return func() (reply, error) {
			n, err := op(c.r.Context(), c.actor(), ids...)
			if err != nil {
				return reply{}, unknownAlerts(err)
			}
			return reply{message: fmt.Sprintf(message, n)}, nil
		}, nil
	}
}

// maxNamedIDs bounds how many unknown ids a 404 names.
const maxNamedIDs = 20

// unknownAlerts names the unknown ids of an [integrity.UnknownAlertsError].
func unknownAlerts(err error) error {
	var ue *integrity.UnknownAlertsError
	if !errors.As(err, &ue) {
		return err
	}
	shown := ue.IDs[:min(len(ue.IDs), maxNamedIDs)]
	names := make([]string, len(shown))
	for i, id := range shown {
		names[i] = strconv.FormatInt(id, 10)
	}
	msg := "Unknown alert id(s): " + strings.Join(names, ", ")
	if more := len(ue.IDs) - len(names); more > 0 {
		msg += fmt.Sprintf(" and %d more", more)
	}
	return &publicError{err: err, message: msg}
}

// runIntegrityCheck serves POST /api/security/run-integrity-check.
func (h *Handler) runIntegrityCheck(c *call) (func() (reply, error), error) {
	if err := c.bind(); err != nil {
		return nil, err
	}
	return func() (reply, error) {
		id, err := h.integrity.Start(c.r.Context())
		switch {
		case err == nil:
			return reply{data: map[string]string{"check_id": id, "status": string(integrity.CheckRunning)},
				message: "File integrity check started"}, nil
		case errors.Is(err, security.ErrConflict) && id != "":
			return reply{}, &publicError{err: err, message: "A file integrity check is already running",
				data: map[string]string{"check_id": id}}
		default:
			return reply{}, describe(err, security.ErrConflict, "Another file integrity operation is running; try again shortly")
		}
	}, nil
}

// checkJSON is a check's progress. host is the machine that runs it.
type checkJSON struct {
	CheckID         string  `json:"check_id"`
	Host            string  `json:"host"`
	Status          string  `json:"status"`
	FilesTotal      int64   `json:"files_total"`
	FilesScanned    int64   `json:"files_scanned"`
	ViolationsFound int64   `json:"violations_found"`
	DurationMS      int64   `json:"duration_ms"`
	StartedAt       string  `json:"started_at"`
	FinishedAt      *string `json:"finished_at"` // null while running
}

// onlyParam returns the value of the query's one parameter, name, which is
// required; any other parameter is refused.
func onlyParam(r *http.Request, name string) (string, error) {
	q, err := queryValues(r)
	if err != nil {
		return "", err
	}
	if err := allowOnly(q, name); err != nil {
		return "", err
	}
	v, ok := q[name]
	if !ok {
		return "", security.Invalid(name, "is required")
	}
	return v, nil
}

// integrityProgress serves GET /api/security/file-integrity-progress.
func (h *Handler) integrityProgress(c *call) (func() (reply, error), error) {
	id, err := onlyParam(c.r, "check_id")
	if err != nil {
		return nil, err
	}
	if !security.ValidID(integrity.CheckIDPrefix, id) {
		return nil, security.Invalid("check_id", "must be a check id (chk_…)")
	}
	return func() (reply, error) {
		ch, err := h.integrity.Progress(c.r.Context(), id)
		if err != nil {
			return reply{}, describe(err, security.ErrNotFound, "Check not found")
		}
		d := checkJSON{CheckID: ch.ID, Host: ch.Host, Status: string(ch.Status), FilesTotal: ch.FilesTotal,
			FilesScanned: ch.FilesScanned, ViolationsFound: ch.ViolationsFound,
			DurationMS: ch.Duration.Milliseconds(), StartedAt: timeJSON(ch.StartedAt)}
		if ch.Status != integrity.CheckRunning {
			f := timeJSON(ch.FinishedAt)
			d.FinishedAt = &f
		}
		return reply{data: d, message: "Check progress retrieved"}, nil
	}, nil
}

type diffJSON struct {
	FilePath     string `json:"file_path"`
	Diff         string `json:"diff"`
	LinesAdded   int    `json:"lines_added"`
	LinesRemoved int    `json:"lines_removed"`
	Binary       bool   `json:"binary"`
}

// notDiffed starts the Monitor's explanation of a diff it did not make.
const notDiffed = "not diffed:"

// fileDiff serves GET /api/security/file-diff. data.diff is the Monitor's
// text as it gives it: a unified diff, "Binary files differ", or an
// explanation starting "not diffed:", which is then the message too. An
// alert raised on another machine than this instance's is a 409 naming
// that machine (data.host): only an instance running there can read the
// file.
func (h *Handler) fileDiff(c *call) (func() (reply, error), error) {
	s, err := onlyParam(c.r, "alert_id")
	if err != nil {
		return nil, err
	}
	id, err := positiveInt("alert_id", s, math.MaxInt64, "must be a positive integer")
	if err != nil {
		return nil, err
	}
	return func() (reply, error) {
		d, err := h.integrity.Diff(c.r.Context(), id)
		var other *integrity.OtherHostError
		switch {
		case errors.As(err, &other):
			return reply{}, &publicError{err: err, data: map[string]string{"host": other.Host},
				message: "This alert was raised on host " + other.Host + "; its file can only be diffed there"}
		case err != nil:
			return reply{}, describe(err, security.ErrNotFound, "Alert not found")
		}
		msg := "Diff generated"
		switch {
		case strings.HasPrefix(d.Text, notDiffed):
			msg = d.Text
		case d.Text == "":
			msg = "File content unchanged"
		}
		return reply{data: diffJSON{FilePath: d.FilePath, Diff: d.Text, LinesAdded: d.LinesAdded,
			LinesRemoved: d.LinesRemoved, Binary: d.Binary}, message: msg}, nil
	}, nil
}

// intListField accepts a JSON array (not null) of at most max JSON integer
// literals that fit in an int64 (no fraction, exponent, string, null or
// nested array) into dst. It belongs with the binders of decode.go.
func intListField(name string, dst *[]int64, max int, required bool) field {
	return field{name: name, required: required, decode: func(raw json.RawMessage) error {
		notInts := security.Invalid(name, "must be an array of integers")
		if len(raw) == 0 || raw[0] != '[' {
			return notInts
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil { // '['; raw is valid JSON already
			return notInts
		}
		list := []int64{}
		for dec.More() {
			if len(list) == max {
				return security.Invalidf(name, "must hold at most %d items", max)
			}
			var el json.RawMessage
			if err := dec.Decode(&el); err != nil || !integerLiteral(el) {
				return notInts
			}
			n, err := strconv.ParseInt(string(el), 10, 64)
			if err != nil {
				return security.Invalid(name, "holds an integer out of range")
			}
			list = append(list, n)
		}
		*dst = list
		return nil
	}}
}
