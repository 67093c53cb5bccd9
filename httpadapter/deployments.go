package httpadapter

import (
	"errors"
	"maps"
	"strconv"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
)

// The deployment endpoints, an extension of the documented API: GET and
// POST /api/security/deployments read, open and close the planned-deployment
// windows of integrity.Monitor (see "Deployments" in the package
// documentation). They are file-integrity endpoints like the others: staff,
// api.security.file_integrity_alerts.manage, CSRF on the POST.

// methods merges the per-method endpoints of one path.
func methods(ms ...map[string]endpoint) map[string]endpoint {
	out := map[string]endpoint{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// deploymentJSON is a deployment window. started_by and ended_by are user
// ids (0: the host application itself); ended_at, ended_by and accepted
// are null while the window is open.
type deploymentJSON struct {
	ID          string  `json:"id"`
	Description string  `json:"description"`
	StartedAt   string  `json:"started_at"`
	StartedBy   int64   `json:"started_by"`
	EndedAt     *string `json:"ended_at"`
	EndedBy     *int64  `json:"ended_by"`
	Accepted    *int64  `json:"accepted"`
}

func openDeploymentJSON(d integrity.Deployment) deploymentJSON {
	return deploymentJSON{ID: d.ID, Description: d.Description, StartedAt: timeJSON(d.StartedAt), StartedBy: d.ActorUserID}
}

func endedDeploymentJSON(d integrity.EndedDeployment) deploymentJSON {
	j := openDeploymentJSON(d.Deployment)
	ended := timeJSON(d.EndedAt)
	j.EndedAt, j.EndedBy, j.Accepted = &ended, &d.EndedByUserID, &d.Accepted
	return j
}

// errRecordUnverified is the message for a stored deployment window that
// fails verification (integrity.Monitor.Deployment): scans ignore it and
// raise a baseline_tampered alert.
const errRecordUnverified = "The stored deployment record failed verification; see the baseline_tampered alert"

// readDeployments serves GET /api/security/deployments: data.open is the
// open window or null, data.recent the latest ended ones, the latest first
// (?limit=, 1 to 100, default 25).
func (h *Handler) readDeployments(c *call) (func() (reply, error), error) {
	q, err := queryValues(c.r)
	if err != nil {
		return nil, err
	}
	if err := allowOnly(q, "limit"); err != nil {
		return nil, err
	}
	limit := integrity.DefaultLimit
	if s, ok := q["limit"]; ok {
		n, err := positiveInt("limit", s, integrity.MaxLimit, "must be between 1 and "+strconv.Itoa(integrity.MaxLimit))
		if err != nil {
			return nil, err
		}
		limit = int(n)
	}
	return func() (reply, error) {
		ctx := c.r.Context()
		d, isOpen, err := h.integrity.Deployment(ctx)
		if err != nil {
			return reply{}, describe(err, security.ErrConflict, errRecordUnverified)
		}
		ended, err := h.integrity.EndedDeployments(ctx, limit)
		if err != nil {
			return reply{}, err
		}
		var open *deploymentJSON
		if isOpen {
			j := openDeploymentJSON(d)
			open = &j
		}
		recent := make([]deploymentJSON, len(ended))
		for i, e := range ended {
			recent[i] = endedDeploymentJSON(e)
		}
		return reply{data: map[string]any{"open": open, "recent": recent}, message: "Deployments retrieved"}, nil
	}, nil
}

// changeDeployment serves POST /api/security/deployments: {"action":
// "begin", "description": "…"} opens a window, {"action": "end"} closes the
// open one.
func (h *Handler) changeDeployment(c *call) (func() (reply, error), error) {
	action, actionField, err := c.action()
	if err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	switch action {
	case "begin":
		var desc string
		if err := c.bind(actionField, stringField("description", &desc, true)); err != nil {
			return nil, err
		}
		desc, err := integrity.CleanDescription(desc)
		if err != nil {
			return nil, err
		}
		return func() (reply, error) {
			d, err := h.integrity.BeginDeployment(ctx, c.actor(), desc)
			var open *integrity.OpenDeploymentError
			switch {
			case errors.As(err, &open):
				return reply{}, &publicError{err: err, message: "Deployment " + open.Open.ID + " is already open",
					data: map[string]any{"deployment": openDeploymentJSON(open.Open)}}
			case err != nil:
				return reply{}, describe(err, security.ErrNotFound, "A monitored root has no baseline yet")
			}
			return reply{data: openDeploymentJSON(d), message: "Deployment started"}, nil
		}, nil
	case "end":
		if err := c.bind(actionField); err != nil {
			return nil, err
		}
		return func() (reply, error) {
			d, err := h.integrity.EndDeployment(ctx, c.actor())
			if err != nil {
				err = describe(err, security.ErrNotFound, "No deployment is open")
				return reply{}, describe(err, security.ErrConflict, "The deployment could not be ended: "+
					"its stored record failed verification, or the baseline changed meanwhile")
			}
			return reply{data: map[string]any{"accepted": d.Accepted, "deployment": endedDeploymentJSON(d)},
				message: "Deployment ended"}, nil
		}, nil
	case "":
		return nil, security.Invalid("action", "is required (begin or end)")
	default:
		return nil, security.Invalid("action", "must be begin or end")
	}
}
