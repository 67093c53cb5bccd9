package integrity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/propops/propsec/security"
)

// maxDescription bounds a deployment's description, in bytes.
const maxDescription = 500

// BeginDeployment opens a planned-deployment window. It first runs a scan
// (waiting for a running check), so that changes made before the window
// still raise their alerts; then changes raise no alerts until
// [Monitor.EndDeployment]. The window is stored, so it survives a restart of
// the host (deployments often restart it). It fails with
// [security.ErrConflict] if a window is open.
func (m *Monitor) BeginDeployment(ctx context.Context, actor Actor, description string) (Deployment, error) {
	desc := security.CleanText(strings.TrimSpace(description), maxDescription)
	if err := m.acquire(ctx, Check{}); err != nil {
		return Deployment{}, err
	}
	defer m.release()
	if d, err := m.cfg.Store.Deployment(ctx); err == nil {
		return Deployment{}, fmt.Errorf("deployment %s is open: %w", d.ID, security.ErrConflict)
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
// accepted into the baseline, and the window ends, in one commit with one
// audit event recording how many entries were accepted, which it returns.
// Not accepted (and alerted on by the next scan): paths that cannot be read,
// and paths still in a changed state a scan alerted on before the window
// opened. A baseline that fails verification is rebuilt from the tree (and a
// baseline_tampered alert raised). It fails with [security.ErrNotFound] when
// no window is open.
func (m *Monitor) EndDeployment(ctx context.Context, actor Actor) (int64, error) {
	if err := m.acquire(ctx, Check{}); err != nil {
		return 0, err
	}
	defer m.release()
	d, ok, err := m.Deployment(ctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("no deployment is open: %w", security.ErrNotFound)
	}
	j, err := m.runHeld(ctx, "", CheckDeploymentEnd, func(ctx context.Context, j *job) error {
		return m.runEnd(ctx, j, d, actor)
	})
	return j.accepted.Load(), err
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
