package report

import (
	"strings"
	"time"

	"github.com/propops/propsec/security"
)

// MaxPeriod is the longest period a report covers.
const MaxPeriod = 366 * 24 * time.Hour

// DefaultPeriod is the length of the period when from is not given.
const DefaultPeriod = 7 * 24 * time.Hour

// Period is the span a report covers.
type Period struct {
	// From and To echo the bounds as asked, or the defaults as RFC 3339
	// UTC times to the second (a default from is a date when to is one).
	From string `json:"from"`
	To   string `json:"to"`
	// Start is the first instant counted and End the first instant after
	// the period: events with Start <= time < End are counted.
	Start time.Time `json:"-"`
	End   time.Time `json:"-"`
}

// The years a bound may name: times in them fit the stores' int64
// nanoseconds.
const (
	minYear = 1970
	maxYear = 2261
)

// ParsePeriod reads the from and to of a report request, at time now. Each
// is empty (the default) or an ISO 8601 date (YYYY-MM-DD, a UTC day) or
// date-time with seconds and Z or an offset (RFC 3339). Both bounds are
// inclusive: a date-only to takes in its whole day. to defaults to now
// rounded up to the second, from to [DefaultPeriod] before the end of the
// period (with a date-only to, the seven days ending with it). Bounds the
// caller gave are echoed as given; defaulted ones are RFC 3339 UTC to the
// second (a date alone when to is a date), and sent back they select the
// same span. Every
// error wraps [security.ErrInvalid]: a malformed bound, from after to, or
// a period longer than [MaxPeriod].
func ParsePeriod(from, to string, now time.Time) (Period, error) {
	p := Period{From: from, To: to}
	var err error
	toDate := false
	if to == "" {
		// Now rounded up to the second, so that the echo has the precision
		// of the default from and an event of this very second counts;
		// the echoed bounds, sent back, cover the same span.
		t := now.UTC()
		if r := t.Truncate(time.Second); !r.Equal(t) {
			t = r.Add(time.Second)
		}
		p.To = t.Format(time.RFC3339)
		p.End = t.Add(time.Nanosecond)
	} else {
		var t time.Time
		if t, toDate, err = parseBound("to", to); err != nil {
			return Period{}, err
		}
		if toDate {
			p.End = t.AddDate(0, 0, 1)
		} else {
			p.End = t.Add(time.Nanosecond)
		}
	}
	if from == "" {
		p.Start = p.End.Add(-DefaultPeriod).Truncate(time.Second)
		if epoch := time.Unix(0, 0).UTC(); p.Start.Before(epoch) {
			p.Start = epoch
		}
		if p.From = p.Start.Format(time.RFC3339); toDate {
			p.From = p.Start.Format(time.DateOnly)
		}
	} else if p.Start, _, err = parseBound("from", from); err != nil {
		return Period{}, err
	}
	switch {
	case !p.Start.Before(p.End):
		return Period{}, security.Invalid("from", "must not be after to")
	case p.End.Sub(p.Start) > MaxPeriod+time.Nanosecond:
		return Period{}, security.Invalidf("", "the period must be at most %d days", int(MaxPeriod/(24*time.Hour)))
	}
	return p, nil
}

// parseBound reads one bound, in UTC, and whether it was a date alone.
func parseBound(name, s string) (time.Time, bool, error) {
	const reason = "must be an ISO 8601 date (2024-06-01) or date-time with offset (2024-06-01T10:00:00Z)"
	if len(s) > 40 {
		return time.Time{}, false, security.Invalid(name, reason)
	}
	var t time.Time
	var err error
	dateOnly := len(s) == len(time.DateOnly)
	switch {
	case dateOnly:
		t, err = time.Parse(time.DateOnly, s)
	case len(s) > 10 && s[10] == 'T' && !strings.ContainsAny(s, " \t"):
		t, err = time.Parse(time.RFC3339Nano, s)
	default:
		err = errMalformed
	}
	if err != nil {
		return time.Time{}, false, security.Invalid(name, reason)
	}
	t = t.UTC()
	if y := t.Year(); y < minYear || y > maxYear {
		return time.Time{}, false, security.Invalidf(name, "must be between %d and %d", minYear, maxYear)
	}
	return t, dateOnly, nil
}

var errMalformed = security.Invalid("", "malformed")
