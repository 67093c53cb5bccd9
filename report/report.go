package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/propops/propsec/security"
)

// The event types a report counts; see the package documentation.
const (
	EventLoginSucceeded     = security.EventLoginSucceeded
	EventLoginFailed        = security.EventLoginFailed
	EventNewIPVerification  = security.EventNewIPVerification
	EventSessionTerminated  = security.EventSessionTerminated
	EventBlacklistAdded     = security.EventBlacklistAdded
	EventIntegrityViolation = security.EventType("integrity_alert_raised")
	EventBreachDetected     = security.EventPasswordBreachDetected
)

// Types lists the event types a report counts, in the order of its fields.
func Types() []security.EventType {
	return []security.EventType{EventLoginSucceeded, EventLoginFailed, EventNewIPVerification,
		EventSessionTerminated, EventBlacklistAdded, EventIntegrityViolation, EventBreachDetected}
}

// DayCount is the number of events of one type on one UTC day.
type DayCount struct {
	// Day is the UTC midnight starting the day.
	Day   time.Time
	Type  security.EventType
	Count int64
}

// Store counts audit events. memstore, sqlitestore and pgstore implement
// it.
type Store interface {
	// CountEventsByDay returns, for each UTC day and each of types, how
	// many events of that type have from <= time < to. Pairs with no event
	// may be left out; the order is unspecified. It counts in the store
	// (an index on type and time) and loads no event.
	CountEventsByDay(ctx context.Context, from, to time.Time, types []security.EventType) ([]DayCount, error)
}

// Logins counts login attempts.
type Logins struct {
	Successful int64 `json:"successful"`
	Failed     int64 `json:"failed"`
}

// Counts are the figures of a report, over its period or one day.
type Counts struct {
	Logins                   Logins `json:"logins"`
	NewIPVerifications       int64  `json:"new_ip_verifications"`
	SessionsTerminated       int64  `json:"sessions_terminated"`
	BlacklistedUsers         int64  `json:"blacklisted_users"`
	FileIntegrityViolations  int64  `json:"file_integrity_violations"`
	PasswordBreachesDetected int64  `json:"password_breaches_detected"`
}

// add adds n events of type t.
func (c *Counts) add(t security.EventType, n int64) {
	switch t {
	case EventLoginSucceeded:
		c.Logins.Successful += n
	case EventLoginFailed:
		c.Logins.Failed += n
	case EventNewIPVerification:
		c.NewIPVerifications += n
	case EventSessionTerminated:
		c.SessionsTerminated += n
	case EventBlacklistAdded:
		c.BlacklistedUsers += n
	case EventIntegrityViolation:
		c.FileIntegrityViolations += n
	case EventBreachDetected:
		c.PasswordBreachesDetected += n
	}
}

// Day is the counts of one UTC day.
type Day struct {
	// Date is the day, as 2006-01-02.
	Date string `json:"date"`
	Counts
}

// Report is the security report over a period: the seed's fields plus
// Daily.
type Report struct {
	Period Period `json:"period"`
	Counts
	Daily []Day `json:"daily"`
}

// Config configures [New].
type Config struct {
	// Store counts the audit events. Required.
	Store Store
	// Clock gives "now" for the default period; nil means the system
	// clock.
	Clock security.Clock
}

// Generator builds reports. It is safe for concurrent use.
type Generator struct {
	store Store
	clock security.Clock
}

// New returns a Generator for cfg.
func New(cfg Config) (*Generator, error) {
	if cfg.Store == nil {
		return nil, errors.New("report: Config.Store is required")
	}
	return &Generator{store: cfg.Store, clock: cfg.Clock}, nil
}

// Generate parses from and to with [ParsePeriod] (empty strings take the
// defaults) and returns the report over that period. A bad period gives an
// error wrapping [security.ErrInvalid].
func (g *Generator) Generate(ctx context.Context, from, to string) (*Report, error) {
	p, err := ParsePeriod(from, to, security.Now(g.clock))
	if err != nil {
		return nil, err
	}
	return g.Build(ctx, p)
}

// Build returns the report over p, a period from [ParsePeriod].
func (g *Generator) Build(ctx context.Context, p Period) (*Report, error) {
	if !p.Start.Before(p.End) {
		return nil, security.Invalid("to", "must not be before from")
	}
	counts, err := g.store.CountEventsByDay(ctx, p.Start, p.End, Types())
	if err != nil {
		return nil, fmt.Errorf("report: counting events: %w", err)
	}
	r := &Report{Period: p}
	first := p.Start.UTC().Truncate(24 * time.Hour)
	n := int((p.End.Sub(first) + 24*time.Hour - 1) / (24 * time.Hour))
	r.Daily = make([]Day, n)
	for i := range r.Daily {
		r.Daily[i].Date = first.AddDate(0, 0, i).Format(time.DateOnly)
	}
	for _, dc := range counts {
		r.Counts.add(dc.Type, dc.Count)
		i := int(dc.Day.UTC().Sub(first) / (24 * time.Hour))
		if i >= 0 && i < n {
			r.Daily[i].add(dc.Type, dc.Count)
		}
	}
	return r, nil
}
