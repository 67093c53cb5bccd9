package integrity

import (
	"context"
	"errors"
	"time"

	"github.com/propops/propsec/security"
)

// observe passes x to Config.Observer, if set.
func (m *Monitor) observe(x security.Measurement) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.Observe(x)
	}
}

// observeCheck tells Config.Observer of scan j, which ended with err at
// end. Other kinds of checks (baselines, acceptances) are not measured.
func (m *Monitor) observeCheck(j *job, err error, end time.Time) {
	if m.cfg.Observer == nil || j.kind != CheckScan {
		return
	}
	result := "ok"
	switch {
	case errors.Is(err, context.Canceled):
		result = "canceled"
	case err != nil:
		result = "error"
	}
	m.cfg.Observer.Observe(security.Measurement{Kind: security.KindScan, Result: result,
		N: j.scanned.Load(), Duration: max(end.Sub(j.started), 0)})
}
