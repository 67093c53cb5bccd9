package integrity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/propops/propsec/security"
)

// MaxDescriptionRunes is the longest deployment description accepted, in
// characters.
const MaxDescriptionRunes = 500

// maxDescriptionBytes bounds a stored description: MaxDescriptionRunes
// characters, each at most 6 bytes once cleaned ([security.CleanText]
// writes a control character as \u00XX), so a description accepted is
// never cut.
const maxDescriptionBytes = 6 * MaxDescriptionRunes

// CleanDescription returns a deployment description as
// [Monitor.BeginDeployment] takes it: trimmed of surrounding white space,
// not empty and at most [MaxDescriptionRunes] characters, or else a
// [security.InvalidError] naming "description". An adapter calls it to
// refuse a bad description before doing anything else.
func CleanDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", security.Invalid("description", "is required")
	case utf8.RuneCountInString(s) > MaxDescriptionRunes:
		return "", security.Invalidf("description", "must be at most %d characters", MaxDescriptionRunes)
	}
	return s, nil
}

// DeploymentEnd is how a deployment window ended.
type DeploymentEnd struct {
	EndedAt time.Time
	// EndedByUserID is who ended it (0: the host).
	EndedByUserID int64
	// Accepted counts the baseline entries the end wrote.
	Accepted int64
}

// EndedDeployment is a deployment window that has ended, as the history
// read by [Monitor.EndedDeployments] keeps it. Its MAC is the one the open
// window had: the history is for display, and the audit events
// (EventDeploymentStarted, EventDeploymentEnded) are the record.
type EndedDeployment struct {
	Deployment
	DeploymentEnd
}

// OpenDeploymentError is the refusal to begin a deployment while one is
// open; it names the open one.
type OpenDeploymentError struct {
	Open Deployment
}

// Error names the open deployment.
func (e *OpenDeploymentError) Error() string {
	return fmt.Sprintf("deployment %s is open", e.Open.ID)
}

// Is makes errors.Is(err, security.ErrConflict) true.
func (e *OpenDeploymentError) Is(target error) bool { return target == security.ErrConflict }

// BeginDeployment opens a planned-deployment window. It first runs a scan
// (waiting for a running check), so that changes made before the window
// still raise their alerts; then changes raise no alerts until
// [Monitor.EndDeployment]. The window is stored, so it survives a restart of
// the host (deployments often restart it). The description is checked by
// [CleanDescription] and stored cleaned by [security.CleanText]. It fails
// with an [*OpenDeploymentError] (a [security.ErrConflict]) if a window is
// open.
func (m *Monitor) BeginDeployment(ctx context.Context, actor Actor, description string) (Deployment, error) {
	desc, err := CleanDescription(description)
	if err != nil {
		return Deployment{}, err
	}
	desc = security.CleanText(desc, maxDescriptionBytes)
	if err := m.acquire(ctx, Check{}); err != nil {
		return Deployment{}, err
	}
	defer m.release()
	if d, err := m.cfg.Store.Deployment(ctx); err == nil {
		return Deployment{}, &OpenDeploymentError{Open: d}
	} else if !errors.Is(err, security.ErrNotFound) {
		return Deployment{}, err
	}
	j, err := m.runHeld(ctx, "", CheckScan, m.runScan)
	if err != nil {
		return Deployment{}, fmt.Errorf("scan before the deployment: %w", err)
	}
	now := m.now()
	d := Deployment{ID: security.NewID(DeploymentIDPrefix), Description: desc, StartedAt: now, ActorUserID: actor.UserID}
	d.MAC = m.keys.deploymentMAC(&d)
	ev := actor.event(EventDeploymentStarted, now, d.ID, map[string]string{"description": desc, "check_id": j.id})
	if err := m.cfg.Store.BeginDeployment(ctx, d, []security.Event{ev}); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// EndDeployment closes the open window: every change since it opened is
// accepted into the baseline, and the window ends and joins the history
// ([Monitor.EndedDeployments]), in one commit with one audit event
// recording how many entries were accepted. It returns the ended window.
// Not accepted (and alerted on by the next scan): paths that cannot be read,
// and paths still in a changed state a scan alerted on before the window
// opened. A baseline that fails verification is rebuilt from the tree (and a
// baseline_tampered alert raised). It fails with [security.ErrNotFound] when
// no window is open.
func (m *Monitor) EndDeployment(ctx context.Context, actor Actor) (EndedDeployment, error) {
	if err := m.acquire(ctx, Check{}); err != nil {
		return EndedDeployment{}, err
	}
	defer m.release()
	d, ok, err := m.Deployment(ctx)
	if err != nil {
		return EndedDeployment{}, err
	}
	if !ok {
		return EndedDeployment{}, fmt.Errorf("no deployment is open: %w", security.ErrNotFound)
	}
	var end DeploymentEnd
	_, err = m.runHeld(ctx, "", CheckDeploymentEnd, func(ctx context.Context, j *job) error {
		var err error
		end, err = m.runEnd(ctx, j, d, actor)
		return err
	})
	if end.EndedAt.IsZero() { // not ended
		return EndedDeployment{}, err
	}
	return EndedDeployment{Deployment: d, DeploymentEnd: end}, err
}

// Deployment returns the open deployment window, if any. A stored window
// that fails verification is an error wrapping [security.ErrConflict]: it
// is ignored by scans, which raise a baseline_tampered alert about it.
func (m *Monitor) Deployment(ctx context.Context) (Deployment, bool, error) {
	d, err := m.cfg.Store.Deployment(ctx)
	if errors.Is(err, security.ErrNotFound) {
		return Deployment{}, false, nil
	}
	if err != nil {
		return Deployment{}, false, err
	}
	if m.keys.deploymentMAC(&d) != d.MAC {
		return Deployment{}, false, fmt.Errorf("deployment record %s failed verification: %w", d.ID, security.ErrConflict)
	}
	return d, true, nil
}

// EndedDeployments returns the most recently ended deployment windows of
// this machine, the latest first: at most limit, 1 to [MaxLimit]; 0 means
// [DefaultLimit].
func (m *Monitor) EndedDeployments(ctx context.Context, limit int) ([]EndedDeployment, error) {
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return nil, security.Invalidf("limit", "must be between 1 and %d", MaxLimit)
	}
	return m.cfg.Store.EndedDeployments(ctx, limit)
}
